//! Localization (the paper's Eq. 8) and the two ablation baselines' maps.

use burn::tensor::activation::{relu, sigmoid, softmax};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use av_gradcam::{CamNormalization, normalize, upsample_bilinear};

use crate::error::Result;
use crate::model::network::{AvFeatures, AvModel, centre_positions};

/// How the per-class maps are produced (the three rows of the paper's Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MapSource {
    /// Eq. 8 (ours): `relu(cos(g_a^c, g_v(u, v)))` between the class's projected audio embedding
    /// and the projected visual feature at every position (MSSL `new/main.py:103-105`). The default.
    #[default]
    Alignment,
    /// Eq. 8 gated by the visual class activation map: `relu(cos(g_a^c, g_v(u, v))) *
    /// CAM_v^c(u, v) / max CAM_v^c`, as the original code's AudioSet evaluation gates the
    /// alignment map with the class's visual CAM.
    AlignmentCamGated,
    /// Eq. 8 as a spatial softmax, the original MSSL code's `softmax(-10 d)`: for each class,
    /// `softmax_p(-10 d(g_a^c, g_v(p)))` with `d = sqrt(2 - 2 cos)` the Euclidean distance of
    /// the unit vectors, divided by its maximum.
    AlignmentSoftmax,
    /// Eq. 8 on spatially centred visual embeddings: `relu(cos(g_a^c, g_v(u, v) - mean_p
    /// g_v(p)))`. The frame's mean embedding (what every position shares: the photo, the
    /// style) is removed before the cosine, so positions score by what sets them apart. The
    /// same as [`MapSource::Alignment`] for a model trained with
    /// [`crate::model::AvModelConfig::centre_visual_positions`].
    AlignmentCentred,
    /// Multi-task baseline: the visual class activation map `relu(CAM_v^c)` of each class,
    /// max-normalised (coarse, category-level association; mixed over classes by the audio
    /// probabilities).
    VisualCam,
    /// AVC baseline, class-agnostic: the AVC MLP's "corresponding" probability between the
    /// clip's pooled audio vector and the visual feature at every position (every class gets the
    /// same map).
    Correspondence,
}

/// How classes are mixed into the class-agnostic map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClassMixing {
    /// The intended rule (paper §3.3 and docs/reference_implementation.md §5.1): `p = σ(logit_a)`, valid classes
    /// `{c : p_c > threshold} ∪ {argmax}`, `L = Σ_valid p_c S_c / Σ_valid p_c`. The default.
    #[default]
    Intended,
    /// The shipped `new/` code: `p = σ(σ(logit_a))` (double sigmoid, so every class is valid),
    /// same formula. Reproduces the official code's numbers.
    OfficialCode,
    /// Beyond the paper: a class must be heard **and** seen, `p = σ(logit_a) σ(logit_v)`, same
    /// validity rule and formula. A class the audio classifier hears but the frame does not
    /// show (a misheard timbre, say) gets little weight.
    AudioVisual,
}

/// How the valid classes' maps are combined into the class-agnostic map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClassCombine {
    /// The paper's weighted mean (MSSL `new/main.py:visualize`): `L = Σ_valid p_c S_c /
    /// Σ_valid p_c`, divided by its maximum. The class whose cosines run highest sets the
    /// scale, so a second sounding instrument whose map peaks lower can fall below a fixed
    /// threshold. The default.
    #[default]
    WeightedMean,
    /// Beyond the paper: each valid class's map divided by its own peak, then the maximum over
    /// the valid classes at every position, `L = max_valid S_c / max S_c`. Every heard
    /// instrument keeps a peak of 1 at its best position, whatever the scale of its cosines.
    /// The weights `p` only decide which classes are valid. Chosen on validation scenes for the
    /// shipped model (docs/results.md §9.11).
    PeakMax,
}

/// Settings of [`AvModel::localize`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalizeConfig {
    /// Per-class map source.
    pub source: MapSource,
    /// Class mixing rule: the weights `p`, and so the valid classes.
    pub mixing: ClassMixing,
    /// How the valid classes' maps are combined (default: the paper's weighted mean).
    #[serde(default)]
    pub combine: ClassCombine,
    /// Validity threshold on the audio class probability (0.3).
    pub threshold: f32,
    /// Output size `[height, width]` (bilinear, half-pixel centres); `None` keeps the feature
    /// resolution.
    pub output_size: Option<[usize; 2]>,
}

