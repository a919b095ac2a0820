//! CAM from a bias-free linear classifier, and the weighted sum shared by every method.

use burn::tensor::Tensor;

use crate::error::{CamError, Result};

/// Checks a feature map `[N, K, H, W]` for emptiness.
pub(crate) fn check_features(features: &Tensor<4>) -> Result<[usize; 4]> {
    let dims = features.dims();
    if dims.contains(&0) {
        return Err(CamError::Empty { what: "feature map" });
    }
    Ok(dims)
}

/// Class activation maps of a linear classifier on globally pooled features (Zhou et al.,
/// MSSL `new/stage_two.py:53-54`): `CAM_c(u, v) = Σ_k W[k, c] A_k(u, v)`, before any ReLU.
///
/// For a bias-free classifier on average-pooled features this is Grad-CAM up to the positive
/// constant `1/(H W)` (the gradient of the logit with respect to `A_k(u, v)` is `W[k, c]/(H W)`).
///
/// # Shapes
/// `features [N, K, H, W]`, `weight [K, C]` (Burn's `Linear` layout) -> `[N, C, H, W]`.
///
/// # Errors
/// [`CamError::Shape`] when `K` differs, [`CamError::Empty`] for an empty batch or map.
pub fn cam(features: Tensor<4>, weight: Tensor<2>) -> Result<Tensor<4>> {
    let [n, k, h, w] = check_features(&features)?;
    let [wk, c] = weight.dims();
    if wk != k {
        return Err(CamError::Shape {
            what: "classifier weight",
            expected: format!("[{k}, C] to match the {k} feature channels"),
            found: vec![wk, c],
        });
    }
    let flat = features.reshape([n, k, h * w]).swap_dims(1, 2); // [N, HW, K]
    Ok(flat.matmul(weight.unsqueeze::<3>()).swap_dims(1, 2).reshape([n, c, h, w]))
}

/// The weighted sum of feature channels `Σ_k α[n, k] A[n, k]`.
///
/// # Shapes
/// `features [N, K, H, W]`, `alpha [N, K]` -> `[N, H, W]`.
///
/// # Errors
/// [`CamError::Shape`] when the batch or channel counts differ.
pub fn weighted_sum(features: Tensor<4>, alpha: Tensor<2>) -> Result<Tensor<3>> {
    let [n, k, h, w] = check_features(&features)?;
    if alpha.dims() != [n, k] {
        return Err(CamError::Shape {
            what: "channel weights",
            expected: format!("[{n}, {k}]"),
            found: alpha.dims().to_vec(),
        });
    }
    Ok(alpha.reshape([n, 1, k]).matmul(features.reshape([n, k, h * w])).reshape([n, h, w]))
}
