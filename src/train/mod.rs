//! Training: batch sources (in memory or streamed) with background prefetch, settings and presets, the loop with checkpoints and resume.

mod batch_source;
mod checkpoint;
mod config;
mod data;
mod data_parallel;
mod prefetch;
mod trainer;

pub use batch_source::{BatchSource, HostBatch};
pub use checkpoint::{
    EpochLog, TrainState, checkpoints_dir, latest_checkpoint, load_model, load_model_for, load_state,
    save_model, save_training_checkpoint,
};
pub use config::{LrSchedule, TrainConfig};
pub use data::{
    IMAGENET_MEAN, IMAGENET_STD, InMemoryDataset, Sample, frame_chw, frame_tensor, logmel_tensor,
};
pub use data_parallel::{MIN_SHARD, replica_devices, shard_ranges};
pub use prefetch::{BatchPlan, Prefetcher, with_prefetch};
pub use trainer::{DEFAULT_PREFETCH, TrainOutcome, Trainer, ValidationHook, default_prefetch, epoch_order};
