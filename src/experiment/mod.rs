//! Building blocks of the paper's experiments (used by the examples): the offline benchmark as
//! model data, whole-test-set localization and its scores.

pub mod bench;
pub mod eval;
pub mod flickr;
pub mod flickr_stream;

pub use bench::{BenchData, BenchDataConfig, SceneTruth, TruthObject, generate};
pub use eval::{
    FlickrReport, SceneMaps, class_aware_evaluate, flickr_evaluate, flickr_ground_truth, localize_all,
};
pub use flickr_stream::StreamingFlickr;
pub mod ave;
pub mod multisource;
pub mod retrieval;
pub mod separation;
