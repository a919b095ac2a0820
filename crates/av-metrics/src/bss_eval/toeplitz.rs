//! The BSS-Eval Gram matrix as a symmetric block-Toeplitz matrix, solved by the block Levinson
//! (Whittle / Wiggins–Robinson) recursion in `O(L² m³)` instead of the `O((mL)³)` dense
//! factorisation, with a backward-error check, iterative refinement and a dense fallback.
//!
//! With the unknowns ordered by lag, `G` of `m` sources and `L` taps has `L x L` blocks of size
//! `m x m`, block `(a, b)` = `R(b − a)`, `R(k)_{ij} = G[(i, a), (j, a + k)]` (the lag-`k`
//! cross-correlation of references `i` and `j`), and `R(−k) = R(k)ᵀ`. The recursion keeps the
//! forward and backward "predictors" `F_n`, `B_n` (`T_n F_n = [E^f_n; 0; …]`, first block `I`;
//! `T_n B_n = […; 0; E^b_n]`, last block `I`) and extends the solution one block at a time:
//! `x_{n+1} = [x_n; 0] + B_{n+1} (E^b_{n+1})⁻¹ (d_n − Σ_b R(b − n) x_n[b])`.
//!
//! Levinson is only weakly stable, so every solution is checked: the normwise backward error
//! `‖d − G x‖ / (‖G‖_F ‖x‖ + ‖d‖)` must reach [`BACKWARD_ERROR_TOL`] (what a backward-stable
//! dense solver such as mir_eval's `np.linalg.solve` achieves), with up to
//! [`REFINEMENT_STEPS`] steps of iterative refinement; otherwise (or when a prediction-error
//! matrix is singular, e.g. more delayed copies than samples) the dense path of
//! [`super::solver::GramSolver`] solves the system, exactly as before.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use faer::Mat;

use super::solver::GramSolver;
use crate::error::{MetricsError, Result};

/// Acceptance threshold of the normwise backward error (a dense LU or Cholesky solve of a
/// 1024 x 1024 Gram matrix reaches about 1e-16 to 1e-15).
pub(crate) const BACKWARD_ERROR_TOL: f64 = 1e-13;

/// Iterative-refinement steps tried before the dense fallback.
pub(crate) const REFINEMENT_STEPS: usize = 3;

/// Symmetric block-Toeplitz matrix: `m x m` blocks, `l x l` of them.
pub(crate) struct BlockToeplitz {
    m: usize,
    l: usize,
    /// `r[i * m + j][k + l − 1] = R(k)_{ij}`, `k = −(l−1) ..= l−1`.
    r: Vec<Vec<f64>>,
    frobenius: f64,
}

impl BlockToeplitz {
    /// From `r[i * m + j][k + l − 1] = R(k)_{ij}`.
    pub(crate) fn new(m: usize, l: usize, r: Vec<Vec<f64>>) -> Self {
        // ‖G‖_F² = Σ_k (l − |k|) ‖R(k)‖_F².
        let mut fro = 0.0;
        for rij in &r {
            for (idx, v) in rij.iter().enumerate() {
                let k = idx as isize - (l as isize - 1);
                fro += (l - k.unsigned_abs()) as f64 * v * v;
            }
        }
        Self { m, l, r, frobenius: fro.sqrt() }
    }

    /// The `j`-th diagonal block `G_jj` (one source) as its own Toeplitz matrix.
    pub(crate) fn diagonal(&self, j: usize) -> Self {
        Self::new(1, self.l, vec![self.r[j * self.m + j].clone()])
    }

    fn rij(&self, i: usize, j: usize) -> &[f64] {
        &self.r[i * self.m + j]
    }

