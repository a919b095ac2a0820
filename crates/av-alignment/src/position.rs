//! A per-position contrastive loss (EZ-VSL / LVS style) that trains the test-time localization
//! maps `relu(cos(g_a^c, g_v(p)))` (the paper's Eq. 8) directly, where Eq. 7 only aligns pooled
//! vectors.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::check::{finite, non_empty, shape};
use crate::error::{AlignError, Result};

/// How a (clip `i`, class `c`) audio embedding scores the visual map of clip `j`, over the
/// positions `p` of the similarity map `s_p = <g_a[i, c], g_v[j, p]>`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum PositionScore {
    /// `max_p s_p` (EZ-VSL, multiple-instance max pooling). The default.
    #[default]
    Max,
    /// The LVS tri-map positive: the soft-masked mean `Σ_p m_p s_p / Σ_p m_p` with
    /// `m_p = σ((s_p - eps_pos) / soft)`, the mask computed without gradient (detached), as LVS.
    /// [`PositionScore::lvs`] gives LVS's settings.
    SoftTriMap {
        /// Similarity above which a position counts as foreground (LVS: 0.65).
        eps_pos: f32,
        /// Softness of the sigmoid threshold (LVS: 0.03).
        soft: f32,
    },
}

impl PositionScore {
    /// LVS's tri-map positive: `eps_pos = 0.65`, `soft = 0.03`.
    pub fn lvs() -> Self {
        Self::SoftTriMap { eps_pos: 0.65, soft: 0.03 }
    }
}

/// LVS's hard background negative: each anchor's own clip, restricted to its low-similarity
/// positions, `Σ_p n_p s_p / Σ_p n_p` with `n_p = 1 - σ((s_p - eps_neg) / soft)` (detached mask).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BackgroundNegative {
    /// Similarity below which a position counts as background (LVS: 0.4).
    pub eps_neg: f32,
    /// Softness of the sigmoid threshold (LVS: 0.03).
    pub soft: f32,
}

impl Default for BackgroundNegative {
    /// LVS: `eps_neg = 0.4`, `soft = 0.03`.
    fn default() -> Self {
        Self { eps_neg: 0.4, soft: 0.03 }
    }
}

/// Cross-class negatives within a frame: for an anchor `(i, c)`, every other class `c'` shown
/// in clip `i`'s frame (`visual_labels[i, c'] > negative_threshold`) adds the negative
/// `Σ_p w_p s_p / Σ_p w_p` of `s_p = <g_a[i, c], g_v[i, p]>` over where the visual class
/// activation map of `c'` is high: `w_p = relu(cam_{c'}(p) / max_p cam_{c'} - cam_floor)`
/// (detached). Class `c`'s audio is pushed away from the other instruments of its own picture,
/// which a class-agnostic "sounding object" map never is by the cross-clip and background
/// negatives. Needs the visual CAMs ([`position_contrastive_loss_with_cams`]); a class whose
/// CAM has no value above the floor adds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CrossClassNegative {
    /// Fraction of the CAM's maximum below which a position does not count (0.5).
    pub cam_floor: f32,
}

impl Default for CrossClassNegative {
    fn default() -> Self {
        Self { cam_floor: 0.5 }
    }
}

/// Settings of [`position_contrastive_loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionLossConfig {
    /// How a visual map is scored ([`PositionScore::Max`] by default).
    pub score: PositionScore,
    /// Softmax temperature `τ` (0.07).
    pub temperature: f32,
    /// `(i, c)` is an anchor when `audio_labels[i, c] > anchor_threshold` (0.5).
    pub anchor_threshold: f32,
    /// Clip `j ≠ i` is a negative for anchor `(i, c)` only when
    /// `visual_labels[j, c] <= negative_threshold` (0.5): a clip that shows class `c` is neither
    /// positive nor negative.
    pub negative_threshold: f32,
    /// Adds LVS's hard background negative to every anchor; `None` (off) by default.
    pub background_negative: Option<BackgroundNegative>,
    /// Adds the cross-class negatives of the anchor's own frame; `None` (off) by default, and in
    /// plans written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_class: Option<CrossClassNegative>,
}

impl Default for PositionLossConfig {
    /// EZ-VSL: max score, `τ = 0.07`, thresholds 0.5, no background negative.
    fn default() -> Self {
        Self {
            score: PositionScore::Max,
            temperature: 0.07,
            anchor_threshold: 0.5,
            negative_threshold: 0.5,
            background_negative: None,
            cross_class: None,
        }
    }
}

