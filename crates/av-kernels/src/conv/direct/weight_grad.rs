//! The direct weight gradient: for each tap and block of `OB` output channels, the products of
//! the output gradient and the tap's input segments, accumulated `8 V8` columns at a time.

use rayon::prelude::*;

use super::Blocking;
use super::dispatch::{Kernel, Lanes, dispatch};
use super::layout::{Layout, round_up};
use crate::conv::ConvGeometry;
use crate::conv::scratch::with_col;

/// `dW = sum_n dY_n * X_n` for a geometry the direct kernels take ([`super::check`]).
pub(crate) fn weight_grad(g: &ConvGeometry, x: &[f32], grad: &[f32]) -> Vec<f32> {
    match Blocking::for_outputs(g.out_channels, g.output[1]) {
        Blocking::Wide => weight_grad_with::<4, 2>(g, x, grad),
        Blocking::Narrow8 => weight_grad_with::<8, 1>(g, x, grad),
        Blocking::Narrow4 => weight_grad_with::<4, 1>(g, x, grad),
    }
}

/// Accumulators of `OB` channels x `V8` vectors of 8 columns. One partial sum per group of
/// images (one group per thread), each image of a group padded in turn into the thread's
/// scratch buffer, so a thread holds one padded image at a time; then the partial sums' total.
fn weight_grad_with<const OB: usize, const V8: usize>(g: &ConvGeometry, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let layout = Layout::new(g, 8 * V8);
    let offsets = layout.tap_offsets(g);
    let [ho, wo] = g.output;
    let wo_r = round_up(wo, 8 * V8);
    let groups = rayon::current_num_threads().clamp(1, g.batch);
    let per = g.batch.div_ceil(groups);
    let dy_image_len = g.out_channels * ho * wo_r;
    let mut parts = vec![0.0f32; groups * g.weight_len()];
    parts.par_chunks_mut(g.weight_len()).enumerate().for_each(|(t, dw)| {
        // The output gradient of one image with rows padded to whole vectors, [O, Ho, Wo_r]:
        // the gradient itself when its rows already are (the stems' 64 and 32 columns).
        let mut rows = if wo == wo_r { Vec::new() } else { vec![0.0f32; dy_image_len] };
        for n in (t * per).min(g.batch)..((t + 1) * per).min(g.batch) {
            let dy = &grad[n * g.out_image_len()..(n + 1) * g.out_image_len()];
            let dyp = if wo == wo_r {
                dy
            } else {
                for (dst, src) in rows.chunks_exact_mut(wo_r).zip(dy.chunks_exact(wo)) {
                    dst[..wo].copy_from_slice(src);
                }
                &rows[..]
            };
            with_col(layout.image_len(), |xp| {
                layout.fill(g, &x[n * g.image_len()..(n + 1) * g.image_len()], xp);
                for b in 0..g.out_channels / OB {
                    dispatch(TapSums::<OB, V8> {
                        g,
                        offsets: &offsets,
                        row_step: layout.row_step(g),
                        xp,
                        image_len: layout.image_len(),
                        dy: dyp,
                        dy_image_len,
                        block: b,
                        dw: &mut dw[b * OB * g.col_rows()..(b + 1) * OB * g.col_rows()],
                    });
                }
            });
        }
    });
    let (first, rest) = parts.split_at_mut(g.weight_len());
    for other in rest.chunks_exact(g.weight_len()) {
        for (a, b) in first.iter_mut().zip(other) {
            *a += *b;
        }
    }
    parts.truncate(g.weight_len());
    parts
}

/// A group of images' contribution to the weight gradient of one block of output channels.
struct TapSums<'a, const OB: usize, const V8: usize> {
    g: &'a ConvGeometry,
    /// [`Layout::tap_offsets`].
    offsets: &'a [usize],
    /// [`Layout::row_step`].
    row_step: usize,
    /// The images, padded ([`Layout`]).
    xp: &'a [f32],
    /// Elements of one padded image.
    image_len: usize,
    /// The images' output gradients, rows padded with zeros: `[n, O, Ho, Wo_r]`.
    dy: &'a [f32],
    /// Elements of one image's padded output gradient.
    dy_image_len: usize,
    /// Which block of `OB` output channels.
    block: usize,
    /// This block's weight gradient, `[OB, C kh kw]`, added to.
    dw: &'a mut [f32],
}

impl<const OB: usize, const V8: usize> Kernel for TapSums<'_, OB, V8> {
    type Output = ();

    #[inline(always)]
    fn run<L: Lanes>(self, lanes: L) {
        let [ho, wo] = self.g.output;
        let (taps, wo_r) = (self.g.col_rows(), round_up(wo, 8 * V8));
        let images = self.xp.len() / self.image_len.max(1);
        for (t, &off) in self.offsets.iter().enumerate() {
            let mut acc = [[lanes.zero(); V8]; OB];
            for n in 0..images {
                let (xp_n, dy_n) =
                    (n * self.image_len + off, (n * self.dy_image_len) + self.block * OB * ho * wo_r);
                for oh in 0..ho {
                    let base = xp_n + oh * self.row_step;
                    for ow0 in (0..wo_r).step_by(8 * V8) {
                        let mut xv = [lanes.zero(); V8];
                        for (k, v) in xv.iter_mut().enumerate() {
                            *v = lanes
                                .load(self.xp[base + ow0 + 8 * k..].first_chunk().expect("layout reach"));
                        }
                        for (q, lane) in acc.iter_mut().enumerate() {
                            let at = dy_n + (q * ho + oh) * wo_r + ow0;
                            for (k, (a, v)) in lane.iter_mut().zip(&xv).enumerate() {
                                let d = lanes.load(self.dy[at + 8 * k..].first_chunk().expect("padded rows"));
                                *a = lanes.madd(d, *v, *a);
                            }
                        }
                    }
                }
            }
            for (q, lane) in acc.iter().enumerate() {
                let sum: f32 = lane.iter().map(|v| lanes.store(*v).iter().sum::<f32>()).sum();
                self.dw[q * taps + t] += sum;
            }
        }
    }
}
