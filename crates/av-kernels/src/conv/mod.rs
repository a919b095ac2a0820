//! 2-D convolution on plain `f32` slices (NCHW), forward and both gradients, lowered to GEMMs.
//!
//! * forward, per image: `Y_n [O, Ho Wo] = W [O, C kh kw] . col(X_n) [C kh kw, Ho Wo]`;
//! * input gradient, per image: `col2im(W^T . dY_n)`;
//! * weight gradient: `dW = sum_n dY_n . col(X_n)^T`, one partial sum per thread.
//!
//! A 1x1 stride-1 unpadded convolution skips the lowering (the image is its own matrix).
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