impl PositionLossConfig {
    /// LVS: tri-map score ([`PositionScore::lvs`]) and background negatives
    /// ([`BackgroundNegative::default`]), `τ = 0.07`, thresholds 0.5.
    pub fn lvs() -> Self {
        Self {
            score: PositionScore::lvs(),
            background_negative: Some(BackgroundNegative::default()),
            ..Self::default()
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`AlignError::Config`] for a temperature or softness that is not finite and `> 0`, or a
    /// threshold / `eps` that is not finite.
    pub fn validate(&self) -> Result<()> {
        let positive = |x: f32| x.is_finite() && x > 0.0;
        if !positive(self.temperature) {
            return Err(AlignError::Config(format!("temperature must be > 0, got {}", self.temperature)));
        }
        if !self.anchor_threshold.is_finite() || !self.negative_threshold.is_finite() {
            return Err(AlignError::Config(format!(
                "thresholds must be finite, got anchor {} negative {}",
                self.anchor_threshold, self.negative_threshold
            )));
        }
        if let PositionScore::SoftTriMap { eps_pos, soft } = self.score
            && (!eps_pos.is_finite() || !positive(soft))
        {
            return Err(AlignError::Config(format!(
                "tri-map score needs a finite eps_pos and soft > 0, got eps_pos {eps_pos} soft {soft}"
            )));
        }
        if let Some(BackgroundNegative { eps_neg, soft }) = self.background_negative
            && (!eps_neg.is_finite() || !positive(soft))
        {
            return Err(AlignError::Config(format!(
                "background negative needs a finite eps_neg and soft > 0, got eps_neg {eps_neg} soft {soft}"
            )));
        }
        if let Some(CrossClassNegative { cam_floor }) = self.cross_class
            && !(0.0..1.0).contains(&cam_floor)
        {
            return Err(AlignError::Config(format!(
                "cross-class cam_floor must be in [0, 1), got {cam_floor}"
            )));
        }
        Ok(())
    }
}

/// The loss and what to log.
#[derive(Debug, Clone)]
pub struct PositionLoss {
    /// Mean over anchors of the per-anchor cross-entropy, scalar `[1]`; 0 without anchors.
    pub loss: Tensor<1>,
    /// Anchors `(i, c)`, i.e. `audio_labels[i, c] > anchor_threshold`.
    pub anchors: usize,
    /// Mean positive score `score(i, c, i)` (cosine scale, before the temperature) over the
    /// anchors; 0 without anchors.
    pub mean_positive: f32,
}

/// Fill value of excluded logits before the row maximum is taken (their `exp` is also multiplied
/// by 0, so the value only needs to stay below every valid logit; it fits `f16`).
const EXCLUDED_LOGIT: f32 = -1e4;

/// The per-position contrastive loss (EZ-VSL / LVS style) on the maps of Eq. 8.
///
/// Every anchor `(i, c)` (`audio_labels[i, c] > anchor_threshold`) scores the visual maps of its
/// own clip (the positive) and of every negative clip `j ≠ i` (`visual_labels[j, c] <=
/// negative_threshold`) with [`PositionScore`] over the similarities
/// `s_p = <g_a[i, c], g_v[j, p]>`, plus, when enabled, the hard background negative of its own
/// clip ([`BackgroundNegative`]). With the logits `score / τ`,
/// `loss(i, c) = -log softmax(logits)[j = i]`; the loss is the mean over anchors (a plain 0,
/// never NaN, without anchors; an anchor without negatives contributes 0).
///
/// Batched: one `[N C, D] x [D, N P]` product gives all similarities (and, for the background
/// and cross-class negatives, one `[C, D] x [D, P]` product per clip its own); the log-sum-exp
/// over the valid logits subtracts the (detached) row maximum and multiplies excluded terms by 0.
/// The soft masks are rescaled by their maximum (and evaluated in the log domain for sharp
/// settings), so `Σ_p m_p` never underflows to 0; each tri-map score is one fused operation
/// ([`av_kernels::soft_masked_mean`]). Differentiable with respect to `g_a` and `g_v`; labels and masks are
/// constants. Logits below `-1e4` (only possible with `τ < 1e-4`) are not supported.
///
/// # Shapes
/// `g_a [N, C, D]` (unit vectors), `g_v [N, P, D]` (unit vectors at the `P = H W` positions),
/// `audio_labels [N, C]`, `visual_labels [N, C]` in `[0, 1]` -> scalar `[1]`.
///
/// # Errors
/// [`AlignError::Shape`] naming the mismatching input, [`AlignError::Empty`],
/// [`AlignError::NonFinite`], [`AlignError::LabelRange`], [`AlignError::Config`] (see
/// [`PositionLossConfig::validate`]).
pub fn position_contrastive_loss(
    g_a: Tensor<3>,
    g_v: Tensor<3>,
    audio_labels: Tensor<2>,
    visual_labels: Tensor<2>,
    config: &PositionLossConfig,
) -> Result<PositionLoss> {
    position_contrastive_loss_with_cams(g_a, g_v, audio_labels, visual_labels, None, config)
}

/// [`position_contrastive_loss`] with the visual class activation maps that
/// [`CrossClassNegative`] needs: `cams [N, C, P]` (any scale; negative values count as 0;
/// treated as constants). `None` is only allowed when `config.cross_class` is off.
///
/// # Errors
/// As [`position_contrastive_loss`]; [`AlignError::Config`] when cross-class negatives are on
/// without CAMs; [`AlignError::Shape`] / [`AlignError::NonFinite`] for bad CAMs.
pub fn position_contrastive_loss_with_cams(
    g_a: Tensor<3>,
    g_v: Tensor<3>,
    audio_labels: Tensor<2>,
    visual_labels: Tensor<2>,
    cams: Option<Tensor<3>>,
    config: &PositionLossConfig,
) -> Result<PositionLoss> {
    let [n, c, d] = g_a.dims();
    non_empty(&[n, c, d], "audio embeddings")?;
    let [vn, p, vd] = g_v.dims();
    non_empty(&[vn, p, vd], "visual position features")?;
    if [vn, vd] != [n, d] {
        return Err(AlignError::Shape {
            what: "visual position features",
            expected: format!("[{n}, P, {d}] (batch and width of the audio embeddings)"),
            found: vec![vn, p, vd],
        });
    }
    shape(&audio_labels, [n, c], "audio labels")?;
    shape(&visual_labels, [n, c], "visual labels")?;
    finite(&g_a, "audio embeddings")?;
    finite(&g_v, "visual position features")?;
    for (t, what) in [(&audio_labels, "audio labels"), (&visual_labels, "visual labels")] {
        finite(t, what)?;
        in_unit_range(t, what)?;
    }
    config.validate()?;
    let cross_class = match (config.cross_class, cams) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(AlignError::Config("cross-class negatives need the visual CAMs".into()));
        }
        (Some(cfg), Some(cams)) => {
            shape(&cams, [n, c, p], "visual CAMs")?;
            finite(&cams, "visual CAMs")?;
            Some((cfg, cams))
        }
    };

    let m = n * c;
    let device = g_a.device();
    // All similarities: row (i, c), clip j, position p.
    let sim =
        g_a.clone().reshape([m, d]).matmul(g_v.clone().reshape([n * p, d]).transpose()).reshape([m, n, p]);
    let score = match config.score {
        PositionScore::Max => sim.max_dim(2).reshape([m, n]),
        PositionScore::SoftTriMap { eps_pos, soft } => soft_masked_mean(sim, eps_pos, soft, false),
    };

    // Constant masks, [M, N]: the own clip, and the negatives (other clips not showing class c).
    let eye = Tensor::<2>::eye(n, &device);
    let own = (eye.clone().reshape([n, 1, n]) * Tensor::<3>::ones([1, c, 1], &device)).reshape([m, n]);
    let not_shown = visual_labels
        .clone()
        .detach()
        .lower_equal_elem(config.negative_threshold)
        .float()
        .transpose()
        .reshape([1, c, n]);
    let negatives = (eye.neg().add_scalar(1.0).reshape([n, 1, n]) * not_shown).reshape([m, n]);
    let anchor = audio_labels.detach().greater_elem(config.anchor_threshold).float().reshape([m, 1]);

    let inv_t = 1.0 / config.temperature;
    let logits = score.clone().mul_scalar(inv_t);
    // x * 1 + 0 * rest is exact: the positive logit equals its entry in `logits`.
    let positive = (logits.clone() * own.clone()).sum_dim(1); // [M, 1]
    let mut valid = own.clone() + negatives;
    let mut logits = logits;
    // Each anchor against its own clip only, [N, C, P]: the background and cross-class negatives.
    let own_sim = (config.background_negative.is_some() || cross_class.is_some())
        .then(|| g_a.clone().matmul(g_v.clone().swap_dims(1, 2)));
    if let (Some(BackgroundNegative { eps_neg, soft }), Some(own_sim)) =
        (config.background_negative, &own_sim)
    {
        let background = soft_masked_mean(own_sim.clone().reshape([m, 1, p]), eps_neg, soft, true); // [M, 1]
        logits = Tensor::cat(vec![logits, background.mul_scalar(inv_t)], 1);
        valid = Tensor::cat(vec![valid, Tensor::<2>::ones([m, 1], &device)], 1);
    }
    if let (Some((CrossClassNegative { cam_floor }, cams)), Some(own_sim)) = (cross_class, own_sim) {
        let (cross, shown) = cross_class_logits(own_sim, cams, &visual_labels, config, cam_floor);
        logits = Tensor::cat(vec![logits, cross.mul_scalar(inv_t)], 1);
        valid = Tensor::cat(vec![valid, shown], 1);
    }
    let masked = logits.mask_fill(valid.clone().equal_elem(0.0), EXCLUDED_LOGIT);
    let shift = masked.clone().max_dim(1).detach(); // [M, 1]
    let lse = ((masked - shift.clone()).exp() * valid).sum_dim(1).log() + shift;
    let per_anchor = lse - positive;

    let anchors = anchor.clone().sum().into_scalar::<f32>().round() as usize;
    let denom = anchors.max(1) as f32;
    let loss = (per_anchor * anchor.clone()).sum().div_scalar(denom);
    let positive_score = (score.detach() * own).sum_dim(1);
    let mean_positive = (positive_score * anchor).sum().into_scalar::<f32>() / denom;
    Ok(PositionLoss { loss, anchors, mean_positive })
}

