//! The one error type of `av-alignment`.

/// Result alias of this crate.
pub type Result<T, E = AlignError> = std::result::Result<T, E>;

/// Errors of pooling and losses: every one names the input at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlignError {
    /// A tensor has another shape than the operation needs.
    #[error("{what}: expected shape {expected}, got {found:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected shape, in words.
        expected: String,
        /// The shape received.
        found: Vec<usize>,
    },
    /// An empty batch (or zero classes / channels).
    #[error("{what}: empty batch")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// Soft labels outside `[0, 1]`.
    #[error("{what}: labels must lie in [0, 1]")]
    LabelRange {
        /// Which input.
        what: &'static str,
    },
    /// NaN or infinite values in an input.
    #[error("{what} holds NaN or infinite values")]
    NonFinite {
        /// Which input.
        what: &'static str,
    },
    /// An invalid setting.
    #[error("invalid configuration: {0}")]
    Config(String),
}
