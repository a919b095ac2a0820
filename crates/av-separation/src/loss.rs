//! Sound-of-Pixels' criteria (`models/criterion.py`): weighted BCE for binary masks, weighted L1
//! (and L2) for ratio masks; each is the mean over pixels of `w · err`, then the mean over the
//! sources (docs/reference_implementation.md §8.6).

use burn::tensor::Tensor;
use burn::tensor::activation::relu;

use crate::batch::SeparationBatch;
use crate::error::{Result, SeparationError};
use crate::mix::MaskKind;
use crate::model::MaskPrediction;

/// PyTorch's `binary_cross_entropy` clamps each log term at -100.
const BCE_LOG_FLOOR: f64 = -100.0;

/// `mean(w · BCE(p, y))` on probabilities, as `F.binary_cross_entropy(pred, target, weight=w)`
/// (log terms floored at -100 as PyTorch does).
///
/// # Shapes
/// `pred`, `target`: `[B, 1, F, T]`; `weight`: broadcastable (`[B, 1, F, T]`) -> `[1]`.
pub fn weighted_bce(pred: Tensor<4>, target: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    let log_p = pred.clone().log().clamp_min(BCE_LOG_FLOOR);
    let log_1mp = pred.neg().add_scalar(1.0).log().clamp_min(BCE_LOG_FLOOR);
    let bce = target.clone().mul(log_p).add(target.neg().add_scalar(1.0).mul(log_1mp)).neg();
    bce.mul(weight).mean()
}

/// The same loss computed from logits `z` (`p = σ(z)`), in the stable form
/// `max(z, 0) − y·z + log1p(exp(−|z|))`; equal to [`weighted_bce`] of `σ(z)` as long as `σ(z)`
/// is not rounded to exactly 0 or 1 in `f32` (|z| below about 16); beyond, this form keeps the
/// exact loss and finite gradients, where the probability form hits PyTorch's -100 floor.
///
/// # Shapes
/// As [`weighted_bce`].
pub fn weighted_bce_with_logits(logits: Tensor<4>, target: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    let softplus = relu(logits.clone()).add(logits.clone().abs().neg().exp().log1p());
    softplus.sub(target.mul(logits)).mul(weight).mean()
}

/// `mean(w · |p − y|)` (`L1Loss`).
///
/// # Shapes
/// As [`weighted_bce`].
pub fn weighted_l1(pred: Tensor<4>, target: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    pred.sub(target).abs().mul(weight).mean()
}

/// `mean(w · (p − y)²)` (`L2Loss`).
///
/// # Shapes
/// As [`weighted_bce`].
pub fn weighted_l2(pred: Tensor<4>, target: Tensor<4>, weight: Tensor<4>) -> Tensor<1> {
    pred.sub(target).square().mul(weight).mean()
}

/// SoP's criterion over all sources of a batch: per source, weighted BCE (binary masks; from the
/// logits when the prediction has them) or weighted L1 (ratio masks), then the mean over sources.
///
/// # Shapes
/// `predictions`: `S` masks `[B, 1, F, T]`; `batch.targets`: `[B, S, F, T]` -> `[1]`.
///
/// # Errors
/// [`SeparationError::Shape`] when the number or shape of predictions does not match the batch.
pub fn separation_loss(
    predictions: &[MaskPrediction],
    batch: &SeparationBatch,
    kind: MaskKind,
) -> Result<Tensor<1>> {
    let [b, s, f, t] = batch.targets.dims();
    if predictions.len() != s || predictions.iter().any(|p| p.mask.dims() != [b, 1, f, t]) {
        return Err(SeparationError::Shape {
            op: "separation_loss",
            expected: format!("{s} predictions of [{b}, 1, {f}, {t}]"),
            actual: format!("{:?}", predictions.iter().map(|p| p.mask.dims()).collect::<Vec<_>>()),
        });
    }
    let losses: Vec<Tensor<1>> = predictions
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let target = batch.target(n);
            let weight = batch.weight.clone();
            match (kind, &p.logits) {
                (MaskKind::Binary, Some(z)) => weighted_bce_with_logits(z.clone(), target, weight),
                (MaskKind::Binary, None) => weighted_bce(p.mask.clone(), target, weight),
                (MaskKind::Ratio, _) => weighted_l1(p.mask.clone(), target, weight),
            }
        })
        .collect();
    Ok(Tensor::cat(losses, 0).mean())
}
