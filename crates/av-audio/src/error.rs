//! The one error type of `av-audio`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = AudioError> = std::result::Result<T, E>;

/// Everything that can go wrong in the audio frontend. Bad input is reported here, never by a
/// panic.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("cannot read audio file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error (in the message, so not repeated as a `source`).
        error: std::io::Error,
    },
    /// The container or codec is not one that can be decoded (or the file is not audio at all).
    #[error("unsupported audio format in {path}: {detail}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What the demuxer or decoder said.
        detail: String,
    },
    /// The stream is malformed or truncated.
    #[error("corrupt audio data in {path}: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the demuxer or decoder said.
        detail: String,
    },
    /// The file decoded to no samples at all.
    #[error("audio file {path} contains no samples")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A signal given to a function has no samples.
    #[error("{op}: the signal is empty")]
    EmptySignal {
        /// The operation that was asked for.
        op: &'static str,
    },
    /// A sample is NaN or infinite.
    #[error("{op}: sample {index} is not finite ({value})")]
    NonFinite {
        /// The operation that was asked for.
        op: &'static str,
        /// Index of the first offending sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// A sample rate is zero (or otherwise unusable).
    #[error("{op}: invalid sample rate {rate} Hz")]
    InvalidSampleRate {
        /// The operation that was asked for.
        op: &'static str,
        /// The rate.
        rate: u32,
    },
    /// The signal is shorter than the transform needs.
    #[error("{op}: signal of {len} samples is too short, at least {min} are needed")]
    TooShort {
        /// The operation that was asked for.
        op: &'static str,
        /// The signal length.
        len: usize,
        /// The minimum length.
        min: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// An array has the wrong shape.
    #[error("{op}: expected shape {expected}, got {actual}")]
    Shape {
        /// The operation that was asked for.
        op: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape that was passed.
        actual: String,
    },
    /// The resampler failed.
    #[error("resampling {from} Hz -> {to} Hz failed: {detail}")]
    Resample {
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What rubato said.
        detail: String,
    },
}

/// Checks that every sample is finite; names `op` in the error.
pub(crate) fn ensure_finite(op: &'static str, samples: &[f32]) -> Result<()> {
    // Branch-free fast path (vectorises); locate the culprit only when there is one.
    if samples.iter().fold(true, |ok, s| ok & s.is_finite()) {
        return Ok(());
    }
    let index = samples.iter().position(|s| !s.is_finite()).unwrap_or(0);
    Err(AudioError::NonFinite { op, index, value: samples[index] })
}

/// Checks that a signal is not empty and finite.
pub(crate) fn ensure_signal(op: &'static str, samples: &[f32]) -> Result<()> {
    if samples.is_empty() {
        return Err(AudioError::EmptySignal { op });
    }
    ensure_finite(op, samples)
}
