//! Input checks shared by the losses.

use burn::tensor::Tensor;

use crate::error::{AlignError, Result};

pub(crate) fn all_finite<const D: usize>(t: &Tensor<D>) -> bool {
    let t = t.clone();
    !t.clone().is_nan().any().into_scalar::<bool>() && !t.is_inf().any().into_scalar::<bool>()
}

pub(crate) fn finite<const D: usize>(t: &Tensor<D>, what: &'static str) -> Result<()> {
    if all_finite(t) { Ok(()) } else { Err(AlignError::NonFinite { what }) }
}

pub(crate) fn shape<const D: usize>(t: &Tensor<D>, expected: [usize; D], what: &'static str) -> Result<()> {
    let found = t.dims();
    if found == expected {
        Ok(())
    } else {
        Err(AlignError::Shape { what, expected: format!("{expected:?}"), found: found.to_vec() })
    }
}

pub(crate) fn non_empty(dims: &[usize], what: &'static str) -> Result<()> {
    if dims.contains(&0) { Err(AlignError::Empty { what }) } else { Ok(()) }
}