/// The cross-class negatives of every anchor row `(i, c)`: `[M, C]` scores (row `(i, c)`,
/// column `c'`: the CAM-weighted mean similarity of `g_a[i, c]` over frame `i`'s positions where
/// class `c'` is seen) and their validity (`c' != c`, shown in frame `i`, CAM above the floor).
/// `own [N, C, P]` holds the similarities `<g_a[i, c], g_v[i, p]>` of every anchor with its own
/// clip.
fn cross_class_logits(
    own: Tensor<3>,
    cams: Tensor<3>,
    visual_labels: &Tensor<2>,
    config: &PositionLossConfig,
    cam_floor: f32,
) -> (Tensor<2>, Tensor<2>) {
    let [n, c, _] = own.dims();
    let device = own.device();
    let cams = cams.detach().clamp_min(0.0);
    let peak = cams.clone().max_dim(2).clamp_min(f32::MIN_POSITIVE); // [N, C, 1]
    let w = (cams / peak).sub_scalar(cam_floor).clamp_min(0.0); // [N, C', P]
    let total = w.clone().sum_dim(2); // [N, C', 1]
    let weights = w / total.clone().clamp_min(f32::MIN_POSITIVE);
    let cross = own.matmul(weights.swap_dims(1, 2)); // [N, C, C']
    let other = Tensor::<2>::eye(c, &device).neg().add_scalar(1.0).reshape([1, c, c]);
    let shown =
        visual_labels.clone().detach().greater_elem(config.negative_threshold).float().reshape([n, 1, c]);
    let has_mass = total.greater_elem(0.0).float().reshape([n, 1, c]);
    let valid = other * shown * has_mass;
    (cross.reshape([n * c, c]), valid.reshape([n * c, c]))
}

