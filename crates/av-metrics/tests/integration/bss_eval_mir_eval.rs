//! BSS-Eval against mir_eval 0.8.2 (`bss_eval_sources`, with and without the permutation
//! search, the mixture baseline), |Δ| ≤ 0.01 dB.
//!
//! Fixtures: `python tools/reference/make_metrics_fixtures.py` (pins in its header) writes
//! `tests/fixtures/metrics_reference.safetensors`. Run:
//! `cargo test -p av-metrics --test integration bss_eval_mir_eval:: -- --nocapture` (prints the max error).

#![allow(clippy::needless_range_loop)]

use crate::common::Fixtures;
use av_metrics::rng::SplitMix64;
use av_metrics::{BssEvalOptions, BssEvalResult, bss_eval_sources, bss_eval_with_mixture, mixture_baseline};

const TOLERANCE_DB: f64 = 0.01;

/// Ratios above this are rounding noise around +∞ (an energy of ~1e-15 of the signal's): in
/// `tiny2` (2 sources x 300 samples, 512-tap filters) the 1024 delayed copies span the whole
/// 811-sample space, so `e_artif` is zero up to rounding and mir_eval's SAR (~250 dB) is noise.
const NUMERICALLY_INFINITE_DB: f64 = 150.0;

/// `band2` (references low-passed by an 8th-order Butterworth at 0.05 of Nyquist) has a
/// numerically singular Gram matrix: mir_eval's own numbers change by up to 7.3 dB when its
/// `np.linalg.solve` (LU) is replaced by `scipy.linalg.solve(assume_a="pos")` (Cholesky) or by
/// `np.linalg.lstsq`, so no implementation can match them to 0.01 dB. It is kept to show that
/// the result stays finite and close; the deviation is printed, not asserted. (`lowpass2`, 4th
/// order at 0.2, is ill-conditioned too: mir_eval's LU vs Cholesky differ by 3.4e-3 dB there, and
/// the 0.01 dB bound is asserted.)
const ILL_POSED: &[&str] = &["band2"];

/// Max |Δ| over SDR, SIR, SAR; infinities must match exactly.
fn max_error(got: &BssEvalResult, sdr: &[f64], sir: &[f64], sar: &[f64], what: &str) -> f64 {
    if ILL_POSED.contains(&what) {
        let all = got.sdr.iter().chain(&got.sir).chain(&got.sar);
        assert!(all.clone().all(|v| v.is_finite()), "{what}: {got:?}");
        let want = sdr.iter().chain(sir).chain(sar);
        return all.zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    }
    let mut worst = 0.0f64;
    for (name, g, w) in [("sdr", &got.sdr, sdr), ("sir", &got.sir, sir), ("sar", &got.sar, sar)] {
        assert_eq!(g.len(), w.len(), "{what} {name}: length");
        for (j, (&a, &b)) in g.iter().zip(w).enumerate() {
            if b.is_infinite() {
                assert_eq!(a, b, "{what} {name}[{j}]");
                continue;
            }
            if b > NUMERICALLY_INFINITE_DB {
                assert!(a > NUMERICALLY_INFINITE_DB, "{what} {name}[{j}]: {a} vs mir_eval {b}");
                continue;
            }
            let d = (a - b).abs();
            assert!(d <= TOLERANCE_DB, "{what} {name}[{j}]: {a} vs mir_eval {b} (|Δ| = {d:e} dB)");
            worst = worst.max(d);
        }
    }
    worst
}

fn rows_f32(fx: &Fixtures, name: &str) -> Vec<Vec<f32>> {
    fx.rows(name).into_iter().map(|r| r.into_iter().map(|v| v as f32).collect()).collect()
}

fn perm(fx: &Fixtures, name: &str) -> Vec<usize> {
    fx.get(name).data.iter().map(|&v| v as usize).collect()
}

#[test]
fn well_conditioned_cases_match_mir_eval() {
    check_cases(&["rand2", "rand3", "struct2", "struct3", "single"]);
}

#[test]
fn ill_conditioned_and_degenerate_cases() {
    check_cases(&["lowpass2", "band2", "tiny2"]);
}

