//! The offline audio-visual benchmark: real instrument timbres (notes rendered from the MIT
//! FluidR3_GM SoundFont), real photo backgrounds and instrument sprites, composed into scenes
//! with exact ground truth (class, box, visible mask, per-source waveform), deterministic under
//! a seed, written in the real datasets' layouts. [`ave_videos`] cuts AVE-style 10-segment
//! videos from its single-source scenes.

pub mod assets;
mod augment;
pub mod ave_videos;
pub mod backgrounds;
pub mod clutter;
mod compose;
pub mod config;
pub mod generator;
pub mod melody;
pub mod notes;
pub mod records;
pub mod scene;
pub mod sprites;
pub mod writer;

pub use assets::AssetPack;
pub use ave_videos::{AveSynthConfig, SegmentPool, SynthVideo, build_pool, oracle_score, synthesize_videos};
pub use config::{AssetSelection, Augment, BenchConfig, ClipSpec, LEGACY_GROUP};
pub use generator::Generator;
pub use records::{BenchmarkGt, ObjectRecord, SceneRecord, load_mask, read_benchmark_gt};
pub use scene::{Scene, SceneAudio, SceneObject, Stem};
pub use writer::{DatasetWriter, Layout, WriteOptions};