    /// The dense matrix, rows and columns ordered source-major (`(i, a)` → `i·l + a`), as
    /// mir_eval's `G`.
    pub(crate) fn to_dense(&self) -> Mat<f64> {
        let (m, l) = (self.m, self.l);
        let mut g = Mat::<f64>::zeros(m * l, m * l);
        for j in 0..m {
            for b in 0..l {
                let column = g.col_as_slice_mut(j * l + b);
                for i in 0..m {
                    // G[(i, a), (j, b)] = R_ij(b − a): indices b + l − 1 down to b.
                    let rows = &mut column[i * l..(i + 1) * l];
                    rows.copy_from_slice(&self.rij(i, j)[b..b + l]);
                    rows.reverse();
                }
            }
        }
        g
    }

    /// `G x` for `x` given as `m` slices of length `l` (one right-hand side).
    fn matvec(&self, x: &[&[f64]], out: &mut [f64]) {
        let (m, l) = (self.m, self.l);
        for i in 0..m {
            for a in 0..l {
                let mut s = 0.0;
                for (j, xj) in x.iter().enumerate() {
                    // Σ_b R_ij(b − a) x_j[b]: R indices l − 1 − a .. 2l − 1 − a.
                    s += dot(&self.rij(i, j)[l - 1 - a..2 * l - 1 - a], xj);
                }
                out[i * l + a] = s;
            }
        }
    }

    /// Block Levinson solve of `G X = D` (`D`: `m·l x k`, source-major rows). `None` when a
    /// prediction-error matrix is (numerically) singular.
    fn levinson(&self, d: &Mat<f64>) -> Option<Mat<f64>> {
        let (m, l) = (self.m, self.l);
        let k = d.ncols();
        let c0 = l - 1;
        let mm = m * m;
        let scale = (0..m).map(|i| self.rij(i, i)[c0].abs()).fold(0.0, f64::max);
        if scale == 0.0 || !scale.is_finite() {
            return None;
        }
        let r0: Vec<f64> = (0..mm).map(|ij| self.r[ij][c0]).collect();
        // F left-aligned (logical b at index b); B right-aligned (B_n[b] at l − n + b).
        let mut f = vec![vec![0.0; l]; mm];
        let mut b_cur = vec![vec![0.0; l]; mm];
        let mut b_next = vec![vec![0.0; l]; mm];
        for i in 0..m {
            f[i * m + i][0] = 1.0;
            b_cur[i * m + i][l - 1] = 1.0;
        }
        let mut ef = r0.clone();
        let mut eb = r0.clone();
        // x[i * k + c]: unknowns of source i, right-hand side c.
        let mut x = vec![vec![0.0; l]; m * k];
        let inv0 = invert(&r0, m, scale)?;
        for i in 0..m {
            for c in 0..k {
                x[i * k + c][0] = (0..m).map(|q| inv0[i * m + q] * d[(q * l, c)]).sum();
            }
        }
        let mut delta_f = vec![0.0; mm];
        let mut delta_b = vec![0.0; mm];
        let mut theta = vec![0.0; m * k];
        for n in 1..l {
            // Δf = Σ_{b<n} R(b − n) F_n[b], Δb = Σ_{b<n} R(b + 1) B_n[b], θ = Σ_{b<n} R(b − n) x_n[b].
            for i in 0..m {
                for j in 0..m {
                    let (mut sf, mut sb) = (0.0, 0.0);
                    for q in 0..m {
                        let r = self.rij(i, q);
                        sf += dot(&r[c0 - n..c0], &f[q * m + j][..n]);
                        sb += dot(&r[c0 + 1..c0 + 1 + n], &b_cur[q * m + j][l - n..]);
                    }
                    delta_f[i * m + j] = sf;
                    delta_b[i * m + j] = sb;
                }
                for c in 0..k {
                    theta[i * k + c] =
                        (0..m).map(|q| dot(&self.rij(i, q)[c0 - n..c0], &x[q * k + c][..n])).sum();
                }
            }
            let eb_inv = invert(&eb, m, scale)?;
            let ef_inv = invert(&ef, m, scale)?;
            let kf = neg_mul(&eb_inv, &delta_f, m, m);
            let kb = neg_mul(&ef_inv, &delta_b, m, m);
            add_mul(&mut ef, &delta_b, &kf, m, m);
            add_mul(&mut eb, &delta_f, &kb, m, m);
            // B_{n+1}[b] = B_n[b − 1] + F_n[b] K_b and F_{n+1}[b] = F_n[b] + B_n[b − 1] K_f for
            // b = 0 ..= n; B_n[b − 1] and B_{n+1}[b] both sit at index p0 + b.
            let p0 = l - n - 1;
            for i in 0..m {
                for j in 0..m {
                    let dst = &mut b_next[i * m + j][p0..];
                    dst.copy_from_slice(&b_cur[i * m + j][p0..]);
                    for q in 0..m {
                        axpy(dst, &f[i * m + q][..=n], kb[q * m + j]);
                    }
                }
            }
            for i in 0..m {
                for j in 0..m {
                    for q in 0..m {
                        let s = kf[q * m + j];
                        let (src, dst) = (&b_cur[i * m + q][p0..], &mut f[i * m + j][..=n]);
                        axpy(dst, src, s);
                    }
                }
            }
            std::mem::swap(&mut b_cur, &mut b_next);
            // x_{n+1} = [x_n; 0] + B_{n+1} (E^b_{n+1})⁻¹ (d_n − θ).
            let eb_inv = invert(&eb, m, scale)?;
            for c in 0..k {
                let resid: Vec<f64> = (0..m).map(|q| d[(q * l + n, c)] - theta[q * k + c]).collect();
                for i in 0..m {
                    for q in 0..m {
                        let y: f64 = (0..m).map(|t| eb_inv[q * m + t] * resid[t]).sum();
                        let (src, dst) = (&b_cur[i * m + q][p0..], &mut x[i * k + c][..=n]);
                        axpy(dst, src, y);
                    }
                }
            }
        }
        if !x.iter().all(|v| v.iter().all(|t| t.is_finite())) {
            return None;
        }
        Some(Mat::from_fn(m * l, k, |row, c| x[(row / l) * k + c][row % l]))
    }

