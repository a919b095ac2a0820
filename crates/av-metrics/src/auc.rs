//! Success rate and AUC over a test set of cIoU values (docs/reference_implementation.md §6.2).
//!
//! * `cIoU@τ` = fraction of images with cIoU ≥ τ (`np.mean(cious >= 0.5)`).
//! * AUC: thresholds `x_k = 0.05·k`, k = 0..=20 (computed as `0.05 * k` in `f64`, exactly as
//!   Python's `[0.05 * i for i in range(21)]`), `y_k` = fraction of images with cIoU ≥ `x_k`,
//!   AUC = `sklearn.metrics.auc(x, y)`, the trapezoid rule (MSSL `new/cal_metric.py:20-26`,
//!   `gtscore.py:99-108`, `utils/evaluate.py:70-76`; LVS `test.py:91-99`).

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, check_finite};

/// Number of cIoU thresholds of the AUC (0, 0.05, ..., 1).
pub const AUC_THRESHOLD_COUNT: usize = 21;

/// The AUC thresholds `0.05 · k`, k = 0..=20.
pub fn auc_thresholds() -> [f64; AUC_THRESHOLD_COUNT] {
    std::array::from_fn(|k| 0.05 * k as f64)
}

/// Fraction of `cious` that are ≥ `threshold`.
///
/// # Errors
/// [`MetricsError::Empty`] for no values, [`MetricsError::NonFinite`] for a NaN.
pub fn success_rate(cious: &[f64], threshold: f64) -> Result<f64> {
    check_scores("success_rate", cious)?;
    Ok(cious.iter().filter(|&&c| c >= threshold).count() as f64 / cious.len() as f64)
}

/// The success curve `y_k` = fraction of `cious` ≥ `0.05 · k`, k = 0..=20.
///
/// # Errors
/// As [`success_rate`].
pub fn success_curve(cious: &[f64]) -> Result<[f64; AUC_THRESHOLD_COUNT]> {
    check_scores("success_curve", cious)?;
    let n = cious.len() as f64;
    let x = auc_thresholds();
    Ok(std::array::from_fn(|k| cious.iter().filter(|&&c| c >= x[k]).count() as f64 / n))
}

/// AUC of the success curve (trapezoid over the 21 thresholds).
///
/// # Errors
/// As [`success_rate`].
pub fn ciou_auc(cious: &[f64]) -> Result<f64> {
    let y = success_curve(cious)?;
    trapezoid_auc(&auc_thresholds(), &y)
}

/// `sklearn.metrics.auc(x, y)`: the trapezoid rule, for `x` non-decreasing or non-increasing
/// (then the sign is flipped so the area is positive for positive `y`).
///
/// # Shapes
/// `x.len() == y.len() ≥ 2`.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] for different lengths or fewer than 2 points,
/// [`MetricsError::NonFinite`] for NaN, [`MetricsError::NotMonotonic`] when `x` changes
/// direction (scikit-learn raises `ValueError`).
pub fn trapezoid_auc(x: &[f64], y: &[f64]) -> Result<f64> {
    const OP: &str = "trapezoid_auc";
    if x.len() != y.len() || x.len() < 2 {
        return Err(MetricsError::ShapeMismatch {
            op: OP,
            expected: "x and y of equal length >= 2".into(),
            actual: format!("x: {}, y: {}", x.len(), y.len()),
        });
    }
    check_finite(OP, "x", x)?;
    check_finite(OP, "y", y)?;
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let direction = if let Some(first_down) = dx.iter().position(|&d| d < 0.0) {
        if dx.iter().any(|&d| d > 0.0) {
            return Err(MetricsError::NotMonotonic { op: OP, index: first_down });
        }
        -1.0
    } else {
        1.0
    };
    // np.trapezoid: sum(dx * (y[1:] + y[:-1]) / 2.0).
    let area: f64 = dx.iter().zip(y.windows(2)).map(|(d, w)| d * (w[1] + w[0]) / 2.0).sum();
    Ok(direction * area)
}

fn check_scores(op: &'static str, cious: &[f64]) -> Result<()> {
    if cious.is_empty() {
        return Err(MetricsError::Empty { op, what: "cIoU list" });
    }
    check_finite(op, "cIoU list", cious)
}

/// Per-image cIoU of a test set with its success rate and AUC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalizationSummary {
    /// cIoU of each image, in input order.
    pub cious: Vec<f64>,
    /// The cIoU threshold of the success rate (0.5 in the papers).
    pub success_threshold: f64,
    /// Fraction of images with cIoU ≥ `success_threshold`.
    pub success_rate: f64,
    /// Area under the success curve.
    pub auc: f64,
    /// The success curve `y_k` at thresholds `0.05 · k`.
    pub curve: Vec<f64>,
}

/// Success rate at `success_threshold`, AUC and the curve of `cious`.
///
/// # Errors
/// As [`success_rate`].
pub fn summarize(cious: Vec<f64>, success_threshold: f64) -> Result<LocalizationSummary> {
    let success_rate = success_rate(&cious, success_threshold)?;
    let curve = success_curve(&cious)?;
    let auc = trapezoid_auc(&auc_thresholds(), &curve)?;
    Ok(LocalizationSummary { cious, success_threshold, success_rate, auc, curve: curve.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_auc() {
        // All cIoU = 1: y = 1 everywhere, AUC = 1.
        assert!((ciou_auc(&[1.0, 1.0]).expect("auc") - 1.0).abs() < 1e-12);
        // All cIoU = 0: y_0 = 1, rest 0 → one trapezoid 0.05 · (1 + 0) / 2 = 0.025.
        assert!((ciou_auc(&[0.0]).expect("auc") - 0.025).abs() < 1e-15);
        // cIoU = 0.5: y_k = 1 for k <= 10 → 10 · 0.05 + 0.025 = 0.525.
        assert!((ciou_auc(&[0.5]).expect("auc") - 0.525).abs() < 1e-12);
        assert_eq!(success_rate(&[0.5, 0.49, 0.7, 0.0], 0.5).expect("rate"), 0.5);
        // 0.15 is not >= 0.05 * 3 (= 0.15000000000000002), as in Python.
        assert_eq!(success_curve(&[0.15]).expect("curve")[3], 0.0);
    }

    #[test]
    fn trapezoid_directions_and_errors() {
        assert_eq!(trapezoid_auc(&[0.0, 1.0, 2.0], &[0.0, 1.0, 1.0]).expect("auc"), 1.5);
        assert_eq!(trapezoid_auc(&[2.0, 1.0, 0.0], &[1.0, 1.0, 0.0]).expect("auc"), 1.5);
        assert!(matches!(
            trapezoid_auc(&[0.0, 1.0, 0.5], &[0.0, 1.0, 1.0]),
            Err(MetricsError::NotMonotonic { index: 1, .. })
        ));
        assert!(matches!(trapezoid_auc(&[0.0], &[1.0]), Err(MetricsError::ShapeMismatch { .. })));
        assert!(matches!(ciou_auc(&[]), Err(MetricsError::Empty { .. })));
        assert!(matches!(ciou_auc(&[0.2, f64::NAN]), Err(MetricsError::NonFinite { index: 1, .. })));
    }
}
