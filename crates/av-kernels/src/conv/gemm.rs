//! The matrix products of the convolution, through faer's packed GEMM (AVX2 / AVX-512 kernels
//! picked at run time), so no SIMD code lives here; each product ends by clearing the upper
//! register halves faer's kernels leave in use ([`crate::upper_state`]).

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// A row-major `rows x cols` view of `data`.
pub(crate) fn view(data: &[f32], rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// A mutable row-major `rows x cols` view of `data`.
pub(crate) fn view_mut(data: &mut [f32], rows: usize, cols: usize) -> MatMut<'_, f32> {
    MatMut::from_row_major_slice_mut(data, rows, cols)
}

/// `dst = lhs rhs` (or `dst += lhs rhs` when `accumulate`), on `threads` threads.
pub(crate) fn gemm(
    dst: MatMut<'_, f32>,
    accumulate: bool,
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    threads: usize,
) {
    let accum = if accumulate { Accum::Add } else { Accum::Replace };
    let par = if threads <= 1 { Par::Seq } else { Par::rayon(threads) };
    matmul(dst, accum, lhs, rhs, 1.0f32, par);
    // faer's assembly kernels leave the upper register halves in use, which slows every later
    // legacy-SSE instruction on Intel (crate::upper_state).
    crate::upper_state::after_gemm(threads > 1);
}
