//! Forward convolution.

use rayon::prelude::*;

use super::gemm::{gemm, view, view_mut};
use super::im2col::im2col_rows;
use super::scratch::with_col;
use super::{ConvGeometry, ConvMethod, ConvPass, direct, row_bands, split_over_images, tile_rows};
use crate::KernelError;

/// `y = conv2d(x, weight)` without bias.
///
/// # Shapes
/// `x`: `[N, C, H, W]`, `weight`: `[O, C, kh, kw]` (PyTorch layout), both contiguous row-major;
/// returns `[N, O, Ho, Wo]` (see [`ConvGeometry`]).
///
/// # Errors
/// [`KernelError::BufferLength`] when a slice does not match the geometry.
pub fn conv2d_forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Result<Vec<f32>, KernelError> {
    conv2d_forward_using(ConvMethod::choose(g, ConvPass::Forward), g, x, weight)
}

/// [`conv2d_forward`] by a given method (for benchmarks and parity tests).
///
/// # Errors
/// As [`conv2d_forward`], and [`KernelError::Geometry`] when `method` cannot take `g`
/// ([`ConvMethod::direct_unsupported`]).
pub fn conv2d_forward_using(
    method: ConvMethod,
    g: &ConvGeometry,
    x: &[f32],
    weight: &[f32],
) -> Result<Vec<f32>, KernelError> {
    g.check_len("x", g.batch * g.image_len(), x.len())?;
    g.check_len("weight", g.weight_len(), weight.len())?;
    if method == ConvMethod::Direct {
        if let Some(why) = ConvMethod::direct_unsupported(g, ConvPass::Forward) {
            return Err(KernelError::Geometry(why));
        }
        return Ok(direct::forward(g, x, weight));
    }
    let (k, p, o) = (g.col_rows(), g.out_positions(), g.out_channels);
    let mut y = vec![0.0f32; g.batch * g.out_image_len()];
    let w = view(weight, o, k);
    let one_image = |x_n: &[f32], y_n: &mut [f32], threads: usize| {
        if g.is_pointwise() {
            gemm(view_mut(y_n, o, p), false, w, view(x_n, k, p), threads);
        } else {
            // Lower a band of output rows at a time, small enough to stay in cache while the
            // GEMM reads it; each band's product lands in its columns of Y_n.
            let ow = g.output[1];
            with_col(k * tile_rows(g) * ow, |col| {
                let mut y_mat = view_mut(y_n, o, p);
                for rows in row_bands(g) {
                    let (first, cols) = (rows.start * ow, rows.len() * ow);
                    let col = &mut col[..k * cols];
                    im2col_rows(g, x_n, rows, col);
                    gemm(
                        y_mat.as_mut().submatrix_mut(0, first, o, cols),
                        false,
                        w,
                        view(col, k, cols),
                        threads,
                    );
                }
            });
        }
    };
    if split_over_images(g.batch) {
        y.par_chunks_mut(g.out_image_len())
            .zip(x.par_chunks(g.image_len()))
            .for_each(|(y_n, x_n)| one_image(x_n, y_n, 1));
    } else {
        let threads = rayon::current_num_threads();
        for (y_n, x_n) in y.chunks_mut(g.out_image_len()).zip(x.chunks(g.image_len())) {
            one_image(x_n, y_n, threads);
        }
    }
    Ok(y)
}
