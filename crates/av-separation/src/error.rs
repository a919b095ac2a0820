//! The one error type of `av-separation`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = SeparationError> = std::result::Result<T, E>;

/// Everything that can go wrong in the separation pipeline. Bad input (wrong clip length or
/// sample rate, NaN samples, no sources, mismatched tensor shapes) is reported here, never by a
/// panic.
#[derive(Debug, thiserror::Error)]
pub enum SeparationError {
    /// A mixture needs at least one source (or a list that must not be empty is empty).
    #[error("{op}: {what} is empty")]
    Empty {
        /// The operation that was asked for.
        op: &'static str,
        /// What is empty ("source list", "batch", ...).
        what: &'static str,
    },
    /// A signal has another sample rate than the pipeline's.
    #[error("{op}: sample rate {actual} Hz, the pipeline runs at {expected} Hz (resample first)")]
    SampleRate {
        /// The operation that was asked for.
        op: &'static str,
        /// The configured rate (Hz).
        expected: u32,
        /// The rate that was passed (Hz).
        actual: u32,
    },
    /// A signal has another length than the configured clip length.
    #[error("{op}: signal {index} has {actual} samples, expected {expected} (crop or pad first)")]
    Length {
        /// The operation that was asked for.
        op: &'static str,
        /// Index of the offending signal in the list it came in.
        index: usize,
        /// The configured clip length (samples).
        expected: usize,
        /// Its length (samples).
        actual: usize,
    },
    /// A sample or value is NaN or infinite.
    #[error("{op}: {what} {index} holds a non-finite value ({value}) at position {position}")]
    NonFinite {
        /// The operation that was asked for.
        op: &'static str,
        /// Which input ("source", "mixture", "mask", ...).
        what: &'static str,
        /// Index of the signal (or array) in the list it came in.
        index: usize,
        /// Position of the first offending value (flat, row-major).
        position: usize,
        /// The value.
        value: f32,
    },
    /// Arrays or tensors have shapes the operation cannot take.
    #[error("{op}: expected {expected}, got {actual}")]
    Shape {
        /// The operation that was asked for.
        op: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape that was passed.
        actual: String,
    },
    /// Training pairs of different classes cannot be formed (fewer than two classes).
    #[error("cannot pair clips of different classes: {0}")]
    NoPairs(String),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A tensor could not be read back from the device.
    #[error("{op}: reading a tensor back failed: {detail}")]
    TensorRead {
        /// The operation that was asked for.
        op: &'static str,
        /// What Burn said.
        detail: String,
    },
    /// A file or directory could not be written.
    #[error("cannot write {path}: {detail}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// An error of the audio frontend (STFT, warp, WAV writing).
    #[error(transparent)]
    Audio(#[from] av_audio::AudioError),
    /// An error of the metrics (BSS-Eval).
    #[error(transparent)]
    Metrics(#[from] av_metrics::MetricsError),
    /// An error of the dataset generator or loaders.
    #[error(transparent)]
    Data(#[from] av_data::DataError),
}

/// Returns [`SeparationError::NonFinite`] for the first NaN or infinite value of `values`.
pub(crate) fn ensure_finite(
    op: &'static str,
    what: &'static str,
    index: usize,
    values: &[f32],
) -> Result<()> {
    // Branch-free fast path (vectorises); locate the culprit only when there is one.
    if values.iter().fold(true, |ok, v| ok & v.is_finite()) {
        return Ok(());
    }
    let position = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(SeparationError::NonFinite { op, what, index, position, value: values[position] })
}

/// [`ensure_finite`] for an array of any layout.
pub(crate) fn ensure_finite_array(
    op: &'static str,
    what: &'static str,
    index: usize,
    values: &ndarray::Array2<f32>,
) -> Result<()> {
    match values.as_slice() {
        Some(slice) => ensure_finite(op, what, index, slice),
        None => match values.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(position) => Err(SeparationError::NonFinite {
                op,
                what,
                index,
                position,
                value: values.iter().nth(position).copied().unwrap_or(f32::NAN),
            }),
        },
    }
}

/// Reads a float tensor back as a `Vec<f32>`.
pub(crate) fn read_f32<const D: usize>(op: &'static str, t: burn::tensor::Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_vec_as::<f32>().map_err(|e| SeparationError::TensorRead { op, detail: format!("{e:?}") })
}
