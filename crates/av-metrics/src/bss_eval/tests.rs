//! Unit tests of BSS-Eval against a naive time-domain implementation of the same definitions.
//! (The comparison with mir_eval itself is `tests/integration/bss_eval_mir_eval.rs`.)
#![allow(clippy::needless_range_loop)]

use super::permutation::next_permutation;
use super::*;
use crate::rng::SplitMix64;

fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_f64() * 2.0 - 1.0).collect()
}

/// Least-squares projection of `e` (zero-padded to `T + L − 1`) on the delayed copies of
/// `refs`, by explicit delayed-copy matrices and Gaussian elimination.
fn naive_project(refs: &[&[f64]], e: &[f64], flen: usize) -> Vec<f64> {
    let t = e.len();
    let len = t + flen - 1;
    let n = refs.len() * flen;
    let atom = |k: usize, time: usize| -> f64 {
        let (i, a) = (k / flen, k % flen);
        if time >= a && time - a < t { refs[i][time - a] } else { 0.0 }
    };
    let mut g = vec![vec![0.0; n + 1]; n];
    for (r, row) in g.iter_mut().enumerate() {
        for c in 0..n {
            row[c] = (0..len).map(|time| atom(r, time) * atom(c, time)).sum();
        }
        row[n] = (0..t).map(|time| atom(r, time) * e[time]).sum();
    }
    // Gaussian elimination with partial pivoting on the augmented matrix.
    for col in 0..n {
        let piv = (col..n).max_by(|&x, &y| g[x][col].abs().total_cmp(&g[y][col].abs())).unwrap_or(col);
        g.swap(col, piv);
        for r in col + 1..n {
            let f = g[r][col] / g[col][col];
            for c in col..=n {
                g[r][c] -= f * g[col][c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| g[r][c] * x[c]).sum();
        x[r] = (g[r][n] - s) / g[r][r];
    }
    (0..len).map(|time| (0..n).map(|k| x[k] * atom(k, time)).sum()).collect()
}

fn naive_criteria(refs: &[&[f64]], e: &[f64], j: usize, flen: usize) -> (f64, f64, f64) {
    let p_spat = naive_project(&refs[j..=j], e, flen);
    let p_all = naive_project(refs, e, flen);
    let len = e.len() + flen - 1;
    let e_pad: Vec<f64> = (0..len).map(|k| e.get(k).copied().unwrap_or(0.0)).collect();
    let energy = |f: &dyn Fn(usize) -> f64| (0..len).map(|k| f(k) * f(k)).sum::<f64>();
    let s_filt = energy(&|k| p_spat[k]);
    (
        safe_db(s_filt, energy(&|k| e_pad[k] - p_spat[k])),
        safe_db(s_filt, energy(&|k| p_all[k] - p_spat[k])),
        safe_db(energy(&|k| p_all[k]), energy(&|k| e_pad[k] - p_all[k])),
    )
}

#[test]
fn matches_naive_definition_small() {
    // 3 sources, 57 samples, 6-tap filters: estimates mix a delayed, scaled own reference, some
    // interference and noise.
    let (t, flen) = (57, 6);
    let refs: Vec<Vec<f64>> = (0..3).map(|i| noise(10 + i, t)).collect();
    let ests: Vec<Vec<f64>> = (0..3)
        .map(|j| {
            let n = noise(100 + j as u64, t);
            (0..t)
                .map(|k| {
                    let own = if k >= 2 { refs[j][k - 2] } else { 0.0 };
                    0.9 * own + 0.3 * refs[(j + 1) % 3][k] + 0.1 * n[k]
                })
                .collect()
        })
        .collect();
    let r: Vec<&[f64]> = refs.iter().map(Vec::as_slice).collect();
    let options = BssEvalOptions { compute_permutation: false, filter_len: flen };
    let got = bss_eval_sources(&refs, &ests, &options).expect("bss_eval");
    for j in 0..3 {
        let (sdr, sir, sar) = naive_criteria(&r, &ests[j], j, flen);
        assert!((got.sdr[j] - sdr).abs() < 1e-9, "sdr {j}: {} vs {sdr}", got.sdr[j]);
        assert!((got.sir[j] - sir).abs() < 1e-9, "sir {j}: {} vs {sir}", got.sir[j]);
        assert!((got.sar[j] - sar).abs() < 1e-9, "sar {j}: {} vs {sar}", got.sar[j]);
    }
    // The time-domain decomposition gives the same criteria.
    let evaluator = BssEvaluator::new(&refs, flen).expect("evaluator");
    for j in 0..3 {
        let d = evaluator.decompose(&ests[j], j).expect("decompose");
        assert_eq!(d.s_true.len(), t + flen - 1);
        let (sdr, sir, sar) = d.criteria();
        assert!((got.sdr[j] - sdr).abs() < 1e-9);
        assert!((got.sir[j] - sir).abs() < 1e-9);
        assert!((got.sar[j] - sar).abs() < 1e-9);
    }
}

#[test]
fn permutation_recovers_swapped_estimates() {
    let t = 400;
    let refs: Vec<Vec<f64>> = (0..3).map(|i| noise(20 + i, t)).collect();
    let n = noise(99, t);
    // Estimate k is a noisy copy of reference order[k].
    let order = [2usize, 0, 1];
    let ests: Vec<Vec<f64>> =
        order.iter().map(|&j| refs[j].iter().zip(&n).map(|(r, e)| r + 0.2 * e).collect()).collect();
    let options = BssEvalOptions { compute_permutation: true, filter_len: 16 };
    let got = bss_eval_sources(&refs, &ests, &options).expect("bss_eval");
    // perm[j] = estimate for reference j: reference 0 is estimate 1, 1 is 2, 2 is 0.
    assert_eq!(got.perm, vec![1, 2, 0]);
    assert!(got.sir.iter().all(|&s| s > 15.0), "{:?}", got.sir);
    let plain = bss_eval_sources(&refs, &ests, &BssEvalOptions { compute_permutation: false, ..options })
        .expect("bss_eval");
    assert_eq!(plain.perm, vec![0, 1, 2]);
    assert!(plain.sir.iter().all(|&s| s < 0.0), "{:?}", plain.sir);
}

#[test]
fn single_source_has_infinite_sir() {
    let r = noise(5, 300);
    let e: Vec<f64> = r.iter().zip(noise(6, 300)).map(|(a, b)| a + 0.1 * b).collect();
    let got = bss_eval_sources(&[r], &[e], &BssEvalOptions::default()).expect("bss_eval");
    assert_eq!(got.sir, vec![f64::INFINITY]);
    assert!((got.sdr[0] - got.sar[0]).abs() < 1e-9);
    assert!(got.sdr[0] > 10.0);
}

#[test]
fn next_permutation_is_lexicographic() {
    let mut p = vec![0, 1, 2];
    let mut seen = vec![p.clone()];
    while next_permutation(&mut p) {
        seen.push(p.clone());
    }
    assert_eq!(
        seen,
        vec![vec![0, 1, 2], vec![0, 2, 1], vec![1, 0, 2], vec![1, 2, 0], vec![2, 0, 1], vec![2, 1, 0]]
    );
}

#[test]
fn typed_errors() {
    let a = noise(1, 100);
    let b = noise(2, 100);
    let short = noise(3, 99);
    let zero = vec![0.0; 100];
    let opts = BssEvalOptions::default();
    assert!(matches!(bss_eval_sources(&[&a, &b], &[&a], &opts), Err(MetricsError::ShapeMismatch { .. })));
    assert!(matches!(
        bss_eval_sources(&[&a, &b], &[&a, &short], &opts),
        Err(MetricsError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        bss_eval_sources(&[&a, &zero], &[&a, &b], &opts),
        Err(MetricsError::SilentSource { which: "reference", index: 1, .. })
    ));
    assert!(matches!(
        bss_eval_sources(&[&a, &b], &[&zero, &b], &opts),
        Err(MetricsError::SilentSource { which: "estimated", index: 0, .. })
    ));
    let mut nan = b.clone();
    nan[7] = f64::NAN;
    assert!(matches!(
        bss_eval_sources(&[&a, &b], &[&a, &nan], &opts),
        Err(MetricsError::NonFinite { index: 7, .. })
    ));
    let mut inf = a.clone();
    inf[0] = f64::INFINITY;
    assert!(matches!(bss_eval_sources(&[&inf, &b], &[&a, &b], &opts), Err(MetricsError::NonFinite { .. })));
    assert!(matches!(
        bss_eval_sources(&[&a], &[&b], &BssEvalOptions { filter_len: 0, ..opts }),
        Err(MetricsError::InvalidParameter { .. })
    ));
    let many: Vec<Vec<f64>> = (0..101).map(|i| noise(i, 8)).collect();
    assert!(matches!(
        bss_eval_sources(&many, &many, &opts),
        Err(MetricsError::TooManySources { max: 100, .. })
    ));
    let ten: Vec<Vec<f64>> = (0..10).map(|i| noise(i, 8)).collect();
    assert!(matches!(
        bss_eval_sources(&ten, &ten, &BssEvalOptions { compute_permutation: true, filter_len: 2 }),
        Err(MetricsError::TooManySources { max: 9, .. })
    ));
    assert!(matches!(
        mixture_baseline(&[&a, &b], &zero, 512),
        Err(MetricsError::SilentSource { which: "estimated", .. })
    ));
    // Empty input: empty result, as mir_eval.
    let empty: Vec<Vec<f64>> = Vec::new();
    let got = bss_eval_sources(&empty, &empty, &opts).expect("empty is allowed");
    assert!(got.sdr.is_empty() && got.perm.is_empty());
}

#[test]
fn nsdr_is_sdr_minus_mixture_sdr() {
    let t = 600;
    let refs: Vec<Vec<f64>> = (0..2).map(|i| noise(40 + i, t)).collect();
    let mix: Vec<f64> = (0..t).map(|k| refs[0][k] + refs[1][k]).collect();
    let n = noise(77, t);
    let ests: Vec<Vec<f64>> =
        (0..2).map(|j| (0..t).map(|k| refs[j][k] + 0.3 * refs[1 - j][k] + 0.05 * n[k]).collect()).collect();
    let opts = BssEvalOptions { filter_len: 32, ..Default::default() };
    let all = bss_eval_with_mixture(&refs, &ests, &mix, &opts).expect("nsdr");
    let alone = bss_eval_sources(&refs, &ests, &opts).expect("bss");
    let mixture = mixture_baseline(&refs, &mix, 32).expect("mix");
    assert_eq!(all.estimates, alone);
    assert_eq!(all.mixture, mixture);
    for j in 0..2 {
        assert_eq!(all.nsdr[j], alone.sdr[j] - mixture.sdr[j]);
        // Equal-energy two-source mixture: SDR_mix is near 0 dB, the estimates near 10 dB.
        assert!(mixture.sdr[j].abs() < 1.5, "{:?}", mixture.sdr);
        assert!(all.nsdr[j] > 5.0, "{:?}", all.nsdr);
    }
}
