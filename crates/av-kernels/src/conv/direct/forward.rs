//! The direct forward convolution: output tiles of `OB` channels x `8 V8` columns accumulated in
//! registers over every tap.

use rayon::prelude::*;

use super::dispatch::{Kernel, Lanes, dispatch};
use super::layout::{Layout, round_up};
use super::{Blocking, with_padded_batch};
use crate::conv::ConvGeometry;
use crate::conv::scratch::with_col;

/// `y = conv2d(x, weight)` for a geometry the direct kernels take ([`super::check`]).
pub(crate) fn forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    match Blocking::for_outputs(g.out_channels, g.output[1]) {
        Blocking::Wide => forward_with::<4, 2>(g, x, weight),
        Blocking::Narrow8 => forward_with::<8, 1>(g, x, weight),
        Blocking::Narrow4 => forward_with::<4, 1>(g, x, weight),
    }
}

/// Tiles of `OB` channels x `V8` vectors of 8 columns.
///
/// With at least as many images as threads, each rayon task pads one image into its thread's
/// scratch buffer and computes all its output channels, so a thread holds one padded image at
/// a time; with fewer images (inference), the batch is padded once and the tasks are (image,
/// block of channels) pairs, so every thread has work.
fn forward_with<const OB: usize, const V8: usize>(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Vec<f32> {
    let layout = Layout::new(g, 8 * V8);
    let taps = g.col_rows();
    // Weights of each block of OB output channels, tap-major: [O / OB][C kh kw][OB].
    let mut packed = vec![0.0f32; g.weight_len()];
    for (b, block) in packed.chunks_exact_mut(taps * OB).enumerate() {
        for (t, lanes) in block.chunks_exact_mut(OB).enumerate() {
            for (q, lane) in lanes.iter_mut().enumerate() {
                *lane = weight[(b * OB + q) * taps + t];
            }
        }
    }
    let offsets = layout.tap_offsets(g);
    let [ho, wo] = g.output;
    let blocks = g.out_channels / OB;
    let tiles = |xp: &[f32], b: usize, y_block: &mut [f32]| {
        dispatch(Tiles::<OB, V8> {
            g,
            offsets: &offsets,
            row_step: layout.row_step(g),
            xp,
            weights: &packed[b * taps * OB..(b + 1) * taps * OB],
            y: y_block,
        })
    };
    let mut y = vec![0.0f32; g.batch * g.out_image_len()];
    if g.batch >= rayon::current_num_threads() {
        y.par_chunks_mut(g.out_image_len()).zip(x.par_chunks(g.image_len())).for_each(|(y_n, x_n)| {
            with_col(layout.image_len(), |xp| {
                layout.fill(g, x_n, xp);
                for (b, y_block) in y_n.chunks_mut(OB * ho * wo).enumerate() {
                    tiles(xp, b, y_block);
                }
            })
        });
    } else {
        with_padded_batch(g, &layout, x, |xp| {
            y.par_chunks_mut(OB * ho * wo).enumerate().for_each(|(unit, y_block)| {
                let (n, b) = (unit / blocks, unit % blocks);
                tiles(&xp[n * layout.image_len()..(n + 1) * layout.image_len()], b, y_block);
            });
        });
    }
    y
}

/// Every output tile of one image and one block of output channels.
struct Tiles<'a, const OB: usize, const V8: usize> {
    g: &'a ConvGeometry,
    /// [`Layout::tap_offsets`].
    offsets: &'a [usize],
    /// [`Layout::row_step`].
    row_step: usize,
    /// The image, padded ([`Layout`]).
    xp: &'a [f32],
    /// This block's packed weights, `[C kh kw][OB]`.
    weights: &'a [f32],
    /// This block's output, `[OB, Ho, Wo]`.
    y: &'a mut [f32],
}

impl<const OB: usize, const V8: usize> Kernel for Tiles<'_, OB, V8> {
    type Output = ();

    #[inline(always)]
    fn run<L: Lanes>(self, lanes: L) {
        let [ho, wo] = self.g.output;
        for oh in 0..ho {
            for ow0 in (0..round_up(wo, 8 * V8)).step_by(8 * V8) {
                let base = oh * self.row_step + ow0;
                let mut acc = [[lanes.zero(); V8]; OB];
                for (&off, w) in self.offsets.iter().zip(self.weights.chunks_exact(OB)) {
                    let mut xv = [lanes.zero(); V8];
                    for (k, v) in xv.iter_mut().enumerate() {
                        *v = lanes.load(self.xp[base + off + 8 * k..].first_chunk().expect("layout reach"));
                    }
                    for (q, lane) in acc.iter_mut().enumerate() {
                        let wq = lanes.splat(w[q]);
                        for (a, v) in lane.iter_mut().zip(&xv) {
                            *a = lanes.madd(wq, *v, *a);
                        }
                    }
                }
                for (q, lane) in acc.iter().enumerate() {
                    for (k, v) in lane.iter().enumerate() {
                        let col = ow0 + 8 * k;
                        if col >= wo {
                            break;
                        }
                        let valid = 8.min(wo - col);
                        let row = (q * ho + oh) * wo + col;
                        self.y[row..row + valid].copy_from_slice(&lanes.store(*v)[..valid]);
                    }
                }
            }
        }
    }
}
