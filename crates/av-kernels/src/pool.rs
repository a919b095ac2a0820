//! Max pooling over NCHW `f32` buffers, forward (with or without the argmax of every window)
//! and backward, planes in parallel on rayon.
//!
//! Burn's CPU pooling is one generic 3-D loop that recomputes each window's clipped range with
//! divisions and writes an `i64` index for every output; on the compact audio trunk's stem
//! (batch 16, 8 x 126 x 32 -> 8 x 63 x 16) it took 4.5 ms, about a quarter of the trunk's
//! forward pass. Here each window's row and column ranges are precomputed once per plane.
//!
//! Semantics are Burn's and PyTorch's: the window of output `(oh, ow)` covers rows
//! `oh * stride - padding ..+ kernel` and the same for columns, clipped to the input (padding
//! never wins); the maximum is the first one in row-major order, except that a NaN always
//! takes over (the last NaN of the window), so NaN propagates. The index of an output is the
//! flat position `ih * W + iw` of its maximum within its `H x W` plane, as Burn's indices are.

use rayon::prelude::*;

use crate::KernelError;

/// The geometry of a 2-D max pooling (dilation 1, output size rounded down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    /// Batch size `N`.
    pub batch: usize,
    /// Channels `C`.
    pub channels: usize,
    /// Input height and width `[H, W]`.
    pub input: [usize; 2],
    /// Window `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Padding `[ph, pw]` on both sides; padded positions never win (they are not zeros).
    pub padding: [usize; 2],
}

