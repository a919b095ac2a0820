//! The soft-masked mean of similarity rows (LVS's tri-map score) over `f32` buffers, forward
//! and backward, one pass per row, row blocks in parallel on rayon.
//!
//! Each row of `P` similarities `s_p` is scored by `Σ_p w_p s_p / Σ_p w_p` with the detached
//! soft mask `w_p = σ(z_p) / max_q σ(z_q)`, `z_p = ±(s_p - eps) / soft` (`-` for the complement
//! `1 - σ(·)`). Written with tensor operations this is about a dozen full passes over the
//! `[M, N, P]` similarities forward and as many backward (av-align's per-position loss spent
//! 10 ms of a 54 ms training step there); here the forward reads every similarity twice (its
//! row's largest `z`, then the weights and the two sums) and the backward writes
//! `d s_p = d out * w_p / Σ_q w_q` from the normalised weights the forward kept.
//!
//! Semantics are those of the tensor version in `av-alignment` (two regimes, see
//! [`SoftMask::plain_sigmoid`]): `σ` and `log σ` are computed as Burn's flex backend computes
//! them, the rescaling divides by the row's largest mask (`σ` is monotone, so that is the mask
//! of the row's largest `z`), and the two sums of a row are accumulated in `f64`. A NaN
//! similarity makes its row's output NaN.

use rayon::prelude::*;

use crate::KernelError;

/// Largest `|z|` for which `σ(z)` is a normal `f32` (`σ(-80) ≈ 1.8e-35`): settings with
/// `(1 + |eps|) / soft` at most this take the plain-sigmoid regime ([`SoftMask::plain_sigmoid`]).
pub const SIGMOID_SAFE: f32 = 80.0;

/// Elements one rayon task handles at least (whole rows): one `exp` costs a few nanoseconds,
/// so smaller tasks would cost more to schedule than to compute.
const TASK_ELEMENTS: usize = 8192;

/// The detached soft mask of [`soft_masked_mean`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftMask {
    eps: f32,
    soft: f32,
    complement: bool,
}

impl SoftMask {
    /// The mask `σ(±(s - eps) / soft)`: `eps` is the similarity at which it is one half, `soft`
    /// its width (similarity units), `complement` turns it into `1 - σ((s - eps) / soft)`
    /// (high below `eps`).
    ///
    /// # Errors
    /// [`KernelError::Setting`] for a non-finite `eps` or a `soft` that is not finite and `> 0`.
    pub fn new(eps: f32, soft: f32, complement: bool) -> Result<Self, KernelError> {
        if !eps.is_finite() || !soft.is_finite() || soft <= 0.0 {
            return Err(KernelError::Setting(format!(
                "a soft mask needs a finite eps and a finite soft > 0, got eps {eps} soft {soft}"
            )));
        }
        Ok(Self { eps, soft, complement })
    }

    /// True when `(1 + |eps|) / soft <= SIGMOID_SAFE`: for similarities of unit vectors
    /// (`|s| <= 1`) `σ(z)` cannot underflow, so the mask is `σ(clamp(z, ±80)) / max σ`.
    /// Otherwise it is `exp(log σ(z) - max log σ)`, which never underflows to an all-zero row.
    pub fn plain_sigmoid(&self) -> bool {
        (1.0 + self.eps.abs()) / self.soft <= SIGMOID_SAFE
    }

    /// `z = ±(s - eps) / soft`.
    #[inline]
    fn z(&self, s: f32) -> f32 {
        let z = (s - self.eps) / self.soft;
        if self.complement { -z } else { z }
    }

    /// Calls `f(p, w_p)` with the rescaled mask (largest value 1) of every position of `row`.
    #[inline]
    fn for_each_weight(&self, row: &[f32], mut f: impl FnMut(usize, f32)) {
        let z_max = row.iter().map(|&s| self.z(s)).fold(f32::NEG_INFINITY, f32::max);
        if self.plain_sigmoid() {
            let inv_top = 1.0 / sigmoid(z_max.clamp(-SIGMOID_SAFE, SIGMOID_SAFE));
            for (p, &s) in row.iter().enumerate() {
                f(p, sigmoid(self.z(s).clamp(-SIGMOID_SAFE, SIGMOID_SAFE)) * inv_top);
            }
        } else {
            let top = log_sigmoid(z_max);
            for (p, &s) in row.iter().enumerate() {
                f(p, (log_sigmoid(self.z(s)) - top).exp());
            }
        }
    }

    /// `(Σ_p w_p s_p, Σ_p w_p)` of one row, in `f64`.
    fn row_sums(&self, row: &[f32]) -> (f64, f64) {
        let (mut weighted, mut total) = (0.0f64, 0.0f64);
        self.for_each_weight(row, |p, w| {
            weighted += f64::from(w) * f64::from(row[p]);
            total += f64::from(w);
        });
        (weighted, total)
    }
}

