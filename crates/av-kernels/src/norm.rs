//! Batch normalisation over NCHW `f32` buffers in two passes per direction.
//!
//! Burn's generic `batch_norm_train` builds the statistics out of tensor operations (a
//! transposed copy of the activation for each of the two means, a centred copy, a square) and
//! its backward out of about ten more full passes. These kernels read the activation once for
//! the statistics and once to normalise it, and the backward reads `x` and `dy` once for the two
//! per-channel sums and once more to write `dx`. Channels run in parallel on rayon.
//!
//! Semantics are Burn's (and PyTorch's in training mode): the statistics are the batch mean and
//! the *biased* variance over `N x H x W` for every channel,
//! `y = (x - mean) / sqrt(var + eps) * gamma + beta`.

use rayon::prelude::*;

use crate::KernelError;

/// Elements summed in `f32` before the partial sum is added to an `f64` accumulator.
const BLOCK: usize = 256;

/// The shape `[N, C, spatial]` of an activation, checked against the buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormShape {
    /// Batch size `N`.
    pub batch: usize,
    /// Channels `C`.
    pub channels: usize,
    /// Elements per channel and image (`H x W` for images).
    pub spatial: usize,
}

impl NormShape {
    /// A shape from the dimensions of a tensor `[N, C, ...]` (at least 2 dimensions).
    ///
    /// # Errors
    /// [`KernelError::Shape`] for fewer than two dimensions or an empty tensor.
    pub fn from_dims(dims: &[usize]) -> Result<Self, KernelError> {
        if dims.len() < 2 || dims.contains(&0) {
            return Err(KernelError::Shape(format!(
                "batch norm needs a non-empty [N, C, ...] tensor, got dims {dims:?}"
            )));
        }
        Ok(Self { batch: dims[0], channels: dims[1], spatial: dims[2..].iter().product() })
    }

    /// `N x C x spatial`.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.spatial
    }

    /// Always false: [`NormShape::from_dims`] rejects empty tensors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Samples per channel, `N x spatial`.
    fn per_channel(&self) -> usize {
        self.batch * self.spatial
    }

    fn check(&self, name: &'static str, want: usize, got: usize) -> Result<(), KernelError> {
        if want == got {
            Ok(())
        } else {
            Err(KernelError::BufferLength { name, expected: want, actual: got })
        }
    }

    /// The `N` contiguous runs of channel `c` in a buffer of this shape.
    fn runs<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
        let (cs, s) = (self.channels * self.spatial, self.spatial);
        (0..self.batch).map(move |n| &data[n * cs + c * s..n * cs + (c + 1) * s])
    }
}

/// `(sum x, sum x^2)` of a slice, eight `f32` lanes per block of [`BLOCK`], blocks added in `f64`.
fn sum_and_squares(x: &[f32]) -> (f64, f64) {
    let (mut s, mut q) = (0.0f64, 0.0f64);
    for block in x.chunks(BLOCK) {
        let (mut ls, mut lq) = ([0.0f32; 8], [0.0f32; 8]);
        let lanes = block.chunks_exact(8);
        let tail = lanes.remainder();
        for v in lanes {
            for i in 0..8 {
                ls[i] += v[i];
                lq[i] += v[i] * v[i];
            }
        }
        s += ls.iter().map(|&v| f64::from(v)).sum::<f64>() + tail.iter().map(|&v| f64::from(v)).sum::<f64>();
        q += lq.iter().map(|&v| f64::from(v)).sum::<f64>()
            + tail.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
    }
    (s, q)
}

