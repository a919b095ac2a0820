//! The fine stage's alignment loss (the paper's Eq. 7) between class-specific audio and visual
//! embeddings.

use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

use crate::check::{finite, non_empty};
use crate::error::{AlignError, Result};

/// The distance and hinge of the contrastive loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AlignmentDistance {
    /// MSSL `new/main.py:47-88` (recommended): unit vectors, `D² = 2 - 2 cos`, positives
    /// `D²`, negatives `relu(margin - D)²` (margin 1.4). The default.
    #[default]
    Euclidean,
    /// The original code (`detector.py:425-431`): `d = mean_dims (a - v)²` on unnormalised
    /// vectors, positives `d`, negatives `relu(margin - d)` (margin 2, hinge not squared).
    MeanSquared,
}

/// Settings of [`alignment_loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlignmentLossConfig {
    /// Distance and hinge.
    pub distance: AlignmentDistance,
    /// Margin Δ (1.4 for [`AlignmentDistance::Euclidean`], 2 for the original).
    pub margin: f32,
    /// A (clip, class) embedding takes part when `σ(logit) > threshold` (0.3, footnote 6),
    /// for audio and visual independently.
    pub threshold: f32,
}

impl Default for AlignmentLossConfig {
    fn default() -> Self {
        Self::mssl_new()
    }
}

impl AlignmentLossConfig {
    /// MSSL `new/`: Euclidean, margin 1.4, threshold 0.3.
    pub fn mssl_new() -> Self {
        Self { distance: AlignmentDistance::Euclidean, margin: 1.4, threshold: 0.3 }
    }

    /// The original code: mean squared distance, margin 2, threshold 0.3.
    pub fn original() -> Self {
        Self { distance: AlignmentDistance::MeanSquared, margin: 2.0, threshold: 0.3 }
    }
}

/// The loss and its parts.
#[derive(Debug, Clone)]
pub struct AlignmentLoss {
    /// `positive + negative`, scalar `[1]`.
    pub loss: Tensor<1>,
    /// Mean positive term over valid positive pairs (0 when there are none).
    pub positive: Tensor<1>,
    /// Mean negative term over valid negative pairs (0 when there are none).
    pub negative: Tensor<1>,
    /// Valid positive pairs (same clip, same class, both valid).
    pub positive_pairs: usize,
    /// Valid negative pairs.
    pub negative_pairs: usize,
}

const SQRT_EPS: f32 = 1e-12;
const COUNT_EPS: f32 = 1e-10;

/// The contrastive alignment loss (Eq. 7 as MSSL `new/` computes it).
///
/// The `M = N C` (clip, class) audio embeddings `g_a` are compared with the `M` visual ones
/// `g_v`; the pair `(k, l)` takes part when audio class `k` and visual class `l` are both valid
/// (`σ(logit) > threshold`); positives are the same clip and the same class (`k = l`), every
/// other valid pair is a negative. The positive and negative terms are averaged separately over
/// their valid pairs (each denominator `count + 1e-10 M²`, as the code). Numerically safe: the
/// square root sees `max(D², 0) + 1e-12`, so coinciding vectors give neither NaN nor an infinite
/// gradient.
///
/// # Shapes
/// `audio [N, C, D]`, `visual [N, C, D]` (L2-normalised for the Euclidean distance; zero vectors
/// allowed), `logits_a [N, C]`, `logits_v [N, C]` -> scalars.
///
/// # Errors
/// [`AlignError::Shape`] naming the mismatching input, [`AlignError::Empty`],
/// [`AlignError::NonFinite`], [`AlignError::Config`] for a non-positive margin or a threshold
/// outside `[0, 1)`.
pub fn alignment_loss(
    audio: Tensor<3>,
    visual: Tensor<3>,
    logits_a: Tensor<2>,
    logits_v: Tensor<2>,
    config: &AlignmentLossConfig,
) -> Result<AlignmentLoss> {
    let [n, c, d] = audio.dims();
    non_empty(&[n, c, d], "audio embeddings")?;
    if visual.dims() != [n, c, d] {
        return Err(AlignError::Shape {
            what: "visual embeddings",
            expected: format!("[{n}, {c}, {d}] like the audio embeddings"),
            found: visual.dims().to_vec(),
        });
    }
    for (t, what) in [(&logits_a, "audio class logits"), (&logits_v, "visual class logits")] {
        if t.dims() != [n, c] {
            return Err(AlignError::Shape {
                what,
                expected: format!("[{n}, {c}]"),
                found: t.dims().to_vec(),
            });
        }
        finite(t, what)?;
    }
    finite(&audio, "audio embeddings")?;
    finite(&visual, "visual embeddings")?;
    let margin_ok = config.margin.is_finite() && config.margin > 0.0;
    if !margin_ok || !(0.0..1.0).contains(&config.threshold) {
        return Err(AlignError::Config(format!(
            "margin must be > 0 and threshold in [0, 1), got margin {} threshold {}",
            config.margin, config.threshold
        )));
    }
    let m = n * c;
    let a = audio.reshape([m, d]);
    let v = visual.reshape([m, d]);
    // Validity masks (constants: no gradient flows through a comparison).
    let va = sigmoid(logits_a.detach()).greater_elem(config.threshold).float().reshape([m, 1]);
    let vv = sigmoid(logits_v.detach()).greater_elem(config.threshold).float().reshape([1, m]);
    let eff = va.clone().matmul(vv.clone()); // [M, M]
    let device = a.device();
    let eye = Tensor::<2>::eye(m, &device);
    let pos_mask = eff.clone() * eye.clone();
    let neg_mask = eff * eye.neg().add_scalar(1.0);

    let dots = a.clone().matmul(v.clone().transpose()); // [M, M]
    let (pos_term, neg_term) = match config.distance {
        AlignmentDistance::Euclidean => {
            // Positives use D² as is (linear, so round-off below 0 is harmless and the gradient
            // stays PyTorch's); only the square root sees the clamp.
            let d2 = dots.mul_scalar(-2.0).add_scalar(2.0);
            let dist = d2.clone().clamp_min(0.0).add_scalar(SQRT_EPS).sqrt();
            let hinge = dist.neg().add_scalar(config.margin).clamp_min(0.0).powi_scalar(2);
            (d2, hinge)
        }
        AlignmentDistance::MeanSquared => {
            let na = a.powi_scalar(2).sum_dim(1); // [M, 1]
            let nv = v.powi_scalar(2).sum_dim(1).reshape([1, m]);
            let dsq = (na + nv - dots.mul_scalar(2.0)).div_scalar(d as f32);
            let hinge = dsq.clone().neg().add_scalar(config.margin).clamp_min(0.0);
            (dsq, hinge)
        }
    };
    let pad = COUNT_EPS * (m * m) as f32;
    let n_pos = pos_mask.clone().sum();
    let n_neg = neg_mask.clone().sum();
    let positive_pairs = n_pos.clone().into_scalar::<f32>().round() as usize;
    let negative_pairs = n_neg.clone().into_scalar::<f32>().round() as usize;
    let positive = (pos_term * pos_mask).sum() / n_pos.add_scalar(pad);
    let negative = (neg_term * neg_mask).sum() / n_neg.add_scalar(pad);
    Ok(AlignmentLoss {
        loss: positive.clone() + negative.clone(),
        positive,
        negative,
        positive_pairs,
        negative_pairs,
    })
}