impl Default for LocalizeConfig {
    fn default() -> Self {
        Self {
            source: MapSource::Alignment,
            mixing: ClassMixing::Intended,
            combine: ClassCombine::WeightedMean,
            threshold: 0.3,
            output_size: None,
        }
    }
}

/// Localization maps of a batch.
#[derive(Debug, Clone)]
pub struct Localization {
    /// Per-class maps `[N, C, H, W]` (non-negative; for [`MapSource::Alignment`] in `[0, 1]`).
    pub per_class: Tensor<4>,
    /// Class-agnostic map `[N, H, W]`, divided by its maximum (values in `[0, 1]`).
    pub agnostic: Tensor<3>,
    /// Audio class probabilities `σ(logit_a)`, `[N, C]`.
    pub audio_probs: Tensor<2>,
    /// Visual class probabilities `σ(logit_v)`, `[N, C]`.
    pub visual_probs: Tensor<2>,
    /// Which classes entered the class-agnostic map, `[N][C]`.
    pub valid: Vec<Vec<bool>>,
}

impl AvModel {
    /// Per-class maps at feature resolution, `[N, C, h, w]`.
    ///
    /// # Errors
    /// As [`AvModel::class_embeddings`].
    pub fn class_localization_maps(&self, features: &AvFeatures, source: MapSource) -> Result<Tensor<4>> {
        let [n, _, h, w] = features.f_v.dims();
        let c = self.num_classes();
        Ok(match source {
            MapSource::Alignment => {
                let g_a = self.class_embeddings_audio(features)?; // [N, C, D]
                let g_v = self.visual_embedding_map(features.f_v.clone()); // [N, hw, D]
                alignment_maps(g_a, g_v, [h, w])
            }
            MapSource::VisualCam => {
                normalize(self.class_v.cam(features.f_v.clone()).clamp_min(0.0), CamNormalization::Max)
            }
            MapSource::AlignmentSoftmax => {
                let g_a = self.class_embeddings_audio(features)?;
                let g_v = self.visual_embedding_map(features.f_v.clone());
                let cos = g_a.matmul(g_v.swap_dims(1, 2)); // [N, C, hw]
                let d = cos.mul_scalar(-2.0).add_scalar(2.0).clamp_min(0.0).sqrt();
                let p = softmax(d.mul_scalar(-10.0), 2).reshape([n, c, h, w]);
                normalize(p, CamNormalization::Max)
            }
            MapSource::AlignmentCentred => {
                let g_a = self.class_embeddings_audio(features)?;
                let g_v = self.visual_embedding_map(features.f_v.clone());
                let centred = if self.centre_visual_positions { g_v } else { centre_positions(g_v) };
                alignment_maps(g_a, centred, [h, w])
            }
            MapSource::AlignmentCamGated => {
                let g_a = self.class_embeddings_audio(features)?;
                let g_v = self.visual_embedding_map(features.f_v.clone());
                let cam =
                    normalize(self.class_v.cam(features.f_v.clone()).clamp_min(0.0), CamNormalization::Max);
                alignment_maps(g_a, g_v, [h, w]) * cam
            }
            MapSource::Correspondence => {
                let [_, k, _, _] = features.f_v.dims();
                let positions = features.f_v.clone().reshape([n, k, h * w]).swap_dims(1, 2); // [N, hw, K]
                let audio = features.a.clone().reshape([n, 1, k]).repeat_dim(1, h * w);
                let logits =
                    self.avc.forward(audio.reshape([n * h * w, k]), positions.reshape([n * h * w, k]));
                let p = softmax(logits, 1).slice([0..n * h * w, 1..2]).reshape([n, 1, h, w]);
                p.repeat_dim(1, c)
            }
        })
    }