    /// `G X`, column by column.
    pub(crate) fn apply(&self, x: &Mat<f64>) -> Mat<f64> {
        let (m, l) = (self.m, self.l);
        let mut gx = Mat::<f64>::zeros(m * l, x.ncols());
        for c in 0..x.ncols() {
            let xc = x.col_as_slice(c);
            let parts: Vec<&[f64]> = (0..m).map(|j| &xc[j * l..(j + 1) * l]).collect();
            self.matvec(&parts, gx.col_as_slice_mut(c));
        }
        gx
    }

    /// Largest normwise backward error `‖d − G x‖ / (‖G‖_F ‖x‖ + ‖d‖)` over the columns, with
    /// `G X`.
    fn backward_error(&self, x: &Mat<f64>, d: &Mat<f64>) -> (f64, Mat<f64>) {
        let gx = self.apply(x);
        let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
        let mut worst = 0.0f64;
        for c in 0..x.ncols() {
            let (dc, gc) = (d.col_as_slice(c), gx.col_as_slice(c));
            let resid = dc.iter().zip(gc).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
            let den = self.frobenius * norm(x.col_as_slice(c)) + norm(dc);
            let eta = if den > 0.0 { resid / den } else { 0.0 };
            worst = worst.max(if eta.is_nan() { f64::INFINITY } else { eta });
        }
        (worst, gx)
    }
}

/// A block-Toeplitz Gram matrix with its solver: Levinson first, the dense factorisation of
/// [`GramSolver`] (built on first need) as fallback.
pub(crate) struct ToeplitzSolver {
    t: BlockToeplitz,
    dense: OnceLock<std::result::Result<GramSolver, MetricsError>>,
    levinson_failed: AtomicBool,
}

impl ToeplitzSolver {
    pub(crate) fn new(t: BlockToeplitz) -> Self {
        Self { t, dense: OnceLock::new(), levinson_failed: AtomicBool::new(false) }
    }

