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
//! on all threads. These functions never touch Burn; [`crate::ConvKernels`] routes Burn's
//! tensors to them.

mod backward;
mod forward;
mod gemm;
mod geometry;
mod im2col;
#[cfg(test)]
mod reference;
mod scratch;

pub use backward::{conv2d_input_grad, conv2d_weight_grad};
pub use forward::conv2d_forward;
pub use geometry::ConvGeometry;

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
