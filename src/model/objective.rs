//! The training objectives of the two stages and of the ablation's baselines (Eq. 3, Eq. 7).

use av_alignment::{
    AlignmentLossConfig, AvcNegatives, PositionLossConfig, alignment_loss, avc_loss_with_sounding,
    multilabel_bce, position_contrastive_loss_with_cams,
};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::network::AvModel;

/// The three methods of the paper's ablation (Table 2), as choices of one objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Method {
    /// AVC only: video-level correspondence, no class information (localizes class-agnostically).
    AvcOnly,
    /// Multi-task: classification + AVC (the first stage alone; localizes with visual CAMs).
    MultiTask,
    /// Ours: multi-task first, then the fine-grained alignment (Eq. 7) in stage 2. The default.
    #[default]
    CoarseToFine,
}

/// Which stage is being trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Stage {
    /// Coarse: `L_cls + L_avc` (Eq. 3).
    #[default]
    One,
    /// Fine: stage 1 + `λ L_align` (Eq. 7), initialised from stage 1.
    Two,
}

/// The loss of one batch and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LossValues {
    /// The total.
    pub total: f32,
    /// Audio classification BCE.
    pub cls_a: f32,
    /// Visual classification BCE.
    pub cls_v: f32,
    /// AVC loss.
    pub avc: f32,
    /// Alignment loss (stage 2).
    pub align: f32,
    /// Valid positive pairs of the alignment loss.
    pub align_pos_pairs: usize,
    /// Per-position alignment loss (when configured).
    #[serde(default)]
    pub position: f32,
}

/// What the objective adds up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveConfig {
    /// Which method of the ablation.
    pub method: Method,
    /// Which stage ([`Stage::Two`] only for [`Method::CoarseToFine`]).
    pub stage: Stage,
    /// AVC negatives.
    pub avc_negatives: AvcNegatives,
    /// Alignment loss settings.
    pub align: AlignmentLossConfig,
    /// Weight λ of the alignment loss (1).
    pub lambda: f32,
    /// The per-position alignment term (trains the Eq. 8 maps themselves: each sounding
    /// class's audio embedding against every visual position, max over positions, contrastive
    /// across clips; see `docs/reference_implementation.md`). Added in whichever stage sets it:
    /// the broad preset sets it in stage 2; set in stage 1 too, the projections are trained
    /// from the first epoch. `None` (the paper, and plans written before it existed) leaves it
    /// out.
    #[serde(default)]
    pub position: Option<PositionLossConfig>,
    /// Weight of the per-position term (1).
    #[serde(default = "unit_weight")]
    pub position_weight: f32,
    /// Whether a clip without any audio label is a *no-class clip* (noise, hum, an instrument
    /// outside the vocabulary, put into the training data on purpose): its own pair with its
    /// frame is then an AVC negative, not a positive. Off by default: in real data an empty
    /// pseudo label is a missed label, not a clip without sound. Plans written before it
    /// existed leave it off (and serialise as before).
    #[serde(default, skip_serializing_if = "is_false")]
    pub unlabelled_clips_are_negatives: bool,
}

fn unit_weight() -> f32 {
    1.0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        Self {
            method: Method::CoarseToFine,
            stage: Stage::One,
            avc_negatives: AvcNegatives::AllPairs,
            align: AlignmentLossConfig::mssl_new(),
            lambda: 1.0,
            position: None,
            position_weight: 1.0,
            unlabelled_clips_are_negatives: false,
        }
    }
}

impl ObjectiveConfig {
    /// Checks that the stage fits the method.
    ///
    /// # Errors
    /// [`Error::Config`] for stage 2 of a baseline.
    pub fn validate(&self) -> Result<()> {
        if self.stage == Stage::Two && self.method != Method::CoarseToFine {
            return Err(Error::Config(format!("{:?} has no second stage", self.method)));
        }
        Ok(())
    }
}

/// One training batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// ImageNet-normalised frames `[N, 3, H, W]`.
    pub frames: Tensor<4>,
    /// Log-mels `[N, 1, T, F]`.
    pub logmels: Tensor<4>,
    /// Soft audio labels `[N, C]` in `[0, 1]`.
    pub labels_a: Tensor<2>,
    /// Soft visual labels `[N, C]` in `[0, 1]`.
    pub labels_v: Tensor<2>,
}

impl AvModel {
    /// The loss of one batch under `objective` (a differentiable scalar on an autodiff device)
    /// and its parts as numbers.
    ///
    /// # Errors
    /// [`Error::Shape`] / [`Error::Align`] for mismatched inputs, [`Error::Config`].
    pub fn objective(&self, batch: &Batch, objective: &ObjectiveConfig) -> Result<(Tensor<1>, LossValues)> {
        objective.validate()?;
        let c = self.num_classes();
        let n = batch.frames.dims()[0];
        for (labels, what) in [(&batch.labels_a, "audio labels"), (&batch.labels_v, "visual labels")] {
            if labels.dims() != [n, c] {
                return Err(Error::Shape {
                    what,
                    expected: format!("[{n}, {c}] (batch x the model's classes)"),
                    found: labels.dims().to_vec(),
                });
            }
        }
        let features = self.features(batch.frames.clone(), batch.logmels.clone())?;
        // A no-class training clip (no audio label: noise, hum, an instrument outside the
        // vocabulary) is no positive of the AVC task with its own frame.
        let sounding: Vec<bool> = if objective.unlabelled_clips_are_negatives {
            let label_sums = crate::model::to_vec(batch.labels_a.clone().sum_dim(1))?;
            label_sums.iter().map(|&s| s > 0.0).collect()
        } else {
            vec![true; n]
        };
        let avc = avc_loss_with_sounding(self.avc_logits(&features), objective.avc_negatives, &sounding)?;
        let mut values = LossValues { avc: scalar(&avc), ..LossValues::default() };
        let mut total = avc;
        if objective.method != Method::AvcOnly {
            let cls_a = multilabel_bce(features.logits_a.clone(), batch.labels_a.clone())?;
            let cls_v = multilabel_bce(features.logits_v.clone(), batch.labels_v.clone())?;
            values.cls_a = scalar(&cls_a);
            values.cls_v = scalar(&cls_v);
            total = total + cls_a + cls_v;
        }
        let stage_two = objective.stage == Stage::Two;
        if stage_two || objective.position.is_some() {
            // Stage 1 with the per-position term needs only the audio embeddings.
            let audio = self.class_embeddings_audio(&features)?;
            if stage_two {
                let align = alignment_loss(
                    audio.clone(),
                    self.class_embeddings_visual(&features)?,
                    features.logits_a.clone(),
                    features.logits_v.clone(),
                    &objective.align,
                )?;
                values.align = scalar(&align.loss);
                values.align_pos_pairs = align.positive_pairs;
                total = total + align.loss.mul_scalar(objective.lambda);
            }
            if let Some(position) = &objective.position {
                let g_v = self.visual_embedding_map(features.f_v.clone());
                let cams = position.cross_class.map(|_| {
                    let cam = self.class_v.cam(features.f_v.clone());
                    let [n, c, h, w] = cam.dims();
                    cam.reshape([n, c, h * w])
                });
                let term = position_contrastive_loss_with_cams(
                    audio,
                    g_v,
                    batch.labels_a.clone(),
                    batch.labels_v.clone(),
                    cams,
                    position,
                )?;
                values.position = scalar(&term.loss);
                total = total + term.loss.mul_scalar(objective.position_weight);
            }
        }
        values.total = scalar(&total);
        Ok((total, values))
    }
}

fn scalar(t: &Tensor<1>) -> f32 {
    t.clone().into_scalar::<f32>()
}