fn check_cases(cases: &[&str]) {
    let fx = Fixtures::load();
    let mut worst = 0.0f64;
    for &case in cases {
        let refs = rows_f32(&fx, &format!("bss/{case}/ref"));
        let ests = rows_f32(&fx, &format!("bss/{case}/est"));
        let got = bss_eval_sources(&refs, &ests, &BssEvalOptions::default()).expect("bss_eval");
        let g = |k: &str| fx.get(&format!("bss/{case}/{k}")).data;
        let e = max_error(&got, &g("sdr"), &g("sir"), &g("sar"), case);
        assert_eq!(got.perm, perm(&fx, &format!("bss/{case}/perm")));
        if !ILL_POSED.contains(&case) {
            worst = worst.max(e);
        }
        eprintln!("{case}: max |Δ| = {e:.3e} dB (no permutation)");
        // (The permutation run of the ill-posed case adds nothing but test time.)
        if !["tiny2", "single"].contains(&case) && !ILL_POSED.contains(&case) {
            let pe = rows_f32(&fx, &format!("bss/{case}/perm_est"));
            let opts = BssEvalOptions { compute_permutation: true, ..Default::default() };
            let got = bss_eval_sources(&refs, &pe, &opts).expect("bss_eval");
            let e = max_error(&got, &g("perm_sdr"), &g("perm_sir"), &g("perm_sar"), case);
            assert_eq!(got.perm, perm(&fx, &format!("bss/{case}/perm_perm")), "{case} permutation");
            if !ILL_POSED.contains(&case) {
                worst = worst.max(e);
            }
            eprintln!("{case}: max |Δ| = {e:.3e} dB (permutation {:?})", got.perm);
        }
    }
    eprintln!("{cases:?} except {ILL_POSED:?}: max |Δ| vs mir_eval 0.8.2 = {worst:.3e} dB");
}

#[test]
fn mixture_baseline_matches_mir_eval() {
    let fx = Fixtures::load();
    let refs = rows_f32(&fx, "bss/rand2/ref");
    let mix = fx.get_f32("bss/rand2/mix");
    let want = fx.get("bss/rand2/sdr_mix").data;
    let got = mixture_baseline(&refs, &mix, 512).expect("mixture");
    for (a, b) in got.sdr.iter().zip(&want) {
        assert!((a - b).abs() <= TOLERANCE_DB, "{a} vs {b}");
    }
}

/// The long case of `make_metrics_fixtures.py::long_case()`, regenerated (not stored).
fn long_case() -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<f32>) {
    use std::f64::consts::PI;
    let n = 65_280;
    let sr = 11_025.0;
    let u: Vec<Vec<f64>> = [1u64, 2, 3, 4]
        .iter()
        .map(|&seed| {
            let mut rng = SplitMix64::new(seed);
            (0..n).map(|_| 2.0 * rng.next_f64() - 1.0).collect()
        })
        .collect();
    let s0: Vec<f32> = (0..n)
        .map(|k| {
            let t = k as f64;
            (0.5 * (2.0 * PI * 440.0 * t / sr).sin() + 0.3 * u[0][k]) as f32
        })
        .collect();
    let s1: Vec<f32> = (0..n)
        .map(|k| {
            let t = k as f64;
            (0.4 * (2.0 * PI * 1234.5 * t / sr + 0.3).sin() * (1.0 + 0.5 * (2.0 * PI * 3.0 * t / sr).sin())
                + 0.3 * u[1][k]) as f32
        })
        .collect();
    let (a, b) = (|k: usize| f64::from(s0[k]), |k: usize| f64::from(s1[k]));
    let e0: Vec<f32> = (0..n).map(|k| (a(k) + 0.2 * b(k) + 0.05 * u[2][k]) as f32).collect();
    let e1: Vec<f32> = (0..n).map(|k| (0.8 * b(k) + 0.3 * a(k) + 0.05 * u[3][k]) as f32).collect();
    let mix: Vec<f32> = (0..n).map(|k| (a(k) + b(k)) as f32).collect();
    (vec![s0, s1], vec![e0, e1], mix)
}

#[test]
fn long_case_matches_mir_eval() {
    let fx = Fixtures::load();
    let (refs, ests, mix) = long_case();
    // The regenerated signals are the ones mir_eval saw.
    let sums = fx.rows("bss/long/checksum");
    for (x, want) in [&refs[0], &refs[1], &ests[0], &ests[1], &mix].iter().zip(&sums) {
        let s: f64 = x.iter().map(|&v| f64::from(v)).sum();
        let ss: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert!((s - want[0]).abs() < 1e-6 * want[1], "sum {s} vs {}", want[0]);
        assert!((ss - want[1]).abs() < 1e-9 * want[1], "sum of squares {ss} vs {}", want[1]);
    }
    let got = bss_eval_with_mixture(&refs, &ests, &mix, &BssEvalOptions::default()).expect("bss_eval");
    let g = |k: &str| fx.get(&format!("bss/long/{k}")).data;
    let e = max_error(&got.estimates, &g("sdr"), &g("sir"), &g("sar"), "long");
    let sdr_mix = g("sdr_mix");
    let mut e_mix = 0.0f64;
    for j in 0..2 {
        let d = (got.mixture.sdr[j] - sdr_mix[j]).abs();
        assert!(d <= TOLERANCE_DB, "sdr_mix[{j}]: {} vs {}", got.mixture.sdr[j], sdr_mix[j]);
        e_mix = e_mix.max(d);
        assert_eq!(got.nsdr[j], got.estimates.sdr[j] - got.mixture.sdr[j]);
    }
    eprintln!("long 2x65280: max |Δ| = {e:.3e} dB, SDR_mix max |Δ| = {e_mix:.3e} dB");
}