/// `(sum dy, sum dy (x - mean))` of two slices, same blocking as [`sum_and_squares`].
fn grad_sums(x: &[f32], dy: &[f32], mean: f32) -> (f64, f64) {
    let (mut s, mut p) = (0.0f64, 0.0f64);
    for (xb, gb) in x.chunks(BLOCK).zip(dy.chunks(BLOCK)) {
        let (mut ls, mut lp) = ([0.0f32; 8], [0.0f32; 8]);
        let (xl, gl) = (xb.chunks_exact(8), gb.chunks_exact(8));
        let (xt, gt) = (xl.remainder(), gl.remainder());
        for (xv, gv) in xl.zip(gl) {
            for i in 0..8 {
                ls[i] += gv[i];
                lp[i] += gv[i] * (xv[i] - mean);
            }
        }
        s += ls.iter().map(|&v| f64::from(v)).sum::<f64>() + gt.iter().map(|&v| f64::from(v)).sum::<f64>();
        p += lp.iter().map(|&v| f64::from(v)).sum::<f64>()
            + xt.iter().zip(gt).map(|(&xv, &gv)| f64::from(gv) * f64::from(xv - mean)).sum::<f64>();
    }
    (s, p)
}

/// Applies `y = (x - mean[c]) scale[c] + beta[c]` channel by channel into a fresh buffer
/// (centring first keeps the precision when `scale` is large, e.g. a near-constant channel).
fn affine(shape: &NormShape, x: &[f32], mean: &[f32], scale: &[f32], beta: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    // Parallel over (image, channel) planes: contiguous, and enough of them for every layer.
    y.par_chunks_mut(shape.spatial).zip(x.par_chunks(shape.spatial)).enumerate().for_each(
        |(i, (dst, src))| {
            let c = i % shape.channels;
            let (mu, a, b) = (mean[c], scale[c], beta[c]);
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = (v - mu) * a + b;
            }
        },
    );
    y
}

/// The result of [`batch_norm_train`]: the normalised activation and the batch statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormTrainOutput {
    /// `[N, C, spatial]`, like the input.
    pub output: Vec<f32>,
    /// Batch mean per channel, `[C]`.
    pub mean: Vec<f32>,
    /// Biased batch variance per channel, `[C]`.
    pub variance: Vec<f32>,
}

/// Training-mode batch norm: batch statistics, then `y = (x - mean) / sqrt(var + eps) gamma + beta`.
///
/// # Shapes
/// `x`: `[N, C, spatial]` row-major, `gamma`, `beta`: `[C]`.
///
/// # Errors
/// [`KernelError::BufferLength`] when a buffer does not match `shape`.
pub fn batch_norm_train(
    shape: &NormShape,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
) -> Result<BatchNormTrainOutput, KernelError> {
    shape.check("x", shape.len(), x.len())?;
    shape.check("gamma", shape.channels, gamma.len())?;
    shape.check("beta", shape.channels, beta.len())?;
    let m = shape.per_channel() as f64;
    let stats: Vec<(f32, f32)> = (0..shape.channels)
        .into_par_iter()
        .map(|c| {
            let (s, q) =
                shape.runs(x, c).map(sum_and_squares).fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
            let mean = s / m;
            ((mean) as f32, (q / m - mean * mean).max(0.0) as f32)
        })
        .collect();
    let (mean, variance): (Vec<f32>, Vec<f32>) = stats.into_iter().unzip();
    let scale = scales(&variance, gamma, epsilon);
    Ok(BatchNormTrainOutput { output: affine(shape, x, &mean, &scale, beta), mean, variance })
}

/// Per-channel `scale = gamma / sqrt(var + eps)`.
fn scales(variance: &[f32], gamma: &[f32], epsilon: f64) -> Vec<f32> {
    variance
        .iter()
        .zip(gamma)
        .map(|(&v, &g)| (f64::from(g) / (f64::from(v) + epsilon).sqrt()) as f32)
        .collect()
}

