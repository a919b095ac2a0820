//! The one error type of `av-backbones`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = BackboneError> = std::result::Result<T, E>;

/// Errors of weight import, checkpoints and configuration.
#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    /// A weight file could not be read or written.
    #[error("cannot access {path}: {detail}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The file is not a readable weight file of the expected format.
    #[error("cannot read weights from {path}: {detail}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        detail: String,
    },
    /// A tensor the network needs is not in the file.
    #[error("weights in {path} lack tensor '{key}' (and {more} more missing); is this the right file?")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The first missing key (in the network's naming).
        key: String,
        /// How many other keys are missing.
        more: usize,
    },
    /// A tensor has another shape than the network expects.
    #[error("weights in {path}: tensor '{key}' has shape {found:?}, the network expects {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The key (network naming).
        key: String,
        /// The shape the module has.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// Other problems applying tensors (dtype, adapter).
    #[error("weights in {path}: {detail}")]
    Apply {
        /// The file.
        path: PathBuf,
        /// Details.
        detail: String,
    },
    /// The file holds tensors the network does not use, and the import was asked to be strict.
    #[error("weights in {path} hold {count} tensors the network does not use, e.g. '{example}'")]
    UnusedKeys {
        /// The file.
        path: PathBuf,
        /// How many.
        count: usize,
        /// One of them.
        example: String,
    },
    /// A batch has a shape the operation cannot take (e.g. an odd batch for paired negatives).
    #[error("{op}: {detail}")]
    BatchShape {
        /// The operation.
        op: &'static str,
        /// What is wrong with the batch.
        detail: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}
