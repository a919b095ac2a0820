//! # av-alignment — pooling and losses of the coarse-to-fine model
//!
//! * [`class_aware_pool`]: the paper's Eq. 5, one feature vector per class pooled with that
//!   class's activation map; a class with an all-zero map gets the zero vector (never NaN).
//! * [`multilabel_bce`]: multi-label classification on soft labels (`L_cls`).
//! * [`avc_loss`]: audio-visual correspondence (`L_avc`, Eq. 3) over all `N x N` pairs with the
//!   positive/negative balancing of MSSL `new/`, or the original neighbour negatives.
//! * [`alignment_loss`]: the contrastive loss of Eq. 7 (margin 1.4 on unit vectors, validity
//!   threshold 0.3 per modality, positives = same clip and same class, positive and negative
//!   terms averaged separately), or the original code's mean-squared variant.
//! * [`position_contrastive_loss`]: a per-position contrastive loss (EZ-VSL max or LVS tri-map
//!   score, optional LVS hard background negatives) that trains the test-time maps of Eq. 8
//!   between each class's audio embedding and the visual feature at every position.
//!
//! Every function checks its inputs and returns a typed [`AlignError`] naming the one at fault.
//! Values and gradients are checked against a PyTorch re-implementation of the official
//! formulas (`tools/reference/make_alignment_fixtures.py`).
//!
//! ```
//! use av_alignment::{AlignmentLossConfig, alignment_loss};
//! use burn::tensor::{Device, Tensor};
//!
//! let device = Device::flex();
//! // Two clips, two classes, 2-d unit embeddings; audio and visual agree exactly.
//! let g = Tensor::<3>::from_floats([[[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.8, -0.6]]], &device);
//! let logits = Tensor::<2>::from_floats([[2.0, 2.0], [2.0, -3.0]], &device);
//! let out = alignment_loss(g.clone(), g, logits.clone(), logits, &AlignmentLossConfig::default())?;
//! assert_eq!(out.positive_pairs, 3);
//! assert!(out.positive.into_scalar::<f32>() < 1e-6);
//! # Ok::<(), av_alignment::AlignError>(())
//! ```

mod check;
mod classification;
mod contrastive;
mod correspondence;
mod error;
mod pooling;
mod position;

pub use classification::multilabel_bce;
pub use contrastive::{AlignmentDistance, AlignmentLoss, AlignmentLossConfig, alignment_loss};
pub use correspondence::{
    AvcNegatives, avc_all_pairs_loss, avc_loss, avc_loss_with_sounding, avc_pairs_loss,
};
pub use error::{AlignError, Result};
pub use pooling::{POOL_EPS, PoolNormalization, class_aware_pool};
pub use position::{
    BackgroundNegative, CrossClassNegative, PositionLoss, PositionLossConfig, PositionScore,
    position_contrastive_loss, position_contrastive_loss_with_cams,
};