/// `σ(x)`, as Burn's flex backend computes it in `f32`.
#[inline]
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log σ(x)`, as Burn's flex backend computes it in `f32` (never `-inf` for finite `x`).
#[inline]
fn log_sigmoid(x: f32) -> f32 {
    if x >= 0.0 { -(-x).exp().ln_1p() } else { x - x.exp().ln_1p() }
}

/// Rows of `positions` similarities, checked against the buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowShape {
    /// Rows (`A x B` of an `[A, B, P]` tensor); may be 0.
    pub rows: usize,
    /// Positions `P` per row, at least 1.
    pub positions: usize,
}

impl RowShape {
    /// The rows of a tensor whose last dimension holds the positions (`[A, B, P]` ->
    /// `A B` rows of `P`).
    ///
    /// # Errors
    /// [`KernelError::Shape`] for a tensor without dimensions or without positions.
    pub fn from_dims(dims: &[usize]) -> Result<Self, KernelError> {
        match dims.split_last() {
            Some((&positions, rest)) if positions > 0 => Ok(Self { rows: rest.iter().product(), positions }),
            _ => Err(KernelError::Shape(format!(
                "a soft-masked mean needs positions on the last axis, got dims {dims:?}"
            ))),
        }
    }

    /// Elements of the similarities (`rows x positions`).
    pub fn len(&self) -> usize {
        self.rows * self.positions
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Rows per rayon task: at least [`TASK_ELEMENTS`] elements, at least one row.
    fn rows_per_task(&self) -> usize {
        TASK_ELEMENTS.div_ceil(self.positions).max(1)
    }

    fn check(&self, name: &'static str, expected: usize, actual: usize) -> Result<(), KernelError> {
        if expected == actual { Ok(()) } else { Err(KernelError::BufferLength { name, expected, actual }) }
    }
}

/// `out[r] = Σ_p w_p s_p / Σ_p w_p` for every row `r` of `sim` (`rows x positions`, row-major):
/// `rows` values.
///
/// # Errors
/// [`KernelError::BufferLength`] when `sim` does not hold `rows x positions` values.
pub fn soft_masked_mean(shape: &RowShape, mask: &SoftMask, sim: &[f32]) -> Result<Vec<f32>, KernelError> {
    shape.check("sim", shape.len(), sim.len())?;
    let (p, block) = (shape.positions, shape.rows_per_task());
    let mut out = vec![0.0f32; shape.rows];
    out.par_chunks_mut(block).zip(sim.par_chunks(block * p)).for_each(|(out, sim)| {
        for (o, row) in out.iter_mut().zip(sim.chunks_exact(p)) {
            let (weighted, total) = mask.row_sums(row);
            *o = (weighted / total) as f32;
        }
    });
    Ok(out)
}

/// [`soft_masked_mean`] and the normalised weights `w_p / Σ_q w_q` of every row (`rows x
/// positions`, the layout of `sim`), which [`soft_masked_mean_backward`] needs. The outputs are
/// the same as [`soft_masked_mean`]'s, bit for bit.
///
/// # Errors
/// As [`soft_masked_mean`].
pub fn soft_masked_mean_with_weights(
    shape: &RowShape,
    mask: &SoftMask,
    sim: &[f32],
) -> Result<(Vec<f32>, Vec<f32>), KernelError> {
    shape.check("sim", shape.len(), sim.len())?;
    let (p, block) = (shape.positions, shape.rows_per_task());
    let mut out = vec![0.0f32; shape.rows];
    let mut weights = vec![0.0f32; shape.len()];
    let blocks = out.par_chunks_mut(block).zip(weights.par_chunks_mut(block * p));
    blocks.zip(sim.par_chunks(block * p)).for_each(|((out, weights), sim)| {
        for ((o, w), row) in out.iter_mut().zip(weights.chunks_exact_mut(p)).zip(sim.chunks_exact(p)) {
            let (mut weighted, mut total) = (0.0f64, 0.0f64);
            mask.for_each_weight(row, |q, wq| {
                w[q] = wq;
                weighted += f64::from(wq) * f64::from(row[q]);
                total += f64::from(wq);
            });
            *o = (weighted / total) as f32;
            w.iter_mut().for_each(|wq| *wq = (f64::from(*wq) / total) as f32);
        }
    });
    Ok((out, weights))
}