/// `Σ_p w_p s_p / Σ_p w_p` over the last axis with the detached soft mask
/// `w_p = σ(±(s_p - eps) / soft)` (`-` for the background complement `1 - σ(·)`), rescaled by
/// its maximum over `p` (the same ratio, but the denominator is at least 1). `[M, N, P]` ->
/// `[M, N]`.
///
/// One fused operation with its own backward ([`av_kernels::soft_masked_mean`]; a dozen tensor
/// operations each way before). For similarities of unit vectors (`|s| <= 1`) and settings with
/// `(1 + |eps|) / soft` at most [`av_kernels::masked_mean::SIGMOID_SAFE`] (80), `σ` cannot
/// underflow, so the mask is `σ(z) / max_p σ(z)` (`z` clamped to `±80`, which those inputs never
/// reach). Otherwise it is evaluated as `exp(log σ(z) - max_p log σ(z))`, which never underflows
/// to an all-zero row but costs a `log1p` and two `exp` per element.
fn soft_masked_mean(sim: Tensor<3>, eps: f32, soft: f32, complement: bool) -> Tensor<2> {
    av_kernels::soft_masked_mean(sim, eps, soft, complement)
}

fn in_unit_range(labels: &Tensor<2>, what: &'static str) -> Result<()> {
    let out = labels.clone().lower_elem(0.0).any().into_scalar::<bool>()
        || labels.clone().greater_elem(1.0).any().into_scalar::<bool>();
    if out { Err(AlignError::LabelRange { what }) } else { Ok(()) }
}
