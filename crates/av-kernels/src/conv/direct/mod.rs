//! Direct convolution for narrow layers: no lowered matrix.
//!
//! A layer with few output channels does only a few multiply-adds per element of its lowered
//! matrix (`im2col` writes `C kh kw` copies of the input, and the GEMM reads them back for 8 to
//! 32 output rows), so on the compact trunks the lowering, not the product, is the cost. Here the
//! input is copied once, zero-padded and split into column phases ([`layout`]); each output tile
//! of `OB` channels x `V` columns is then accumulated in registers over every tap `(c, i, j)`,
//! one vector load of the input and `OB` weights per tap ([`forward`]). The weight gradient
//! accumulates `OB x V` products of the output gradient and the same input vectors, one tap at a
//! time ([`weight_grad`]). The input gradient of a stride-1 layer is itself a direct forward
//! convolution: of the output gradient with the weight transposed to `[C, O, kh, kw]` and
//! flipped, padded by `k - 1 - p` ([`input_grad`]).
//!
//! Which layers take this path is decided by [`super::ConvMethod::choose`]; the rule and the
//! timings behind it are in `docs/performance.md`.

mod dispatch;
mod forward;
mod layout;
mod weight_grad;

pub(crate) use forward::forward;
pub(crate) use weight_grad::weight_grad;

use rayon::prelude::*;

use super::ConvGeometry;
use crate::KernelError;
use layout::Layout;

/// Register tiles: `OB` output channels x `V` output columns (`Wide`: 4 x 16, eight AVX2
/// registers of accumulators; for rows of 8 columns or fewer, `Narrow8`: 8 x 8 when the
/// channels allow, else `Narrow4`: 4 x 8).
#[derive(Debug, Clone, Copy)]
enum Blocking {
    Wide,
    Narrow8,
    Narrow4,
}

impl Blocking {
    fn for_outputs(channels: usize, out_width: usize) -> Self {
        if out_width > 8 {
            Self::Wide
        } else if channels.is_multiple_of(8) {
            Self::Narrow8
        } else {
            Self::Narrow4
        }
    }
}

/// Why the direct kernels cannot take `g` (for the forward pass and the weight gradient), if
/// they cannot: dilation, or output channels that are not a multiple of 4.
pub(crate) fn unsupported(g: &ConvGeometry) -> Option<String> {
    if g.dilation != [1, 1] {
        return Some(format!("dilation {:?} (the direct kernels take dilation 1)", g.dilation));
    }
    if !g.out_channels.is_multiple_of(4) {
        return Some(format!("{} output channels (the direct kernels take multiples of 4)", g.out_channels));
    }
    None
}

/// The stride-1 convolution whose forward pass is the input gradient of `g`, if the direct
/// kernels can compute it that way: `dY [N, O, Ho, Wo]` convolved with the flipped weight
/// `[C, O, kh, kw]` and padding `k - 1 - p`, which gives `[N, C, H, W]`.
pub(crate) fn input_grad_geometry(g: &ConvGeometry) -> Result<ConvGeometry, String> {
    if g.stride != [1, 1] {
        return Err(format!("stride {:?} (the direct input gradient takes stride 1)", g.stride));
    }
    let [kh, kw] = g.kernel;
    let [ph, pw] = g.padding;
    if ph >= kh || pw >= kw {
        return Err(format!("padding {:?} not below the kernel {:?}", g.padding, g.kernel));
    }
    let t = ConvGeometry::new(
        [g.batch, g.out_channels, g.output[0], g.output[1]],
        [g.in_channels, g.out_channels, kh, kw],
        [1, 1],
        [kh - 1 - ph, kw - 1 - pw],
        g.dilation,
    )
    .map_err(|e| e.to_string())?;
    if t.output != g.input {
        return Err(format!("transposed output {:?} differs from the input {:?}", t.output, g.input));
    }
    if let Some(why) = unsupported(&t) {
        return Err(why);
    }
    Ok(t)
}

/// `dX` of `g` as the direct forward convolution of `grad` ([`input_grad_geometry`]).
pub(crate) fn input_grad(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Result<Vec<f32>, KernelError> {
    let t = input_grad_geometry(g).map_err(KernelError::Geometry)?;
    let [kh, kw] = g.kernel;
    let (o_n, c_n) = (g.out_channels, g.in_channels);
    let mut flipped = vec![0.0f32; weight.len()];
    for o in 0..o_n {
        for c in 0..c_n {
            for i in 0..kh {
                for j in 0..kw {
                    flipped[((c * o_n + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] =
                        weight[((o * c_n + c) * kh + i) * kw + j];
                }
            }
        }
    }
    Ok(forward(&t, grad, &flipped))
}

/// Runs `f` on the whole batch `x` (`[N, C, H, W]`) in the padded layout, filled one image per
/// rayon task into this thread's scratch buffer (reused across calls, as the lowered path's).
fn with_padded_batch<R>(g: &ConvGeometry, layout: &Layout, x: &[f32], f: impl FnOnce(&[f32]) -> R) -> R {
    super::scratch::with_col(g.batch * layout.image_len(), |xp| {
        xp.par_chunks_mut(layout.image_len())
            .zip(x.par_chunks(g.image_len()))
            .for_each(|(dst, x_n)| layout.fill(g, x_n, dst));
        f(xp)
    })
}