    /// Localizes the sounds of a batch: per-class maps, upsampled, and the class-agnostic
    /// mixture (MSSL `new/main.py:test` and `visualize`).
    ///
    /// # Errors
    /// As [`AvModel::class_embeddings`].
    pub fn localize(&self, features: &AvFeatures, config: &LocalizeConfig) -> Result<Localization> {
        let small = self.class_localization_maps(features, config.source)?;
        let per_class = match config.output_size {
            Some(size) => upsample_bilinear(small, size),
            None => small,
        };
        let audio_probs = sigmoid(features.logits_a.clone());
        let visual_probs = sigmoid(features.logits_v.clone());
        let (agnostic, valid) = mix_classes(
            per_class.clone(),
            features.logits_a.clone(),
            features.logits_v.clone(),
            config.mixing,
            config.combine,
            config.threshold,
        );
        Ok(Localization { per_class, agnostic, audio_probs, visual_probs, valid })
    }
}

/// Eq. 8 as MSSL `new/`: `relu(<g_a^c, g_v(p)>)` for every class and position (cosine
/// similarity of unit vectors, clipped at 0).
///
/// # Shapes
/// `g_a [N, C, D]`, `g_v [N, h w, D]` -> `[N, C, h, w]`.
pub fn alignment_maps(g_a: Tensor<3>, g_v: Tensor<3>, size: [usize; 2]) -> Tensor<4> {
    let [n, c, _] = g_a.dims();
    relu(g_a.matmul(g_v.swap_dims(1, 2))).reshape([n, c, size[0], size[1]])
}

/// The class-agnostic map: with [`ClassCombine::WeightedMean`] `L = Σ_valid p_c S_c /
/// Σ_valid p_c` (MSSL `new/main.py:visualize`), with [`ClassCombine::PeakMax`] `L = max_valid
/// S_c / max S_c`; divided by its maximum, with `p` and the valid set as [`ClassMixing`] says.
///
/// # Shapes
/// `per_class [N, C, H, W]`, `logits_a [N, C]`, `logits_v [N, C]` (read by
/// [`ClassMixing::AudioVisual`] only) -> (`[N, H, W]`, valid classes `[N][C]`).
pub fn mix_classes(
    per_class: Tensor<4>,
    logits_a: Tensor<2>,
    logits_v: Tensor<2>,
    mixing: ClassMixing,
    combine: ClassCombine,
    threshold: f32,
) -> (Tensor<3>, Vec<Vec<bool>>) {
    let probs = sigmoid(logits_a);
    let weights = match mixing {
        ClassMixing::Intended => probs,
        ClassMixing::OfficialCode => sigmoid(probs),
        ClassMixing::AudioVisual => probs * sigmoid(logits_v),
    };
    let [n, c, h, w] = per_class.dims();
    let wv: Vec<f32> = weights.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    let mut valid = Vec::with_capacity(n);
    let mut mix = Vec::with_capacity(n * c);
    for row in wv.chunks(c.max(1)) {
        let argmax = row.iter().enumerate().fold(0, |best, (i, &p)| if p > row[best] { i } else { best });
        let v: Vec<bool> = row.iter().enumerate().map(|(i, &p)| p > threshold || i == argmax).collect();
        let total: f32 = row.iter().zip(&v).filter(|(_, ok)| **ok).map(|(p, _)| *p).sum();
        mix.extend(row.iter().zip(&v).map(|(p, ok)| if *ok && total > 0.0 { p / total } else { 0.0 }));
        valid.push(v);
    }
    let device = per_class.device();
    let agnostic = match combine {
        ClassCombine::WeightedMean => {
            let mix = Tensor::<2>::from_data(TensorData::new(mix, [n, c]), &device);
            (per_class * mix.reshape([n, c, 1, 1])).sum_dim(1) // [N, 1, H, W]
        }
        ClassCombine::PeakMax => {
            let mask: Vec<f32> = valid.iter().flatten().map(|&ok| if ok { 1.0 } else { 0.0 }).collect();
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [n, c]), &device);
            // Per-class maps are non-negative, so masked classes (zeros) never win the max.
            (normalize(per_class, CamNormalization::Max) * mask.reshape([n, c, 1, 1])).max_dim(1)
        }
    };
    (normalize(agnostic, CamNormalization::Max).reshape([n, h, w]), valid)
}