    #[cfg(test)]
    pub(crate) fn matrix(&self) -> &BlockToeplitz {
        &self.t
    }

    /// Solves `G X = D` for every column of `d`; returns `X` and `G X`.
    pub(crate) fn solve_with_product(&self, d: &Mat<f64>) -> Result<(Mat<f64>, Mat<f64>)> {
        if !self.levinson_failed.load(Ordering::Relaxed) {
            if let Some(solved) = self.solve_levinson(d) {
                return Ok(solved);
            }
            // Breakdown or no convergence: this matrix goes to the dense path from now on.
            self.levinson_failed.store(true, Ordering::Relaxed);
        }
        let x = self.solve_dense(d)?;
        let gx = self.t.apply(&x);
        Ok((x, gx))
    }

    /// Levinson plus iterative refinement; `None` on breakdown, or when the backward error
    /// stalls above [`BACKWARD_ERROR_TOL`].
    fn solve_levinson(&self, d: &Mat<f64>) -> Option<(Mat<f64>, Mat<f64>)> {
        let mut x = self.t.levinson(d)?;
        let mut previous = f64::INFINITY;
        for _ in 0..=REFINEMENT_STEPS {
            let (eta, gx) = self.t.backward_error(&x, d);
            if eta <= BACKWARD_ERROR_TOL {
                return Some((x, gx));
            }
            let improved = eta < 0.5 * previous;
            if !improved {
                return None;
            }
            previous = eta;
            x += self.t.levinson(&(d - &gx))?;
        }
        None
    }

    /// The dense path only (mir_eval's algorithm: Cholesky, LU, least squares).
    pub(crate) fn solve_dense(&self, d: &Mat<f64>) -> Result<Mat<f64>> {
        let solver = self.dense.get_or_init(|| GramSolver::new(self.t.to_dense()));
        let solver = solver.as_ref().map_err(Clone::clone)?;
        let mut x = d.clone();
        solver.solve_in_place(x.as_mut())?;
        Ok(x)
    }
}

/// `Σ a[i] b[i]` with eight partial sums (vectorises).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for t in 0..8 {
            acc[t] += x[t] * y[t];
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `dst += s · src` over the common length.
fn axpy(dst: &mut [f64], src: &[f64], s: f64) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d += s * v;
    }
}

/// `−A B` for row-major `A` (`r x r`) and `B` (`r x c`).
fn neg_mul(a: &[f64], b: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = -(0..r).map(|q| a[i * r + q] * b[q * c + j]).sum::<f64>();
        }
    }
    out
}

/// `acc += A B` for row-major `A` (`r x r`), `B` (`r x c`).
fn add_mul(acc: &mut [f64], a: &[f64], b: &[f64], r: usize, c: usize) {
    for i in 0..r {
        for j in 0..c {
            acc[i * c + j] += (0..r).map(|q| a[i * r + q] * b[q * c + j]).sum::<f64>();
        }
    }
}

