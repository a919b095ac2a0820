//! The one error type of `av-metrics`.

/// Result alias of this crate.
pub type Result<T, E = MetricsError> = std::result::Result<T, E>;

/// Everything that can go wrong while computing a metric. Bad input is reported here, never by a
/// panic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// Two inputs that must agree in shape do not (or one buffer has the wrong length).
    #[error("{op}: shape mismatch: expected {expected}, got {actual}")]
    ShapeMismatch {
        /// The operation that was asked for.
        op: &'static str,
        /// The shape the operation needed.
        expected: String,
        /// The shape it was given.
        actual: String,
    },
    /// An input value is NaN or infinite.
    #[error("{op}: {what} holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        /// The operation that was asked for.
        op: &'static str,
        /// Which input.
        what: &'static str,
        /// Flat (row-major) index of the first offending value.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// An input that must hold at least one element is empty.
    #[error("{op}: {what} is empty")]
    Empty {
        /// The operation that was asked for.
        op: &'static str,
        /// Which input.
        what: &'static str,
    },
    /// A bounding box does not lie inside the image (or is inverted).
    #[error("{op}: box {index} {bbox} does not lie inside the {width}x{height} image")]
    BoxOutOfBounds {
        /// The operation that was asked for.
        op: &'static str,
        /// Index of the box in the list it came in.
        index: usize,
        /// The box as given, rendered.
        bbox: String,
        /// Image width in pixels.
        width: usize,
        /// Image height in pixels.
        height: usize,
    },
    /// The ground truth covers no pixel, so the cIoU would be 0/0 or meaningless.
    #[error("{op}: the ground-truth map has zero total weight (no box covers any pixel)")]
    EmptyGroundTruth {
        /// The operation that was asked for.
        op: &'static str,
    },
    /// A reference or estimated source is all zeros (mir_eval raises `ValueError` here).
    #[error("{op}: {which} source {index} is silent (all zeros); BSS-Eval is undefined for silent sources")]
    SilentSource {
        /// The operation that was asked for.
        op: &'static str,
        /// `"reference"` or `"estimated"`.
        which: &'static str,
        /// Index of the silent source.
        index: usize,
    },
    /// More sources than the operation supports.
    #[error("{op}: {count} sources given, at most {max} supported")]
    TooManySources {
        /// The operation that was asked for.
        op: &'static str,
        /// Number of sources given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A parameter is out of its valid range.
    #[error("{op}: invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The operation that was asked for.
        op: &'static str,
        /// Parameter name.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The abscissa of a curve is neither non-decreasing nor non-increasing (scikit-learn's
    /// `auc` raises `ValueError` here).
    #[error("{op}: x is neither increasing nor decreasing (x decreases after index {index})")]
    NotMonotonic {
        /// The operation that was asked for.
        op: &'static str,
        /// First `i` with `x[i + 1] < x[i]` (while x increases elsewhere).
        index: usize,
    },
    /// A linear solve failed even through the least-squares fallback.
    #[error("{op}: linear algebra failure: {detail}")]
    LinearAlgebra {
        /// The operation that was asked for.
        op: &'static str,
        /// What failed.
        detail: String,
    },
    /// An FFT call failed (a buffer-length bug; never expected on valid input).
    #[error("{op}: FFT failure: {detail}")]
    Fft {
        /// The operation that was asked for.
        op: &'static str,
        /// What realfft said.
        detail: String,
    },
    /// Serialising a table to JSON failed.
    #[error("JSON rendering failed: {0}")]
    Json(String),
}

/// Returns [`MetricsError::NonFinite`] for the first NaN or infinite value of `values`.
pub(crate) fn check_finite<T: Copy + Into<f64>>(
    op: &'static str,
    what: &'static str,
    values: &[T],
) -> Result<()> {
    match crate::kernels::first_non_finite(values) {
        None => Ok(()),
        Some(index) => Err(MetricsError::NonFinite { op, what, index, value: values[index].into() }),
    }
}
