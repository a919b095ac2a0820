//! The facade's error type: the parts' errors plus what the model and the trainer check.

use std::path::PathBuf;

/// Result alias of the facade.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the model, the trainer and the localization pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Backend selection failed.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// Class activation maps.
    #[error(transparent)]
    Cam(#[from] av_gradcam::CamError),
    /// Pooling and losses.
    #[error(transparent)]
    Align(#[from] av_alignment::AlignError),
    /// Networks, weights, checkpoints.
    #[error(transparent)]
    Backbone(#[from] av_backbones::BackboneError),
    /// Audio decoding and features.
    #[error(transparent)]
    Audio(#[from] av_audio::AudioError),
    /// Datasets.
    #[error(transparent)]
    Data(#[from] av_data::DataError),
    /// Metrics.
    #[error(transparent)]
    Metrics(#[from] av_metrics::MetricsError),
    /// Visually guided sound separation.
    #[error(transparent)]
    Separation(#[from] av_separation::SeparationError),
    /// An input tensor has the wrong shape.
    #[error("{what}: expected {expected}, got {found:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape received.
        found: Vec<usize>,
    },
    /// An input holds NaN or infinite values.
    #[error("{what} holds NaN or infinite values")]
    NonFinite {
        /// Which input.
        what: String,
    },
    /// A configuration is invalid or does not fit the checkpoint / data.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A checkpoint cannot be used.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file cannot be read or written.
    #[error("cannot access {path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Separation of a chosen source would give an all-zero signal; nothing is returned (an
    /// empty file would be a silent wrong answer).
    #[error("separating '{class}' gives silence: {reason}")]
    SilentSource {
        /// The class asked for.
        class: String,
        /// Why, in words (a silent mixture, or a guide that hears nothing of the class).
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: the loss is {value} at epoch {epoch}, step {step}")]
    Diverged {
        /// The loss value.
        value: f32,
        /// Epoch (0-based).
        epoch: usize,
        /// Global step.
        step: usize,
    },
}

impl Error {
    /// An [`Error::Io`] for `path` with the message of `e`.
    pub fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        Error::Io { path: path.into(), detail: e.to_string() }
    }
}