/// Inverse of a small row-major `m x m` matrix by Gauss–Jordan with partial pivoting; `None`
/// when a pivot is below `1e-13 · scale` (a singular prediction-error matrix: Levinson breaks
/// down and the dense path takes over).
fn invert(a: &[f64], m: usize, scale: f64) -> Option<Vec<f64>> {
    let mut w = a.to_vec();
    let mut inv = vec![0.0; m * m];
    for i in 0..m {
        inv[i * m + i] = 1.0;
    }
    for col in 0..m {
        let piv = (col..m).max_by(|&x, &y| w[x * m + col].abs().total_cmp(&w[y * m + col].abs()))?;
        let p = w[piv * m + col];
        let usable = p.abs() > 1e-13 * scale;
        if !usable {
            return None;
        }
        if piv != col {
            for t in 0..m {
                w.swap(piv * m + t, col * m + t);
                inv.swap(piv * m + t, col * m + t);
            }
        }
        for t in 0..m {
            w[col * m + t] /= p;
            inv[col * m + t] /= p;
        }
        for row in 0..m {
            if row != col {
                let factor = w[row * m + col];
                if factor != 0.0 {
                    for t in 0..m {
                        w[row * m + t] -= factor * w[col * m + t];
                        inv[row * m + t] -= factor * inv[col * m + t];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Random 3-source block-Toeplitz Gram matrix from actual correlations of noise signals.
    fn random_toeplitz(m: usize, l: usize, t: usize, seed: u64) -> BlockToeplitz {
        let mut rng = SplitMix64::new(seed);
        let s: Vec<Vec<f64>> = (0..m).map(|_| (0..t).map(|_| rng.next_f64() - 0.5).collect()).collect();
        // R(k)_ij = Σ_n s_i[n + k] s_j[n].
        let corr = |i: usize, j: usize, k: isize| -> f64 {
            (0..t as isize)
                .filter(|&n| n + k >= 0 && n + k < t as isize)
                .map(|n| s[i][(n + k) as usize] * s[j][n as usize])
                .sum()
        };
        let r = (0..m * m)
            .map(|ij| (-(l as isize - 1)..l as isize).map(|k| corr(ij / m, ij % m, k)).collect())
            .collect();
        BlockToeplitz::new(m, l, r)
    }

    #[test]
    fn levinson_matches_dense_solve() {
        let t = random_toeplitz(3, 24, 200, 9);
        let g = t.to_dense();
        let n = g.nrows();
        let d = Mat::from_fn(n, 2, |i, c| ((i * 7 + c * 3) % 11) as f64 - 5.0);
        let x = t.levinson(&d).expect("no breakdown");
        let back = &g * &x;
        for c in 0..2 {
            for i in 0..n {
                assert!((back[(i, c)] - d[(i, c)]).abs() < 1e-9, "({i},{c})");
            }
        }
        let (eta, gx) = t.backward_error(&x, &d);
        assert!(eta < BACKWARD_ERROR_TOL, "backward error {eta:e}");
        assert!((gx[(5, 1)] - back[(5, 1)]).abs() < 1e-12 * (1.0 + back[(5, 1)].abs()));
        // The dense path agrees.
        let solver = ToeplitzSolver::new(t);
        let xd = solver.solve_dense(&d).expect("dense");
        for c in 0..2 {
            for i in 0..n {
                assert!((xd[(i, c)] - x[(i, c)]).abs() < 1e-8 * (1.0 + x[(i, c)].abs()));
            }
        }
    }

    #[test]
    fn singular_systems_fall_back_to_dense() {
        // 2 sources x 24 taps from 10 samples: rank ≤ 33 < 48, Levinson breaks down.
        let t = random_toeplitz(2, 24, 10, 4);
        let d_vec: Vec<f64> = {
            // A right-hand side in the range of G: G · ones.
            let ones = vec![1.0; 24];
            let mut out = vec![0.0; 48];
            t.matvec(&[&ones, &ones], &mut out);
            out
        };
        let d = Mat::from_fn(48, 1, |i, _| d_vec[i]);
        let solver = ToeplitzSolver::new(t);
        let (x, gx) = solver.solve_with_product(&d).expect("solve");
        assert!(solver.levinson_failed.load(Ordering::Relaxed), "Levinson must break down here");
        let (eta, gx2) = solver.matrix().backward_error(&x, &d);
        assert_eq!(gx, gx2);
        assert!(eta < 1e-10, "backward error {eta:e}");
    }

    #[test]
    fn small_helpers() {
        assert_eq!(dot(&[1.0; 19], &[2.0; 19]), 38.0);
        let inv = invert(&[4.0, 1.0, 2.0, 3.0], 2, 1.0).expect("invertible");
        let expect = [0.3, -0.1, -0.2, 0.4];
        for (a, b) in inv.iter().zip(expect) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2, 1.0).is_none());
    }
}