impl PoolShape {
    /// A checked geometry.
    ///
    /// # Errors
    /// [`KernelError::Geometry`] for an empty input, a zero window or stride, padding above half
    /// the window (PyTorch's rule: a window could then hold padding only) or a window larger
    /// than the padded input.
    pub fn new(
        dims: [usize; 4],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Self, KernelError> {
        let [batch, channels, h, w] = dims;
        let fail = |why: String| Err(KernelError::Geometry(why));
        if dims.contains(&0) {
            return fail(format!("max pooling needs a non-empty [N, C, H, W] input, got {dims:?}"));
        }
        if kernel.contains(&0) || stride.contains(&0) {
            return fail(format!(
                "max pooling needs a non-zero window and stride, got {kernel:?} / {stride:?}"
            ));
        }
        for axis in 0..2 {
            if 2 * padding[axis] > kernel[axis] {
                return fail(format!("padding {padding:?} is more than half the window {kernel:?}"));
            }
            if [h, w][axis] + 2 * padding[axis] < kernel[axis] {
                return fail(format!("window {kernel:?} larger than the padded input {:?}", [h, w]));
            }
        }
        Ok(Self { batch, channels, input: [h, w], kernel, stride, padding })
    }

    /// Output height and width `[Ho, Wo]`: `(H + 2p - k) / s + 1` per axis.
    pub fn output(&self) -> [usize; 2] {
        [0, 1].map(|a| (self.input[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1)
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.batch * self.channels * self.input[0] * self.input[1]
    }

    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        let [ho, wo] = self.output();
        self.batch * self.channels * ho * wo
    }

    /// The clipped input range `[start, end)` of each output position along one axis.
    fn windows(&self, axis: usize) -> Vec<(usize, usize)> {
        let (k, s, p, n) = (self.kernel[axis], self.stride[axis], self.padding[axis], self.input[axis]);
        (0..self.output()[axis])
            .map(|o| {
                let start = o * s;
                (start.max(p) - p, (start + k).min(n + p) - p)
            })
            .collect()
    }

    fn check(&self, name: &'static str, expected: usize, actual: usize) -> Result<(), KernelError> {
        if expected == actual { Ok(()) } else { Err(KernelError::BufferLength { name, expected, actual }) }
    }
}

/// The maximum of one window and its plane index.
#[inline(always)]
fn window_max(plane: &[f32], width: usize, rows: (usize, usize), cols: (usize, usize)) -> (f32, usize) {
    let mut best_at = rows.0 * width + cols.0;
    let mut best = plane[best_at];
    for r in rows.0..rows.1 {
        let row = &plane[r * width..(r + 1) * width];
        for (c, &v) in row.iter().enumerate().take(cols.1).skip(cols.0) {
            if v > best || v.is_nan() {
                best = v;
                best_at = r * width + c;
            }
        }
    }
    (best, best_at)
}

fn pool_planes(
    shape: &PoolShape,
    x: &[f32],
    out: &mut [f32],
    indices: Option<&mut [i64]>,
) -> Result<(), KernelError> {
    shape.check("x", shape.input_len(), x.len())?;
    shape.check("output", shape.output_len(), out.len())?;
    let [h, w] = shape.input;
    let [ho, wo] = shape.output();
    let (rows, cols) = (shape.windows(0), shape.windows(1));
    let plane_in = h * w;
    let plane_out = ho * wo;
    let one_plane = |(plane, out): (&[f32], &mut [f32]), mut idx: Option<&mut [i64]>| {
        for (oh, &r) in rows.iter().enumerate() {
            for (ow, &c) in cols.iter().enumerate() {
                let (v, at) = window_max(plane, w, r, c);
                out[oh * wo + ow] = v;
                if let Some(idx) = idx.as_deref_mut() {
                    idx[oh * wo + ow] = at as i64;
                }
            }
        }
    };
    let planes = x.par_chunks(plane_in).zip(out.par_chunks_mut(plane_out));
    match indices {
        Some(idx) => {
            shape.check("indices", shape.output_len(), idx.len())?;
            planes.zip(idx.par_chunks_mut(plane_out)).for_each(|(p, i)| one_plane(p, Some(i)));
        }
        None => planes.for_each(|p| one_plane(p, None)),
    }
    Ok(())
}

/// Max pooling: `[N, C, H, W]` -> `[N, C, Ho, Wo]` ([`PoolShape::output`]).
///
/// # Errors
/// [`KernelError::BufferLength`] when `x` does not hold `shape`'s input.
pub fn max_pool2d(shape: &PoolShape, x: &[f32]) -> Result<Vec<f32>, KernelError> {
    let mut out = vec![0.0; shape.output_len()];
    pool_planes(shape, x, &mut out, None)?;
    Ok(out)
}

/// [`max_pool2d`] and, for every output, the plane index `ih * W + iw` of its maximum.
///
/// # Errors
/// As [`max_pool2d`].
pub fn max_pool2d_with_indices(shape: &PoolShape, x: &[f32]) -> Result<(Vec<f32>, Vec<i64>), KernelError> {
    let mut out = vec![0.0; shape.output_len()];
    let mut indices = vec![0; shape.output_len()];
    pool_planes(shape, x, &mut out, Some(&mut indices))?;
    Ok((out, indices))
}

/// The input gradient of [`max_pool2d_with_indices`]: each output's gradient added at its
/// maximum, zero elsewhere. `grad` and `indices` are `[N, C, Ho, Wo]`; returns `[N, C, H, W]`.
///
/// # Errors
/// [`KernelError::BufferLength`] for buffers that do not fit `shape`;
/// [`KernelError::Shape`] for an index outside its `H x W` plane.
pub fn max_pool2d_backward(
    shape: &PoolShape,
    grad: &[f32],
    indices: &[i64],
) -> Result<Vec<f32>, KernelError> {
    shape.check("grad", shape.output_len(), grad.len())?;
    shape.check("indices", shape.output_len(), indices.len())?;
    let plane_in = shape.input[0] * shape.input[1];
    if let Some(bad) = indices.iter().find(|&&i| i < 0 || i as usize >= plane_in) {
        return Err(KernelError::Shape(format!(
            "max-pool index {bad} outside the {}x{} plane",
            shape.input[0], shape.input[1]
        )));
    }
    let [ho, wo] = shape.output();
    let plane_out = ho * wo;
    let mut dx = vec![0.0; shape.input_len()];
    dx.par_chunks_mut(plane_in).zip(grad.par_chunks(plane_out).zip(indices.par_chunks(plane_out))).for_each(
        |(dx, (g, idx))| {
            for (&g, &i) in g.iter().zip(idx) {
                dx[i as usize] += g;
            }
        },
    );
    Ok(dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output at a time, in Burn's scan order.
    fn reference(shape: &PoolShape, x: &[f32]) -> (Vec<f32>, Vec<i64>) {
        let [h, w] = shape.input;
        let [ho, wo] = shape.output();
        let (mut out, mut idx) = (vec![], vec![]);
        for plane in x.chunks(h * w) {
            for oh in 0..ho {
                for ow in 0..wo {
                    let (mut best, mut at) = (f32::NEG_INFINITY, -1i64);
                    for kh in 0..shape.kernel[0] {
                        for kw in 0..shape.kernel[1] {
                            let ih = (oh * shape.stride[0] + kh) as i64 - shape.padding[0] as i64;
                            let iw = (ow * shape.stride[1] + kw) as i64 - shape.padding[1] as i64;
                            if ih < 0 || iw < 0 || ih >= h as i64 || iw >= w as i64 {
                                continue;
                            }
                            let v = plane[ih as usize * w + iw as usize];
                            if at < 0 || v > best || v.is_nan() {
                                best = v;
                                at = ih * w as i64 + iw;
                            }
                        }
                    }
                    out.push(best);
                    idx.push(at);
                }
            }
        }
        (out, idx)
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                // Coarse values with many ties (as after a ReLU: a third are zero).
                ((s % 7) as f32 - 2.0).max(0.0)
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_with_ties_and_nan() {
        let cases = [
            ([2, 3, 9, 7], [3, 3], [2, 2], [1, 1]),
            ([1, 2, 8, 8], [2, 2], [2, 2], [0, 0]),
            ([2, 1, 5, 11], [3, 2], [1, 3], [1, 1]),
            ([1, 1, 4, 4], [4, 4], [1, 1], [2, 2]),
            ([3, 2, 126, 32], [3, 3], [2, 2], [1, 1]),
        ];
        for (i, (dims, kernel, stride, padding)) in cases.into_iter().enumerate() {
            let shape = PoolShape::new(dims, kernel, stride, padding).expect("valid");
            let mut x = values(shape.input_len(), 0x9e37_79b9 + i as u32);
            x[3] = f32::NAN;
            x[shape.input_len() / 2] = f32::NAN;
            let (want, want_idx) = reference(&shape, &x);
            let (got, got_idx) = max_pool2d_with_indices(&shape, &x).expect("pool");
            assert_eq!(got_idx, want_idx, "indices of case {i}");
            let same = |a: &f32, b: &f32| a == b || (a.is_nan() && b.is_nan());
            assert!(got.iter().zip(&want).all(|(a, b)| same(a, b)), "values of case {i}");
            let plain = max_pool2d(&shape, &x).expect("pool");
            assert!(plain.iter().zip(&want).all(|(a, b)| same(a, b)), "values without indices, case {i}");

            let grad: Vec<f32> = (0..shape.output_len()).map(|j| j as f32 * 0.5 - 3.0).collect();
            let dx = max_pool2d_backward(&shape, &grad, &got_idx).expect("backward");
            let mut want_dx = vec![0.0f32; shape.input_len()];
            let plane_in = shape.input[0] * shape.input[1];
            let plane_out = shape.output()[0] * shape.output()[1];
            for (j, (&g, &at)) in grad.iter().zip(&want_idx).enumerate() {
                want_dx[(j / plane_out) * plane_in + at as usize] += g;
            }
            assert_eq!(dx, want_dx, "gradient of case {i}");
        }
    }

    #[test]
    fn bad_geometry_and_buffers_are_typed_errors() {
        assert!(matches!(
            PoolShape::new([1, 1, 0, 4], [2, 2], [1, 1], [0, 0]),
            Err(KernelError::Geometry(_))
        ));
        assert!(matches!(
            PoolShape::new([1, 1, 4, 4], [3, 3], [0, 1], [0, 0]),
            Err(KernelError::Geometry(_))
        ));
        assert!(matches!(
            PoolShape::new([1, 1, 4, 4], [3, 3], [1, 1], [2, 1]),
            Err(KernelError::Geometry(_))
        ));
        assert!(matches!(
            PoolShape::new([1, 1, 2, 2], [5, 5], [1, 1], [1, 1]),
            Err(KernelError::Geometry(_))
        ));
        let shape = PoolShape::new([1, 1, 4, 4], [2, 2], [2, 2], [0, 0]).expect("valid");
        assert!(matches!(max_pool2d(&shape, &[0.0; 15]), Err(KernelError::BufferLength { name: "x", .. })));
        let bad = max_pool2d_backward(&shape, &[1.0; 4], &[0, 1, 16, 3]);
        assert!(matches!(bad, Err(KernelError::Shape(_))));
    }
}
