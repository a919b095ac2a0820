//! The one error type of `av-kernels`.

use thiserror::Error;

/// What can go wrong when a kernel is called on plain slices.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// A shape or option is impossible (zero sizes, a kernel larger than the padded input, ...).
    #[error("invalid convolution geometry: {0}")]
    Geometry(String),
    /// A tensor's dimensions do not fit the operation (batch norm on fewer than two
    /// dimensions or an empty tensor).
    #[error("invalid tensor shape: {0}")]
    Shape(String),
    /// A setting of an operation is impossible (a soft mask's width that is not `> 0`, ...).
    #[error("invalid setting: {0}")]
    Setting(String),
    /// A buffer does not hold the number of elements its shape says.
    #[error("{name}: expected {expected} elements for its shape, got {actual}")]
    BufferLength {
        /// Which buffer (`x`, `weight`, `grad`, ...).
        name: &'static str,
        /// Elements the shape needs.
        expected: usize,
        /// Elements given.
        actual: usize,
    },
}
