//! Class-aware weighted pooling (the paper's Eq. 5): one feature vector per class, pooled with
//! that class's activation map as weights.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::check::non_empty;
use crate::error::{AlignError, Result};

/// The denominator of Eq. 5 is guarded by this constant, as the official code does.
pub const POOL_EPS: f32 = 1e-10;

/// How the weighted sum is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PoolNormalization {
    /// Eq. 5 exactly: `Σ_uv E W / (Σ_uv W + 1e-10)`. The default.
    #[default]
    WeightedMean,
    /// MSSL `new/stage_two.py:56-63`: `mean_uv(E W) / (Σ_uv W + 1e-10)`, i.e. Eq. 5 divided by
    /// `H W`. After the bias-free projection and L2 normalisation both give the same embedding.
    OfficialCode,
}

/// Class-aware pooling `f[n, c] = Σ_uv E[n, :, u, v] W[n, c, u, v] / (Σ_uv W[n, c] + 1e-10)`.
///
/// `embed` is the map that is pooled (`E = F`, the backbone's last map, in MSSL `new/`; a
/// separate map E such as the original visual `layer5` output in footnote 5), `weights` the
/// class maps (non-negative, e.g. `relu(CAM)`, usually detached). A class whose weights are all
/// zero gets the zero vector, never NaN (docs/reference_implementation.md §10.21).
///
/// # Shapes
/// `embed [N, K, H, W]`, `weights [N, C, H, W]` -> `[N, C, K]`.
///
/// # Errors
/// [`AlignError::Shape`] when the batch or spatial sizes differ, [`AlignError::Empty`].
pub fn class_aware_pool(embed: Tensor<4>, weights: Tensor<4>, how: PoolNormalization) -> Result<Tensor<3>> {
    let [n, k, h, w] = embed.dims();
    let [wn, c, wh, ww] = weights.dims();
    non_empty(&[n, k, h, w], "pooled feature map")?;
    non_empty(&[wn, c, wh, ww], "class weights")?;
    if [wn, wh, ww] != [n, h, w] {
        return Err(AlignError::Shape {
            what: "class weights",
            expected: format!("[{n}, C, {h}, {w}] (batch and spatial size of the pooled map)"),
            found: vec![wn, c, wh, ww],
        });
    }
    let wflat = weights.reshape([n, c, h * w]);
    let denom = wflat.clone().sum_dim(2).add_scalar(POOL_EPS); // [N, C, 1]
    let num = wflat.matmul(embed.reshape([n, k, h * w]).swap_dims(1, 2)); // [N, C, K]
    let num = match how {
        PoolNormalization::WeightedMean => num,
        PoolNormalization::OfficialCode => num.div_scalar((h * w) as f32),
    };
    Ok(num / denom)
}
