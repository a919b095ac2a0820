//! Gradients of the convolution with respect to its input and its weight.

use rayon::prelude::*;

use super::gemm::{gemm, view, view_mut};
use super::im2col::{col2im_add_rows, im2col_rows};
use super::scratch::with_col;
use super::{ConvGeometry, ConvMethod, ConvPass, direct, row_bands, split_over_images, tile_rows};
use crate::KernelError;

/// Gradient of `conv2d(x, weight)` with respect to `x`, given the output gradient.
///
/// # Shapes
/// `grad`: `[N, O, Ho, Wo]`, `weight`: `[O, C, kh, kw]`; returns `[N, C, H, W]`.
///
/// # Errors
/// [`KernelError::BufferLength`] when a slice does not match the geometry.
pub fn conv2d_input_grad(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Result<Vec<f32>, KernelError> {
    conv2d_input_grad_using(ConvMethod::choose(g, ConvPass::InputGrad), g, grad, weight)
}

/// [`conv2d_input_grad`] by a given method (for benchmarks and parity tests).
///
/// # Errors
/// As [`conv2d_input_grad`], and [`KernelError::Geometry`] when `method` cannot take `g`
/// ([`ConvMethod::direct_unsupported`]).
pub fn conv2d_input_grad_using(
    method: ConvMethod,
    g: &ConvGeometry,
    grad: &[f32],
    weight: &[f32],
) -> Result<Vec<f32>, KernelError> {
    g.check_len("grad", g.batch * g.out_image_len(), grad.len())?;
    g.check_len("weight", g.weight_len(), weight.len())?;
    if method == ConvMethod::Direct {
        return direct::input_grad(g, grad, weight);
    }
    let (k, p, o) = (g.col_rows(), g.out_positions(), g.out_channels);
    let mut dx = vec![0.0f32; g.batch * g.image_len()];
    let w_t = view(weight, o, k).transpose();
    let one_image = |dy_n: &[f32], dx_n: &mut [f32], threads: usize| {
        if g.is_pointwise() {
            gemm(view_mut(dx_n, k, p), false, w_t, view(dy_n, o, p), threads);
        } else {
            // One band of output rows at a time (see the forward pass).
            let (ow, dy) = (g.output[1], view(dy_n, o, p));
            with_col(k * tile_rows(g) * ow, |col| {
                for rows in row_bands(g) {
                    let (first, cols) = (rows.start * ow, rows.len() * ow);
                    let col = &mut col[..k * cols];
                    gemm(view_mut(col, k, cols), false, w_t, dy.submatrix(0, first, o, cols), threads);
                    col2im_add_rows(g, col, rows, dx_n);
                }
            });
        }
    };
    if split_over_images(g.batch) {
        dx.par_chunks_mut(g.image_len())
            .zip(grad.par_chunks(g.out_image_len()))
            .for_each(|(dx_n, dy_n)| one_image(dy_n, dx_n, 1));
    } else {
        let threads = rayon::current_num_threads();
        for (dx_n, dy_n) in dx.chunks_mut(g.image_len()).zip(grad.chunks(g.out_image_len())) {
            one_image(dy_n, dx_n, threads);
        }
    }
    Ok(dx)
}

/// Gradient of `conv2d(x, weight)` with respect to `weight`, given the output gradient.
///
/// # Shapes
/// `x`: `[N, C, H, W]`, `grad`: `[N, O, Ho, Wo]`; returns `[O, C, kh, kw]`.
///
/// # Errors
/// [`KernelError::BufferLength`] when a slice does not match the geometry.
pub fn conv2d_weight_grad(g: &ConvGeometry, x: &[f32], grad: &[f32]) -> Result<Vec<f32>, KernelError> {
    conv2d_weight_grad_using(ConvMethod::choose(g, ConvPass::WeightGrad), g, x, grad)
}

/// [`conv2d_weight_grad`] by a given method (for benchmarks and parity tests).
///
/// # Errors
/// As [`conv2d_weight_grad`], and [`KernelError::Geometry`] when `method` cannot take `g`
/// ([`ConvMethod::direct_unsupported`]).
pub fn conv2d_weight_grad_using(
    method: ConvMethod,
    g: &ConvGeometry,
    x: &[f32],
    grad: &[f32],
) -> Result<Vec<f32>, KernelError> {
    g.check_len("x", g.batch * g.image_len(), x.len())?;
    g.check_len("grad", g.batch * g.out_image_len(), grad.len())?;
    if method == ConvMethod::Direct {
        if let Some(why) = ConvMethod::direct_unsupported(g, ConvPass::WeightGrad) {
            return Err(KernelError::Geometry(why));
        }
        return Ok(direct::weight_grad(g, x, grad));
    }
    let (k, p, o) = (g.col_rows(), g.out_positions(), g.out_channels);
    // Images [start, end) summed into `dw` (overwritten first).
    let partial = |start: usize, end: usize, dw: &mut [f32], threads: usize| {
        for n in start..end {
            let x_n = &x[n * g.image_len()..(n + 1) * g.image_len()];
            let dy_n = &grad[n * g.out_image_len()..(n + 1) * g.out_image_len()];
            let mut dw_mat = view_mut(dw, o, k);
            if g.is_pointwise() {
                gemm(dw_mat, n > start, view(dy_n, o, p), view(x_n, k, p).transpose(), threads);
            } else {
                let (ow, dy) = (g.output[1], view(dy_n, o, p));
                with_col(k * tile_rows(g) * ow, |col| {
                    for rows in row_bands(g) {
                        let (first, cols) = (rows.start * ow, rows.len() * ow);
                        // The first product of this thread's partial sum overwrites `dw`.
                        let accumulate = n > start || first > 0;
                        let col = &mut col[..k * cols];
                        im2col_rows(g, x_n, rows, col);
                        let dy_band = dy.submatrix(0, first, o, cols);
                        gemm(dw_mat.as_mut(), accumulate, dy_band, view(col, k, cols).transpose(), threads);
                    }
                });
            }
        }
    };
    let threads = rayon::current_num_threads();
    if split_over_images(g.batch) {
        let per = g.batch.div_ceil(threads);
        let mut parts = vec![0.0f32; threads * g.weight_len()];
        parts.par_chunks_mut(g.weight_len()).enumerate().for_each(|(t, dw)| {
            let (start, end) = (t * per, ((t + 1) * per).min(g.batch));
            if start < end {
                partial(start, end, dw, 1);
            } else {
                dw.fill(0.0);
            }
        });
        let (first, rest) = parts.split_at_mut(g.weight_len());
        for other in rest.chunks(g.weight_len()) {
            for (a, b) in first.iter_mut().zip(other) {
                *a += *b;
            }
        }
        parts.truncate(g.weight_len());
        Ok(parts)
    } else {
        let mut dw = vec![0.0f32; g.weight_len()];
        partial(0, g.batch, &mut dw, threads);
        Ok(dw)
    }
}
