//! 2-D convolution on plain `f32` slices (NCHW), forward and both gradients, lowered to GEMMs.
//!
//! * forward, per image: `Y_n [O, Ho Wo] = W [O, C kh kw] . col(X_n) [C kh kw, Ho Wo]`;
//! * input gradient, per image: `col2im(W^T . dY_n)`;
//! * weight gradient: `dW = sum_n dY_n . col(X_n)^T`, one partial sum per thread.
//!
//! A 1x1 stride-1 unpadded convolution skips the lowering (the image is its own matrix). A
//! narrow layer (under 32 output channels, where the lowering rather than the GEMM is the cost)
//! is lowered one band of output rows at a time, so each band stays in cache for its GEMM.
//! Work is split over images when the batch fills the rayon pool, else the GEMM itself runs
//! on all threads. Narrow layers can instead run [`ConvMethod::Direct`], a direct convolution
//! without any lowered matrix ([`direct`]); [`ConvMethod::choose`] is the measured rule. These
//! functions never touch Burn; [`crate::ConvKernels`] routes Burn's tensors to them.

mod backward;
mod depthwise;
mod direct;
mod forward;
mod gemm;
mod geometry;
mod im2col;
#[cfg(test)]
mod reference;
mod scratch;

pub use backward::{
    conv2d_input_grad, conv2d_input_grad_using, conv2d_weight_grad, conv2d_weight_grad_using,
};
pub use depthwise::{depthwise_forward, depthwise_geometry, depthwise_input_grad, depthwise_weight_grad};
pub use forward::{conv2d_forward, conv2d_forward_using};
pub use geometry::ConvGeometry;

/// The three passes of a convolution, each of which picks its own [`ConvMethod`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPass {
    /// `y = conv2d(x, w)`.
    Forward,
    /// `dx` from `dy` and `w`.
    InputGrad,
    /// `dw` from `x` and `dy`.
    WeightGrad,
}

/// How a pass of a convolution is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvMethod {
    /// Lowered to faer GEMMs (`im2col` / `col2im`, banded for narrow layers). Takes every
    /// geometry.
    Lowered,
    /// The direct kernels: dilation 1, channels on the output side of the pass a multiple of 4
    /// (for the input gradient also stride 1 and padding below the kernel size).
    Direct,
}

/// Kernels at least this large (the 7x7 stems) go direct in the forward pass, and in the weight
/// gradient when narrow: their lowered matrix is `kh kw` = 49 copies of the input (measured:
/// forward 0.29-0.36x the lowered time for 8 output channels, 0.8x for the paper's 64; weight
/// gradient 0.84-0.89x for 8 channels but slower for 64; `docs/performance.md`).
pub const DIRECT_MIN_KERNEL_AREA: usize = 25;

/// Stride-1 layers with at most this many channels on the output side of the pass (output
/// channels for the forward pass, input channels for the input gradient) go direct (measured on
/// the compact trunks: 0.57-1.13x the lowered time, 0.80x summed; wider layers 0.9-1.7x).
pub const DIRECT_MAX_CHANNELS: usize = 16;

impl ConvMethod {
    /// The method the plain entry points ([`conv2d_forward`], ...) use for `pass` of `g`, a
    /// rule read off the per-layer timings of `cargo bench --bench kernels -- conv_method/`:
    /// [`ConvMethod::Direct`] where the direct kernels take the pass and it is the forward
    /// pass of a kernel of at least [`DIRECT_MIN_KERNEL_AREA`] taps, the weight gradient of
    /// such a kernel with at most [`DIRECT_MAX_CHANNELS`] output channels, or the forward pass
    /// or input gradient of a stride-1 layer with at most [`DIRECT_MAX_CHANNELS`] channels on
    /// its output side (the direct weight gradient of 3x3 layers measured 1.3-5.7x slower, so
    /// it stays lowered); [`ConvMethod::Lowered`] everywhere else, 1x1 stride-1 layers included
    /// (they need no lowering).
    pub fn choose(g: &ConvGeometry, pass: ConvPass) -> Self {
        if g.is_pointwise() || Self::direct_unsupported(g, pass).is_some() {
            return Self::Lowered;
        }
        let large = g.kernel[0] * g.kernel[1] >= DIRECT_MIN_KERNEL_AREA;
        let narrow = |channels: usize| channels <= DIRECT_MAX_CHANNELS;
        let stride1 = g.stride == [1, 1];
        let direct = match pass {
            ConvPass::Forward => large || (stride1 && narrow(g.out_channels)),
            ConvPass::InputGrad => stride1 && narrow(g.in_channels),
            ConvPass::WeightGrad => large && narrow(g.out_channels),
        };
        if direct { Self::Direct } else { Self::Lowered }
    }

    /// Why [`ConvMethod::Direct`] cannot compute `pass` of `g`, if it cannot.
    pub fn direct_unsupported(g: &ConvGeometry, pass: ConvPass) -> Option<String> {
        match pass {
            ConvPass::Forward | ConvPass::WeightGrad => direct::unsupported(g),
            ConvPass::InputGrad => direct::input_grad_geometry(g).err(),
        }
    }
}

/// How to spread a batch over the rayon pool: over images (each GEMM on one thread) when there
/// are enough of them to keep every thread busy, else one image at a time with threaded GEMMs.
fn split_over_images(batch: usize) -> bool {
    let threads = rayon::current_num_threads();
    threads > 1 && (batch.is_multiple_of(threads) || batch >= 4 * threads)
}

/// Lowered-matrix elements per band (1 MiB of f32): large enough for full-speed GEMMs, small
/// enough to stay in a core's L2 / L3 slice between the lowering and the product.
const TILE_ELEMS: usize = 256 * 1024;

/// Below this many output channels the GEMM does fewer multiply-adds per lowered element than
/// it takes to write and re-read that element, so the lowering's memory traffic is the cost
/// and banding pays; above it (every layer of the paper-size trunks) one full matrix measured
/// as fast or faster.
const NARROW_OUT_CHANNELS: usize = 32;

/// The bands of output rows a layer is lowered in, in order: one band of every row for wide
/// layers, else bands of [`tile_rows`] rows (the last one possibly shorter).
fn row_bands(g: &ConvGeometry) -> impl Iterator<Item = std::ops::Range<usize>> {
    let (band, rows) = (tile_rows(g), g.output[0]);
    (0..rows).step_by(band).map(move |start| start..(start + band).min(rows))
}

/// Output rows per band of the lowered matrix: all of them for wide layers, else as many as
/// fit [`TILE_ELEMS`], at least one.
fn tile_rows(g: &ConvGeometry) -> usize {
    let rows = g.output[0].max(1);
    if g.out_channels >= NARROW_OUT_CHANNELS {
        return rows;
    }
    let per_row = g.col_rows() * g.output[1];
    (TILE_ELEMS / per_row.max(1)).clamp(1, rows)
}
