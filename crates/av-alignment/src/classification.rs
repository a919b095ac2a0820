//! Multi-label classification on soft labels (the paper's `L_cls`, MSSL `nn.BCELoss`).

use burn::tensor::Tensor;
use burn::tensor::activation::log_sigmoid;

use crate::check::{finite, non_empty, shape};
use crate::error::{AlignError, Result};

/// Mean binary cross-entropy of `σ(logits)` against soft labels in `[0, 1]`, as
/// `nn.BCELoss()(torch.sigmoid(logits), labels)`: each log term is clamped at -100 like
/// PyTorch's, but computed from the logits (`log σ(x) = -softplus(-x)`) so it stays accurate
/// where `σ(x)` rounds to 0 or 1 in `f32`.
///
/// # Shapes
/// `logits [N, C]`, `labels [N, C]` -> scalar `[1]`.
///
/// # Errors
/// [`AlignError::Shape`], [`AlignError::Empty`], [`AlignError::NonFinite`],
/// [`AlignError::LabelRange`].
pub fn multilabel_bce(logits: Tensor<2>, labels: Tensor<2>) -> Result<Tensor<1>> {
    non_empty(&logits.dims(), "class logits")?;
    shape(&labels, logits.dims(), "class labels")?;
    finite(&logits, "class logits")?;
    finite(&labels, "class labels")?;
    let out_of_range = labels.clone().lower_elem(0.0).any().into_scalar::<bool>()
        || labels.clone().greater_elem(1.0).any().into_scalar::<bool>();
    if out_of_range {
        return Err(AlignError::LabelRange { what: "class labels" });
    }
    let log_p = log_sigmoid(logits.clone()).clamp_min(-100.0);
    let log_not_p = log_sigmoid(logits.neg()).clamp_min(-100.0);
    let one_minus = labels.clone().neg().add_scalar(1.0);
    Ok((labels * log_p + one_minus * log_not_p).neg().mean())
}
