//! Grad-CAM (Selvaraju et al., the paper's Eq. 4) and Grad-CAM++ (Chattopadhay et al.) through
//! Burn's autodiff, on any device.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::cam::{check_features, weighted_sum};
use crate::error::{CamError, Result};

/// How the channel weights `α_k` are derived from the gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum GradCamMethod {
    /// Grad-CAM: `α_k = pool_{u,v} ∂y_c/∂A_k(u, v)`.
    #[default]
    GradCam,
    /// Grad-CAM++ as `pytorch_grad_cam.GradCAMPlusPlus`: with `g = ∂y_c/∂A`,
    /// `a = g² / (2 g² + (Σ_uv A) g³ + 1e-6)` (0 where `g = 0`), `α_k = Σ_uv a · relu(g)`.
    GradCamPlusPlus,
}

/// How Grad-CAM pools the gradients over positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum GradientPooling {
    /// Average (the paper and `pytorch_grad_cam`).
    #[default]
    Mean,
    /// Sum (the original MSSL audio CAM, `detector.py:303-342`): the mean times `H W`.
    Sum,
}

/// Settings of [`grad_cam`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GradCamConfig {
    /// Grad-CAM or Grad-CAM++.
    pub method: GradCamMethod,
    /// Gradient pooling (Grad-CAM only; Grad-CAM++ always sums its weighted gradients).
    pub pooling: GradientPooling,
}

/// The scores of every class and the gradient of one class's score.
#[derive(Debug, Clone)]
pub struct ClassGradient {
    /// The scores returned by the score function, `[N, C]`, without autodiff.
    pub scores: Tensor<2>,
    /// `∂ scores[n, class] / ∂ features[n]`, `[N, K, H, W]`, without autodiff.
    pub gradient: Tensor<4>,
}

/// The gradient of `Σ_n score_fn(A)[n, class]` with respect to the feature map `A`.
///
/// `score_fn` maps the feature map to class scores; for the paper's Grad-CAM it returns the
/// pre-activation logits (the original audio code back-propagates post-sigmoid probabilities:
/// apply the sigmoid inside `score_fn` for that). When samples do not interact in `score_fn`
/// (no batch statistics), row `n` of the gradient is the gradient of sample `n`'s own score.
///
/// `features` may live on any device, with or without autodiff: it is detached and becomes a
/// fresh autodiff leaf, so only `score_fn` is differentiated. Modules used by `score_fn` may sit
/// on the plain (non-autodiff) device; their parameters then act as constants.
///
/// # Shapes
/// `features [N, K, H, W]`, `score_fn: [N, K, H, W] -> [N, C]`.
///
/// # Errors
/// [`CamError::Empty`], [`CamError::Shape`] when `score_fn` does not return `[N, C]`,
/// [`CamError::ClassOutOfRange`], [`CamError::NonFinite`] for NaN/inf scores or gradients,
/// [`CamError::NoGradient`] when the score does not depend on the features.
pub fn class_gradient<F>(features: Tensor<4>, score_fn: F, class: usize) -> Result<ClassGradient>
where
    F: FnOnce(Tensor<4>) -> Tensor<2>,
{
    let [n, ..] = check_features(&features)?;
    let leaf = features.inner().autodiff().require_grad();
    let scores = score_fn(leaf.clone());
    let [sn, c] = scores.dims();
    if sn != n {
        return Err(CamError::Shape {
            what: "class scores",
            expected: format!("[{n}, C] (one row per image)"),
            found: vec![sn, c],
        });
    }
    if class >= c {
        return Err(CamError::ClassOutOfRange { class, num_classes: c });
    }
    if !scores.is_tracked() {
        return Err(CamError::NoGradient);
    }
    let target = scores.clone().slice([0..n, class..class + 1]).sum();
    let grads = target.backward();
    let gradient = leaf.grad(&grads).ok_or(CamError::NoGradient)?;
    let scores = scores.inner();
    if !all_finite(scores.clone()) {
        return Err(CamError::NonFinite { what: "class scores" });
    }
    if !all_finite(gradient.clone()) {
        return Err(CamError::NonFinite { what: "gradients" });
    }
    Ok(ClassGradient { scores, gradient })
}

