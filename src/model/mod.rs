//! The coarse-to-fine model (the paper's §3): two trunks, classification + AVC (stage 1),
//! class-aware pooling and alignment (stage 2), and localization (Eq. 8).
//!
//! ```
//! use av_align::model::{AvModelConfig, Batch, LocalizeConfig, ObjectiveConfig, Stage};
//! use burn::tensor::{Device, Distribution, Tensor};
//!
//! // A compact model with 3 classes, on the CPU with autodiff (BatchNorm trains there).
//! let device = Device::flex().autodiff();
//! let model = AvModelConfig::compact(3).init(&device)?;
//! let batch = Batch {
//!     frames: Tensor::random([2, 3, 64, 64], Distribution::Default, &device), // ImageNet-normalised RGB
//!     logmels: Tensor::random([2, 1, 51, 64], Distribution::Default, &device), // 1 s of log-mel
//!     labels_a: Tensor::from_floats([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], &device),
//!     labels_v: Tensor::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &device),
//! };
//! // Stage 2 objective: BCE (both modalities) + AVC + alignment (Eq. 7).
//! let stage2 = ObjectiveConfig { stage: Stage::Two, ..ObjectiveConfig::default() };
//! let (loss, parts) = model.objective(&batch, &stage2)?;
//! let _grads = loss.backward();
//! assert!(parts.align >= 0.0);
//!
//! // Localization (Eq. 8): per-class maps and the class-agnostic map at the frame size.
//! let features = model.features(batch.frames, batch.logmels)?;
//! let config = LocalizeConfig { output_size: Some([64, 64]), ..LocalizeConfig::default() };
//! let loc = model.localize(&features, &config)?;
//! assert_eq!(loc.per_class.dims(), [2, 3, 64, 64]);
//! assert_eq!(loc.agnostic.dims(), [2, 64, 64]);
//! # Ok::<(), av_align::Error>(())
//! ```

mod config;
mod guidance;
mod localize;
mod network;
mod objective;
mod pretrained_visual;

pub use config::{AvModelConfig, CamSource};
pub use guidance::ClassGuidance;
pub use localize::{
    ClassCombine, ClassMixing, Localization, LocalizeConfig, MapSource, alignment_maps, mix_classes,
};
pub use network::{AvFeatures, AvModel, ClassEmbeddings, centre_positions};
pub use objective::{Batch, LossValues, Method, ObjectiveConfig, Stage};
pub use pretrained_visual::{
    EFFICIENTNET_LITE0_FILE, NeckLayer, PretrainedVisual, PretrainedVisualConfig, TrunkCache,
    pretrained_weights_in, pretrained_weights_path,
};

/// A tensor's values as `f32`, row-major (for reading small results back to the host).
pub(crate) fn to_vec<const D: usize>(t: burn::tensor::Tensor<D>) -> crate::error::Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| crate::error::Error::Config(format!("cannot read a tensor back: {e:?}")))
}