/// Inference-mode batch norm with given statistics (the running mean and variance).
///
/// # Shapes
/// `x`: `[N, C, spatial]`; `gamma`, `beta`, `mean`, `variance`: `[C]`.
///
/// # Errors
/// [`KernelError::BufferLength`] when a buffer does not match `shape`.
pub fn batch_norm_eval(
    shape: &NormShape,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
) -> Result<Vec<f32>, KernelError> {
    shape.check("x", shape.len(), x.len())?;
    for (name, v) in [("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)] {
        shape.check(name, shape.channels, v.len())?;
    }
    Ok(affine(shape, x, mean, &scales(variance, gamma, epsilon), beta))
}

/// Gradients of [`batch_norm_train`] with respect to `x`, `gamma` and `beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormGradients {
    /// `[N, C, spatial]`.
    pub x: Vec<f32>,
    /// `[C]`.
    pub gamma: Vec<f32>,
    /// `[C]`.
    pub beta: Vec<f32>,
}

/// Backward of [`batch_norm_train`], given the statistics it returned and the output gradient:
/// `dx = gamma / sigma (dy - mean(dy) - xhat mean(dy xhat))`, `dgamma = sum dy xhat`,
/// `dbeta = sum dy` with `xhat = (x - mean) / sigma`, `sigma = sqrt(var + eps)`.
///
/// # Shapes
/// `x`, `grad`: `[N, C, spatial]`; `gamma`, `mean`, `variance`: `[C]`.
///
/// # Errors
/// [`KernelError::BufferLength`] when a buffer does not match `shape`.
pub fn batch_norm_train_backward(
    shape: &NormShape,
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
    grad: &[f32],
) -> Result<BatchNormGradients, KernelError> {
    shape.check("x", shape.len(), x.len())?;
    shape.check("grad", shape.len(), grad.len())?;
    for (name, v) in [("gamma", gamma), ("mean", mean), ("variance", variance)] {
        shape.check(name, shape.channels, v.len())?;
    }
    let m = shape.per_channel() as f64;
    let sums: Vec<(f64, f64)> = (0..shape.channels)
        .into_par_iter()
        .map(|c| {
            shape
                .runs(x, c)
                .zip(shape.runs(grad, c))
                .map(|(xr, gr)| grad_sums(xr, gr, mean[c]))
                .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        })
        .collect();
    let mut beta_grad = Vec::with_capacity(shape.channels);
    let mut gamma_grad = Vec::with_capacity(shape.channels);
    // dx = a dy + b (x - mean) + k per channel, with inv = 1 / sigma:
    // a = gamma inv, b = -gamma inv^3 sum(dy (x - mean)) / M, k = -a sum(dy) / M.
    let mut coeffs = Vec::with_capacity(shape.channels);
    for c in 0..shape.channels {
        let (sum_dy, sum_dy_centred) = sums[c];
        let inv = 1.0 / (f64::from(variance[c]) + epsilon).sqrt();
        let g = f64::from(gamma[c]);
        beta_grad.push(sum_dy as f32);
        gamma_grad.push((sum_dy_centred * inv) as f32);
        let a = g * inv;
        let b = -g * inv * inv * inv * sum_dy_centred / m;
        let k = -a * sum_dy / m;
        coeffs.push((a as f32, b as f32, k as f32, mean[c]));
    }
    let s = shape.spatial;
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(s).zip(x.par_chunks(s).zip(grad.par_chunks(s))).enumerate().for_each(
        |(i, (dst, (xs, gs)))| {
            let (a, b, k, mu) = coeffs[i % shape.channels];
            for ((d, &xv), &gv) in dst.iter_mut().zip(xs).zip(gs) {
                *d = a * gv + b * (xv - mu) + k;
            }
        },
    );
    Ok(BatchNormGradients { x: dx, gamma: gamma_grad, beta: beta_grad })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 4.0 - 1.5
            })
            .collect()
    }

    /// Straightforward f64 reference of the forward pass and of the gradients.
    fn reference(
        shape: &NormShape,
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        dy: &[f32],
        eps: f64,
    ) -> [Vec<f64>; 5] {
        let (n, c_n, s) = (shape.batch, shape.channels, shape.spatial);
        let idx = |n_: usize, c: usize, i: usize| (n_ * c_n + c) * s + i;
        let m = (n * s) as f64;
        let (mut y, mut dx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let (mut dg, mut db, mut var_out) = (vec![0.0; c_n], vec![0.0; c_n], vec![0.0; c_n]);
        for c in 0..c_n {
            let all: Vec<(usize, f64)> = (0..n)
                .flat_map(|n_| (0..s).map(move |i| idx(n_, c, i)))
                .map(|j| (j, f64::from(x[j])))
                .collect();
            let mean = all.iter().map(|p| p.1).sum::<f64>() / m;
            let var = all.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / m;
            var_out[c] = var;
            let sigma = (var + eps).sqrt();
            let g = f64::from(gamma[c]);
            let mut sdy = 0.0;
            let mut sdyx = 0.0;
            for &(j, v) in &all {
                let xh = (v - mean) / sigma;
                y[j] = xh * g + f64::from(beta[c]);
                sdy += f64::from(dy[j]);
                sdyx += f64::from(dy[j]) * xh;
            }
            db[c] = sdy;
            dg[c] = sdyx;
            for &(j, v) in &all {
                let xh = (v - mean) / sigma;
                dx[j] = g / sigma * (f64::from(dy[j]) - sdy / m - xh * sdyx / m);
            }
        }
        [y, dx, dg, db, var_out]
    }

    fn max_err(a: &[f32], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn forward_and_backward_match_the_f64_reference() {
        for (n, c, s) in [(2, 3, 5), (4, 8, 300), (1, 2, 1), (3, 1, 17)] {
            let shape = NormShape::from_dims(&[n, c, s]).expect("shape");
            let x: Vec<f32> = data(shape.len(), 1).iter().map(|v| v * 3.0 + 2.0).collect();
            let dy = data(shape.len(), 2);
            let gamma = data(c, 3);
            let beta = data(c, 4);
            let [y, dx, dg, db, var] = reference(&shape, &x, &gamma, &beta, &dy, 1e-5);
            let out = batch_norm_train(&shape, &x, &gamma, &beta, 1e-5).expect("forward");
            assert!(max_err(&out.output, &y) < 1e-5, "y {n} {c} {s}: {}", max_err(&out.output, &y));
            assert!(max_err(&out.variance, &var) < 1e-5);
            let g = batch_norm_train_backward(&shape, &x, &gamma, &out.mean, &out.variance, 1e-5, &dy)
                .expect("backward");
            assert!(max_err(&g.x, &dx) < 1e-4, "dx {n} {c} {s}: {}", max_err(&g.x, &dx));
            assert!(max_err(&g.gamma, &dg) < 1e-3, "dgamma: {}", max_err(&g.gamma, &dg));
            assert!(max_err(&g.beta, &db) < 1e-3, "dbeta: {}", max_err(&g.beta, &db));
        }
    }

    #[test]
    fn eval_uses_the_given_statistics() {
        let shape = NormShape::from_dims(&[2, 2, 3]).expect("shape");
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let y = batch_norm_eval(&shape, &x, &[2.0, 1.0], &[0.5, -1.0], &[1.0, 4.0], &[4.0, 1.0], 0.0)
            .expect("eval");
        // Channel 0: (x - 1) / 2 * 2 + 0.5; channel 1: (x - 4) - 1.
        assert_eq!(y, vec![0.5, 1.5, 2.5, -1.0, 0.0, 1.0, 6.5, 7.5, 8.5, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn mismatched_buffers_and_empty_shapes_are_errors() {
        assert!(NormShape::from_dims(&[2]).is_err());
        assert!(NormShape::from_dims(&[2, 0, 3]).is_err());
        let shape = NormShape::from_dims(&[1, 2, 2]).expect("shape");
        assert!(batch_norm_train(&shape, &[0.0; 3], &[1.0; 2], &[0.0; 2], 1e-5).is_err());
        assert!(batch_norm_train(&shape, &[0.0; 4], &[1.0; 3], &[0.0; 2], 1e-5).is_err());
    }
}
