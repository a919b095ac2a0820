//! The one error type of `av-gradcam`.

/// Result alias of this crate.
pub type Result<T, E = CamError> = std::result::Result<T, E>;

/// What can go wrong when computing class activation maps.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CamError {
    /// A tensor has another shape than the operation needs.
    #[error("{what}: expected shape {expected}, got {found:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected shape, in words (e.g. "[N, K, H, W] with K = 512").
        expected: String,
        /// The shape received.
        found: Vec<usize>,
    },
    /// The batch is empty.
    #[error("{what}: empty batch or empty map")]
    Empty {
        /// Which input.
        what: &'static str,
    },
    /// A class index is outside the classifier's outputs.
    #[error("class {class} is out of range: the score function returns {num_classes} classes")]
    ClassOutOfRange {
        /// The class asked for.
        class: usize,
        /// How many the score function returns.
        num_classes: usize,
    },
    /// The score does not depend on the feature map, so there is no gradient to weight it by.
    #[error("the class score does not depend on the feature map: no gradient reached it")]
    NoGradient,
    /// An input or result holds NaN or infinity.
    #[error("{what} holds NaN or infinite values")]
    NonFinite {
        /// Which tensor.
        what: &'static str,
    },
}
