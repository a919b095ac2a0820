//! The coarse-to-fine model (the paper's §3): two trunks, classification + AVC (stage 1),
//! class-aware pooling and alignment (stage 2), and localization (Eq. 8).

mod config;
mod localize;
mod network;
mod objective;

pub use config::{AvModelConfig, CamSource};
pub use localize::{ClassMixing, Localization, LocalizeConfig, MapSource, alignment_maps, mix_classes};
pub use network::{AvFeatures, AvModel, ClassEmbeddings};
pub use objective::{Batch, LossValues, Method, ObjectiveConfig, Stage};
