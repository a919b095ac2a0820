//! # av-experiments
//!
//! The paper's experiments, as the examples of the workspace run them: plans (presets that
//! train a model, stored as `plan.json`), the offline benchmark as model data, whole-test-set
//! evaluation with the trivial baselines, tables beside the paper's, reports and pictures.
//!
//! This crate is not published: it is the experiment code behind `examples/` (each example is a
//! thin `main` over one module here). It depends on the library facade `av-align`, never the
//! other way round; a user who wants maps of their own image and clip needs only the facade's
//! [`av_align::Localizer`].
//!
//! | module | experiment | example |
//! |---|---|---|
//! | [`flickr`] | SoundNet-Flickr cIoU / AUC (paper Table 1) | `flickr_localize` |
//! | [`multisource`] | class-aware cIoU by level (Table 2) | `audioset_multisource` |
//! | [`separation`] | visually guided separation (Table 3) | `music_separation` |
//! | [`ave`] | A2V / V2A cross-modal localization (supplement Table 1) | `ave_cross_modal` |
//! | [`retrieval`] | audio <-> image retrieval | `retrieval` |
//!
//! Shared by all of them: [`run`] (the run context: output folder, device, progress bars,
//! atomic JSON), [`models`] (training presets, "train or load"), [`mod@bench`] (benchmark scenes as model inputs) and [`eval`] (localization of a
//! test set and its scores).

pub mod ave;
pub mod bench;
pub mod eval;
pub mod flickr;
pub mod models;
pub mod multisource;
pub mod retrieval;
pub mod run;
pub mod separation;

pub use bench::{BenchData, BenchDataConfig, SceneTruth, TruthObject, generate};
pub use eval::{
    FlickrReport, SceneMaps, class_aware_evaluate, flickr_evaluate, flickr_ground_truth, localize_all,
};
