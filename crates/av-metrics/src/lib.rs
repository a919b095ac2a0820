//! Evaluation metrics of av-align, with the exact protocols of the papers and their reference
//! code (no Burn: plain slices in, numbers out).
//!
//! | metric | module | reference |
//! |---|---|---|
//! | SoundNet-Flickr cIoU, success rate, AUC | [`mod@ciou`], [`mod@auc`] | Senocak et al. CVPR'18; MSSL `new/cal_metric.py`, LVS `test.py` (docs/reference_implementation.md §6) |
//! | trivial baselines (whole image, centre box/Gaussian, random) | [`baselines`] | MSSL issue #2 |
//! | class-aware cIoU (Eq. 9), levels 1/2/3 | [`class_aware`] | MSSL `utils/evaluate.py` (docs/reference_implementation.md §5.3) |
//! | BSS-Eval v3 SDR/SIR/SAR, SDR_mix, NSDR | [`bss_eval`] | mir_eval 0.8.2 `separation.py` (docs/reference_implementation.md §8.7) |
//! | AVE A2V / V2A accuracy | [`ave`] | supplement Eq. 1; AVE `cmm_test.py` |
//! | retrieval recall@k, mAP | [`retrieval`] | supplement Fig. 5 |
//! | mean, confidence intervals, tables | [`stats`], [`table`] | |
//!
//! Bad input (shape mismatch, NaN, boxes outside the image, silent sources, ...) is reported as
//! a [`MetricsError`], never by a panic.
//!
//! # Example
//! ```
//! use av_metrics::{
//!     BoxConvention, BssEvalOptions, ConsensusGt, ConsensusRule, PixelBox, PredictionRule,
//!     ScoreMap, bss_eval_sources, evaluate_localization,
//! };
//!
//! // One 8x8 image, two annotators agreeing on the top-left 4x4 block (0-based half-open).
//! let boxes = [PixelBox::new(0, 0, 4, 4), PixelBox::new(0, 0, 4, 4)];
//! let gt = ConsensusGt::from_boxes(&boxes, 8, 8, BoxConvention::ZeroBasedHalfOpen, ConsensusRule::HalfCapped)?;
//! // A map that lights up exactly that block.
//! let map: Vec<f32> = (0..64).map(|i| if i % 8 < 4 && i / 8 < 4 { 1.0 } else { 0.0 }).collect();
//! let maps = [ScoreMap::new(&map, 8, 8)?];
//! let summary = evaluate_localization(&maps, &[gt], PredictionRule::Absolute(0.5), 0.5)?;
//! assert_eq!(summary.cious, vec![1.0]);
//! assert_eq!(summary.success_rate, 1.0);
//!
//! // BSS-Eval: two sources, estimates with a little cross-talk.
//! let s1: Vec<f64> = (0..2000).map(|n| (0.05 * n as f64).sin()).collect();
//! let s2: Vec<f64> = (0..2000).map(|n| ((n * 7919 % 1000) as f64 / 500.0) - 1.0).collect();
//! let e1: Vec<f64> = s1.iter().zip(&s2).map(|(a, b)| a + 0.1 * b).collect();
//! let e2: Vec<f64> = s2.iter().zip(&s1).map(|(a, b)| a + 0.1 * b).collect();
//! let r = bss_eval_sources(&[&s1, &s2], &[&e1, &e2], &BssEvalOptions::default())?;
//! assert!(r.sir.iter().all(|&sir| sir > 15.0));
//! # Ok::<(), av_metrics::MetricsError>(())
//! ```

pub mod auc;
pub mod ave;
pub mod baselines;
pub mod bss_eval;
pub mod ciou;
pub mod class_aware;
pub mod error;
mod kernels;
pub mod map;
pub mod retrieval;
/// The seeded generator of the baselines and the bootstrap (SplitMix64), shared with
/// `av-data` through the `av-rng` crate.
pub use av_rng as rng;
pub mod stats;
pub mod table;

pub use auc::{
    LocalizationSummary, auc_thresholds, ciou_auc, success_curve, success_rate, summarize, trapezoid_auc,
};
pub use ave::{
    AveVideoScores, CrossModalSummary, CrossModalTask, ScoreOrder, evaluate_cross_modal,
    sliding_window_localize,
};
pub use baselines::{Baseline, evaluate_baseline};
pub use bss_eval::{
    BssDecomposition, BssEvalOptions, BssEvalResult, BssEvaluator, NsdrResult, bss_eval_sources,
    bss_eval_with_mixture, mixture_baseline,
};
pub use ciou::{
    BoxConvention, ConsensusGt, ConsensusRule, PixelBox, PredictionRule, ciou, evaluate_localization,
};
pub use class_aware::{
    AnnotatedObject, ClassAwareConfig, ClassAwareFrame, ClassAwareSummary, ClassMaps, NormalizedBox,
    evaluate_class_aware,
};
pub use error::{MetricsError, Result};
pub use map::ScoreMap;
pub use retrieval::{Embeddings, Relevance, evaluate_retrieval};
pub use stats::{MeanCi, bootstrap_ci, mean, normal_ci};
pub use table::{Align, Cell, ResultsTable, per_class_table};