/// The gradient of [`soft_masked_mean`] with respect to `sim` (the mask is a constant):
/// `d sim[r, p] = grad[r] * weights[r, p]`, given the normalised weights of
/// [`soft_masked_mean_with_weights`] (`rows x positions`) and the output gradient (`rows`).
///
/// # Errors
/// [`KernelError::BufferLength`] when a buffer does not fit `shape`.
pub fn soft_masked_mean_backward(
    shape: &RowShape,
    weights: &[f32],
    grad: &[f32],
) -> Result<Vec<f32>, KernelError> {
    shape.check("weights", shape.len(), weights.len())?;
    shape.check("grad", shape.rows, grad.len())?;
    let (p, block) = (shape.positions, shape.rows_per_task());
    let mut dsim = vec![0.0f32; shape.len()];
    let blocks = dsim.par_chunks_mut(block * p).zip(weights.par_chunks(block * p));
    blocks.zip(grad.par_chunks(block)).for_each(|((dsim, weights), grad)| {
        for ((d, w), &g) in dsim.chunks_exact_mut(p).zip(weights.chunks_exact(p)).zip(grad) {
            d.iter_mut().zip(w).for_each(|(d, &w)| *d = g * w);
        }
    });
    Ok(dsim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(row: &[f32], eps: f64, soft: f64, complement: bool) -> (f64, Vec<f64>) {
        let m: Vec<f64> = row
            .iter()
            .map(|&s| {
                let sig = 1.0 / (1.0 + (-(f64::from(s) - eps) / soft).exp());
                if complement { 1.0 - sig } else { sig }
            })
            .collect();
        let total: f64 = m.iter().sum();
        let out = m.iter().zip(row).map(|(w, &s)| w * f64::from(s)).sum::<f64>() / total;
        (out, m.iter().map(|w| w / total).collect())
    }

    /// Both regimes against the mask written out in `f64` (1e-6 absolute), on two rows.
    #[test]
    fn matches_the_f64_formula_in_both_regimes() {
        let sim = [0.9, 0.1, -0.3, 0.66, 0.62, 0.7, 0.5, 0.45, 0.2, -0.9, 0.41, 0.39];
        let shape = RowShape::from_dims(&[2, 1, 6]).unwrap();
        for (eps, soft, complement) in [(0.65, 0.03, false), (0.4, 0.03, true), (0.5, 0.1, false)] {
            let mask = SoftMask::new(eps, soft, complement).unwrap();
            assert!(mask.plain_sigmoid());
            let (out, weights) = soft_masked_mean_with_weights(&shape, &mask, &sim).unwrap();
            assert_eq!(out, soft_masked_mean(&shape, &mask, &sim).unwrap());
            for (r, row) in sim.chunks(6).enumerate() {
                let (want, want_w) = naive(row, f64::from(eps), f64::from(soft), complement);
                assert!((f64::from(out[r]) - want).abs() < 1e-6, "{eps} {soft}: {} vs {want}", out[r]);
                for (w, ww) in weights[r * 6..(r + 1) * 6].iter().zip(&want_w) {
                    assert!((f64::from(*w) - ww).abs() < 1e-6, "weights {w} vs {ww}");
                }
            }
        }
        // Log domain: (1 + 0.65) / 0.01 > 80; the naive mask still fits f64 here.
        let mask = SoftMask::new(0.65, 0.01, false).unwrap();
        assert!(!mask.plain_sigmoid());
        let out = soft_masked_mean(&shape, &mask, &sim).unwrap();
        for (r, row) in sim.chunks(6).enumerate() {
            let (want, _) = naive(row, 0.65, 0.01, false);
            assert!((f64::from(out[r]) - want).abs() < 1e-6, "log domain: {} vs {want}", out[r]);
        }
    }

    /// Far below `eps` every plain mask underflows; the log-domain one picks the largest `s`.
    #[test]
    fn a_sharp_mask_never_underflows() {
        let mask = SoftMask::new(0.9, 1e-4, false).unwrap();
        let sim = [-0.5, -0.2, -0.4];
        let (out, w) =
            soft_masked_mean_with_weights(&RowShape { rows: 1, positions: 3 }, &mask, &sim).unwrap();
        assert_eq!(out, [-0.2]);
        assert_eq!(w, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn backward_scales_the_weights_by_the_row_gradient() {
        let shape = RowShape { rows: 2, positions: 2 };
        let dsim = soft_masked_mean_backward(&shape, &[0.25, 0.75, 0.5, 0.5], &[2.0, -1.0]).unwrap();
        assert_eq!(dsim, [0.5, 1.5, -0.5, -0.5]);
    }

    #[test]
    fn bad_settings_and_buffers_are_errors() {
        assert!(SoftMask::new(0.5, 0.0, false).is_err());
        assert!(SoftMask::new(f32::NAN, 0.1, false).is_err());
        assert!(SoftMask::new(0.5, f32::INFINITY, true).is_err());
        assert!(RowShape::from_dims(&[]).is_err());
        assert!(RowShape::from_dims(&[3, 0]).is_err());
        let shape = RowShape::from_dims(&[0, 4]).unwrap();
        assert!(shape.is_empty());
        let mask = SoftMask::new(0.5, 0.1, false).unwrap();
        assert_eq!(soft_masked_mean(&shape, &mask, &[]).unwrap(), Vec::<f32>::new());
        let shape = RowShape { rows: 2, positions: 3 };
        assert_eq!(
            soft_masked_mean(&shape, &mask, &[0.0; 5]),
            Err(KernelError::BufferLength { name: "sim", expected: 6, actual: 5 })
        );
        assert!(soft_masked_mean_backward(&shape, &[0.0; 6], &[0.0; 3]).is_err());
    }
}
