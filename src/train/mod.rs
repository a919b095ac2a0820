//! Training: batch sources (in memory or streamed) with background prefetch, settings and presets, the loop with checkpoints and resume.

mod batch_source;
mod checkpoint;
mod config;
mod data;
mod data_parallel;
mod flickr;
mod prefetch;
mod trainer;

pub use batch_source::{BatchSource, HostBatch, Sample};
pub use checkpoint::{
    BestEpoch, EpochLog, TrainState, best_model_dir, checkpoints_dir, latest_checkpoint, latest_published,
    load_best_model, load_model, load_model_for, load_state, publish_checkpoint, save_best_model, save_model,
    save_training_checkpoint,
};
pub use config::{LrSchedule, OptimizerKind, TrainConfig};
pub use data::InMemoryDataset;
pub use data_parallel::{MIN_SHARD, replica_devices, shard_ranges};
pub use flickr::{StreamingFlickr, decode_pair, load_flickr_train};
pub use prefetch::{BatchPlan, Prefetcher, with_prefetch};
pub use trainer::{
    DEFAULT_PREFETCH, ProgressHook, TrainEvent, TrainOutcome, Trainer, ValidationHook, default_prefetch,
    epoch_order,
};
