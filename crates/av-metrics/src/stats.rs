//! Aggregation: mean and confidence intervals (normal approximation, percentile bootstrap).

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, check_finite};
use crate::rng::SplitMix64;

/// A mean with a two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    /// Sample mean.
    pub mean: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// Sample standard deviation (`ddof = 1`; 0 for a single value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
}

/// Arithmetic mean.
///
/// # Errors
/// [`MetricsError::Empty`] for no values, [`MetricsError::NonFinite`] for NaN or infinity.
pub fn mean(values: &[f64]) -> Result<f64> {
    check_values("mean", values)?;
    Ok(values.iter().sum::<f64>() / values.len() as f64)
}

/// `mean ± z · s / √n` with `z` the standard-normal quantile of `(1 + level) / 2` (1.96 for
/// 95 %) and `s` the sample standard deviation. A single value gives a zero-width interval.
///
/// # Errors
/// As [`mean`]; [`MetricsError::InvalidParameter`] for `level` outside `(0, 1)`.
pub fn normal_ci(values: &[f64], level: f64) -> Result<MeanCi> {
    check_values("normal_ci", values)?;
    check_level("normal_ci", level)?;
    let n = values.len();
    let m = values.iter().sum::<f64>() / n as f64;
    let std = sample_std(values, m);
    let half = normal_quantile(0.5 + level / 2.0) * std / (n as f64).sqrt();
    Ok(MeanCi { mean: m, lower: m - half, upper: m + half, std, n, level })
}

/// Percentile bootstrap of the mean: `resamples` means of `n` values drawn with replacement
/// (SplitMix64 seeded with `seed`), interval = their `(1 − level)/2` and `(1 + level)/2`
/// quantiles (linear interpolation, NumPy's default `percentile`).
///
/// # Errors
/// As [`normal_ci`]; [`MetricsError::InvalidParameter`] for `resamples == 0`.
pub fn bootstrap_ci(values: &[f64], level: f64, resamples: usize, seed: u64) -> Result<MeanCi> {
    const OP: &str = "bootstrap_ci";
    check_values(OP, values)?;
    check_level(OP, level)?;
    if resamples == 0 {
        return Err(MetricsError::InvalidParameter {
            op: OP,
            name: "resamples",
            reason: "must be at least 1".into(),
        });
    }
    let n = values.len();
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.next_below(n as u64) as usize]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let m = values.iter().sum::<f64>() / n as f64;
    Ok(MeanCi {
        mean: m,
        lower: quantile_sorted(&means, (1.0 - level) / 2.0),
        upper: quantile_sorted(&means, (1.0 + level) / 2.0),
        std: sample_std(values, m),
        n,
        level,
    })
}

/// Linear-interpolation quantile `q ∈ [0, 1]` of sorted, non-empty `v`.
fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn sample_std(values: &[f64], m: f64) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64).sqrt()
}

fn check_values(op: &'static str, values: &[f64]) -> Result<()> {
    if values.is_empty() {
        return Err(MetricsError::Empty { op, what: "values" });
    }
    check_finite(op, "values", values)
}

fn check_level(op: &'static str, level: f64) -> Result<()> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(MetricsError::InvalidParameter { op, name: "level", reason: format!("{level} is not in (0, 1)") })
    }
}

/// Standard-normal quantile (inverse CDF) for `p ∈ (0, 1)`, by Acklam's rational
/// approximation (relative error < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const P_LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-15);
        assert!((normal_quantile(0.01) + 2.326_347_874_040_841).abs() < 1e-8);
        assert!((normal_quantile(0.995) - 2.575_829_303_548_901).abs() < 1e-8);
    }

    #[test]
    fn normal_interval_hand_computed() {
        // values 1..=4: mean 2.5, s = sqrt(5/3), half = 1.959964 · s / 2.
        let ci = normal_ci(&[1.0, 2.0, 3.0, 4.0], 0.95).expect("ci");
        let half = 1.959_963_984_540_054 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert_eq!(ci.mean, 2.5);
        assert!((ci.upper - 2.5 - half).abs() < 1e-8);
        assert!((2.5 - ci.lower - half).abs() < 1e-8);
        let one = normal_ci(&[3.0], 0.95).expect("ci");
        assert_eq!((one.lower, one.upper), (3.0, 3.0));
        assert!(normal_ci(&[], 0.95).is_err());
        assert!(normal_ci(&[1.0], 1.0).is_err());
        assert!(mean(&[f64::NAN]).is_err());
    }

    #[test]
    fn bootstrap_is_seeded_and_close_to_normal() {
        let v: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 100.0).collect();
        let a = bootstrap_ci(&v, 0.95, 2000, 11).expect("bootstrap");
        let b = bootstrap_ci(&v, 0.95, 2000, 11).expect("bootstrap");
        assert_eq!(a, b);
        let n = normal_ci(&v, 0.95).expect("normal");
        assert!((a.lower - n.lower).abs() < 0.01, "{a:?} vs {n:?}");
        assert!((a.upper - n.upper).abs() < 0.01, "{a:?} vs {n:?}");
        assert!(bootstrap_ci(&v, 0.95, 0, 1).is_err());
        assert_eq!(quantile_sorted(&[0.0, 1.0, 2.0], 0.25), 0.5);
    }
}