/// Channel weights `α [N, K]` from the gradient and the activations.
///
/// # Shapes
/// `features [N, K, H, W]`, `gradient [N, K, H, W]` -> `[N, K]`.
///
/// # Errors
/// [`CamError::Shape`] when the two shapes differ.
pub fn channel_weights(
    features: Tensor<4>,
    gradient: Tensor<4>,
    config: &GradCamConfig,
) -> Result<Tensor<2>> {
    let [n, k, h, w] = check_features(&features)?;
    if gradient.dims() != [n, k, h, w] {
        return Err(CamError::Shape {
            what: "gradient",
            expected: format!("{:?}", [n, k, h, w]),
            found: gradient.dims().to_vec(),
        });
    }
    let g = gradient.reshape([n, k, h * w]);
    let alpha = match config.method {
        GradCamMethod::GradCam => match config.pooling {
            GradientPooling::Mean => g.mean_dim(2),
            GradientPooling::Sum => g.sum_dim(2),
        },
        GradCamMethod::GradCamPlusPlus => {
            let a = features.reshape([n, k, h * w]);
            let g2 = g.clone().powi_scalar(2);
            let g3 = g.clone().powi_scalar(3);
            let sum_a = a.sum_dim(2); // [N, K, 1]
            let denom = g2.clone().mul_scalar(2.0) + sum_a * g3;
            let aij = g2 / denom.add_scalar(1e-6);
            let nonzero = g.clone().not_equal_elem(0.0).float();
            (aij * nonzero * g.clamp_min(0.0)).sum_dim(2)
        }
    };
    Ok(alpha.reshape([n, k]))
}

/// Raw Grad-CAM maps and what produced them.
#[derive(Debug, Clone)]
pub struct GradCamOutput {
    /// `Σ_k α_k A_k` per image and requested class, before ReLU: `[N, classes.len(), H, W]`.
    pub maps: Tensor<4>,
    /// The channel weights, `[N, classes.len(), K]`.
    pub weights: Tensor<3>,
    /// The class scores, `[N, C]`.
    pub scores: Tensor<2>,
}

/// Grad-CAM (or Grad-CAM++) maps of `classes` for the feature map `features`, with the class
/// scores given by `score_fn` (see [`class_gradient`]; the head is re-run once per class,
/// because Burn's backward consumes its graph). Apply a
/// [`CamPostprocess`](crate::CamPostprocess) to the raw maps for ReLU, thresholds, normalisation
/// and upsampling.
///
/// # Shapes
/// `features [N, K, H, W]` -> maps `[N, classes.len(), H, W]`.
///
/// # Errors
/// As [`class_gradient`]; [`CamError::Empty`] when `classes` is empty.
pub fn grad_cam<F>(
    features: Tensor<4>,
    score_fn: F,
    classes: &[usize],
    config: &GradCamConfig,
) -> Result<GradCamOutput>
where
    F: Fn(Tensor<4>) -> Tensor<2>,
{
    let [n, k, h, w] = check_features(&features)?;
    if classes.is_empty() {
        return Err(CamError::Empty { what: "class list" });
    }
    let activations = features.inner();
    let mut maps = Vec::with_capacity(classes.len());
    let mut weights = Vec::with_capacity(classes.len());
    let mut scores = None;
    for &class in classes {
        let cg = class_gradient(activations.clone(), &score_fn, class)?;
        let alpha = channel_weights(activations.clone(), cg.gradient, config)?;
        maps.push(weighted_sum(activations.clone(), alpha.clone())?.reshape([n, 1, h, w]));
        weights.push(alpha.reshape([n, 1, k]));
        scores = Some(cg.scores);
    }
    let scores = scores.ok_or(CamError::Empty { what: "class list" })?;
    Ok(GradCamOutput { maps: Tensor::cat(maps, 1), weights: Tensor::cat(weights, 1), scores })
}

pub(crate) fn all_finite<const D: usize>(t: Tensor<D>) -> bool {
    !t.clone().is_nan().any().into_scalar::<bool>() && !t.is_inf().any().into_scalar::<bool>()
}
