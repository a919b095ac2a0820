//! Solving the normal equations `G C = D` of the BSS-Eval projections.
//!
//! mir_eval (`separation.py:728-731`) calls `np.linalg.solve` (LU with partial pivoting) and
//! falls back to `np.linalg.lstsq` when LAPACK reports an exactly singular matrix. `G` is a
//! Gram matrix (symmetric positive semi-definite), so we first try a Cholesky factorisation
//! (half the work of LU, same answer for any `G` that is numerically positive definite), then
//! LU with partial pivoting (numpy's path) when Cholesky meets a non-positive pivot, and the
//! minimum-norm least-squares solution (numpy's `lstsq` with its default `rcond = eps·n`,
//! here through the symmetric eigendecomposition, whose |eigenvalues| are the singular values)
//! when LU meets an exactly zero pivot or the solve produces a non-finite value.

use faer::linalg::solvers::{PartialPivLu, Solve};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Mat, MatMut, Side};

use crate::error::{MetricsError, Result};

const OP: &str = "bss_eval_sources";

/// A factorised Gram matrix, reusable for any number of right-hand sides.
pub(crate) enum GramSolver {
    /// `G = L Lᵀ`.
    Cholesky(faer::linalg::solvers::Llt<f64>),
    /// `P G = L U`, kept with `G` for the least-squares fallback.
    Lu(PartialPivLu<f64>, Mat<f64>),
    /// `G⁺`, the pseudo-inverse.
    PseudoInverse(Mat<f64>),
}

impl GramSolver {
    /// Factorises the symmetric matrix `g` (both triangles filled).
    pub(crate) fn new(g: Mat<f64>) -> Result<Self> {
        if let Ok(llt) = g.llt(Side::Lower) {
            return Ok(Self::Cholesky(llt));
        }
        let lu = g.partial_piv_lu();
        let u = lu.U();
        let singular = (0..u.nrows()).any(|i| {
            let d = u[(i, i)];
            d == 0.0 || !d.is_finite()
        });
        if singular { Ok(Self::PseudoInverse(pseudo_inverse(g.as_ref())?)) } else { Ok(Self::Lu(lu, g)) }
    }

    /// Overwrites each column `d` of `rhs` with the solution `c` of `G c = d`.
    pub(crate) fn solve_in_place(&self, mut rhs: MatMut<'_, f64>) -> Result<()> {
        match self {
            Self::Cholesky(llt) => {
                let original = rhs.rb().to_owned();
                llt.solve_in_place(rhs.rb_mut());
                if !all_finite(rhs.rb()) {
                    return Self::least_squares_from(llt.reconstruct_gram(), original, rhs);
                }
            }
            Self::Lu(lu, g) => {
                let original = rhs.rb().to_owned();
                lu.solve_in_place(rhs.rb_mut());
                if !all_finite(rhs.rb()) {
                    return Self::least_squares_from(g.clone(), original, rhs);
                }
            }
            Self::PseudoInverse(pinv) => {
                let solution = pinv * rhs.rb();
                rhs.copy_from(&solution);
            }
        }
        Ok(())
    }

    fn least_squares_from(g: Mat<f64>, original: Mat<f64>, mut rhs: MatMut<'_, f64>) -> Result<()> {
        let pinv = pseudo_inverse(g.as_ref())?;
        let solution = &pinv * &original;
        rhs.copy_from(&solution);
        Ok(())
    }
}

/// Rebuilds `G = L Lᵀ` (only on the rare least-squares fallback path).
trait ReconstructGram {
    fn reconstruct_gram(&self) -> Mat<f64>;
}

impl ReconstructGram for faer::linalg::solvers::Llt<f64> {
    fn reconstruct_gram(&self) -> Mat<f64> {
        let l = self.L();
        l * l.transpose()
    }
}

fn all_finite(m: faer::MatRef<'_, f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

/// Minimum-norm least-squares inverse of the symmetric matrix `g`: eigenvalues with
/// `|λ| <= eps · n · max|λ|` are treated as zero (numpy `lstsq`'s default `rcond`).
fn pseudo_inverse(g: faer::MatRef<'_, f64>) -> Result<Mat<f64>> {
    let n = g.nrows();
    let evd = g.self_adjoint_eigen(Side::Lower).map_err(|e| MetricsError::LinearAlgebra {
        op: OP,
        detail: format!("eigendecomposition of the Gram matrix failed: {e:?}"),
    })?;
    let u = evd.U();
    let s = evd.S().column_vector();
    let max_abs = (0..n).map(|i| s[i].abs()).fold(0.0f64, f64::max);
    let cutoff = f64::EPSILON * n as f64 * max_abs;
    // G⁺ = U diag(1/λ) Uᵀ over the kept eigenvalues.
    let mut scaled = u.to_owned();
    for k in 0..n {
        let inv = if s[k].abs() > cutoff { 1.0 / s[k] } else { 0.0 };
        for i in 0..n {
            scaled[(i, k)] *= inv;
        }
    }
    let pinv = &scaled * u.transpose();
    if !all_finite(pinv.as_ref()) {
        return Err(MetricsError::LinearAlgebra {
            op: OP,
            detail: "pseudo-inverse of the Gram matrix is not finite".into(),
        });
    }
    Ok(pinv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(g: Mat<f64>, expect_kind: &str) {
        let n = g.nrows();
        let x_true = Mat::from_fn(n, 2, |i, j| (i as f64 + 1.0) * if j == 0 { 1.0 } else { -0.5 });
        let mut rhs = &g * &x_true;
        let solver = GramSolver::new(g.clone()).expect("factor");
        let kind = match solver {
            GramSolver::Cholesky(_) => "cholesky",
            GramSolver::Lu(..) => "lu",
            GramSolver::PseudoInverse(_) => "pinv",
        };
        assert_eq!(kind, expect_kind);
        solver.solve_in_place(rhs.as_mut()).expect("solve");
        // Compare G x (the projection is what BSS-Eval uses), not x itself.
        let back = &g * &rhs;
        let want = &g * &x_true;
        for j in 0..2 {
            for i in 0..n {
                assert!((back[(i, j)] - want[(i, j)]).abs() < 1e-9, "{kind} ({i},{j})");
            }
        }
    }

    #[test]
    fn spd_uses_cholesky() {
        let g = Mat::from_fn(4, 4, |i, j| if i == j { 4.0 } else { 1.0 / (1.0 + (i + j) as f64) });
        check(g, "cholesky");
    }

    #[test]
    fn indefinite_uses_lu() {
        let g = Mat::from_fn(3, 3, |i, j| if i == j { [1.0, -2.0, 3.0][i] } else { 0.1 });
        check(g, "lu");
    }

    #[test]
    fn singular_uses_least_squares() {
        // Rank one: v vᵀ with v = (1, 2, 3).
        let v = [1.0, 2.0, 3.0];
        let g = Mat::from_fn(3, 3, |i, j| v[i] * v[j]);
        check(g, "pinv");
    }
}
