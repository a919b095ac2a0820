//! Configuration of the coarse-to-fine model.

use av_alignment::PoolNormalization;
use av_backbones::ResNetConfig;

use crate::model::pretrained_visual::PretrainedVisualConfig;
use burn::config::Config;
use serde::{Deserialize, Serialize};

/// Where the class activation maps of Eq. 4-5 come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CamSource {
    /// `relu(CAM)` from the bias-free classifier (MSSL `new/`). The default.
    #[default]
    Classifier,
    /// Grad-CAM through autodiff (the paper's Eq. 4): the gradient of the pre-activation class
    /// logit with respect to F. With the global-average-pool + linear heads of `new/` it equals
    /// the classifier CAM divided by `H W`, which the pooling's normalisation cancels; it is
    /// here for heads where that does not hold, and costs one extra backward per class.
    GradCam,
}

/// The architecture: two ResNet-18 trunks (stride-1 `layer4`), bias-free classifiers, the AVC
/// MLP over all pairs and the stage-2 projection heads (docs/reference_implementation.md §2).
#[derive(Config, Debug)]
pub struct AvModelConfig {
    /// Number of classes (7 Flickr/AVE pseudo-label categories, 15 AudioSet instruments).
    pub num_classes: usize,
    /// Visual trunk (RGB frames).
    #[config(default = "ResNetConfig::visual()")]
    pub visual: ResNetConfig,
    /// Audio trunk (1-channel log-mels).
    #[config(default = "ResNetConfig::audio()")]
    pub audio: ResNetConfig,
    /// Hidden size of the AVC MLP (128).
    #[config(default = 128)]
    pub avc_hidden: usize,
    /// Hidden size of the projection heads (1024).
    #[config(default = 1024)]
    pub projection_hidden: usize,
    /// Size of the shared embedding space (128).
    #[config(default = 128)]
    pub embedding_dim: usize,
    /// Source of the class maps.
    #[config(default = "CamSource::Classifier")]
    pub cam: CamSource,
    /// Normalisation of the class-aware pooling (Eq. 5 exactly, or the code's mean/sum).
    #[config(default = "PoolNormalization::WeightedMean")]
    pub pooling: PoolNormalization,
    /// Centre the per-position visual embeddings of Eq. 8 on the frame's mean before the unit
    /// normalisation ([`crate::model::AvModel::visual_embedding_map`]); off (`None`, the
    /// paper, and configurations written before it existed) by default.
    pub centre_visual_positions: Option<bool>,
    /// Replace the visual ResNet by a frozen ImageNet-pretrained EfficientNet-Lite0 trunk and a
    /// trainable neck to the audio trunk's width ([`crate::model::PretrainedVisual`]); `visual`
    /// is then unused. `None` (the ResNet, and configurations written before it existed) by
    /// default.
    pub pretrained_visual: Option<PretrainedVisualConfig>,
}

impl AvModelConfig {
    /// The paper / MSSL `new/` model: ResNet-18 trunks (width 64), AVC 1024-128-2, projections
    /// 512-1024-128. About 22.5 M parameters.
    pub fn paper(num_classes: usize) -> Self {
        Self::new(num_classes)
    }

    /// A compact model that trains on 2 CPU cores in minutes: ResNet-18 topology at width 8
    /// (layer4 has 64 channels), AVC 128-32-2, projections 64-128-64. About 0.37 M parameters.
    pub fn compact(num_classes: usize) -> Self {
        Self::new(num_classes)
            .with_visual(ResNetConfig::visual().with_base_width(8))
            .with_audio(ResNetConfig::audio().with_base_width(8))
            .with_avc_hidden(32)
            .with_projection_hidden(128)
            .with_embedding_dim(64)
    }

    /// Channels of the visual map F_v (the ResNet's `layer4`, or the pretrained stream's neck,
    /// which has the audio trunk's width).
    pub fn visual_channels(&self) -> usize {
        if self.pretrained_visual.is_some() { self.audio_channels() } else { self.visual.out_channels() }
    }

    /// The same model with the frozen pretrained visual trunk ([`PretrainedVisualConfig`]'s
    /// defaults) instead of the visual ResNet.
    pub fn with_pretrained_visual_trunk(self) -> Self {
        self.with_pretrained_visual(Some(PretrainedVisualConfig::new()))
    }

    /// Channels of the audio `layer4` map F_a.
    pub fn audio_channels(&self) -> usize {
        self.audio.out_channels()
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for zero sizes, mismatched trunk widths (the AVC MLP and the
    /// shared space need equal channel counts) or wrong input channels.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Config(m));
        if self.num_classes == 0
            || self.avc_hidden == 0
            || self.projection_hidden == 0
            || self.embedding_dim == 0
        {
            return bad(format!(
                "num_classes, avc_hidden, projection_hidden and embedding_dim must be > 0 (got {}, {}, {}, {})",
                self.num_classes, self.avc_hidden, self.projection_hidden, self.embedding_dim
            ));
        }
        if let Some(p) = &self.pretrained_visual {
            p.trunk().validate().map_err(|e| crate::Error::Config(e.to_string()))?;
            if p.neck_hidden == Some(0) {
                return bad("pretrained_visual.neck_hidden must be > 0 when set".into());
            }
        }
        if self.audio.base_width == 0
            || self.visual.base_width == 0
            || self.visual_channels() != self.audio_channels()
        {
            return bad(format!(
                "the trunks must have the same non-zero width (visual base_width {}, audio {})",
                self.visual.base_width, self.audio.base_width
            ));
        }
        if self.visual.in_channels != 3 || self.audio.in_channels != 1 {
            return bad(format!(
                "the visual trunk takes 3 channels and the audio trunk 1 (got {} and {})",
                self.visual.in_channels, self.audio.in_channels
            ));
        }
        Ok(())
    }
}
