//! # av-data — datasets of av-align
//!
//! * [`layouts`]: loaders for the real datasets' on-disk layouts, SoundNet-Flickr training pairs
//!   and annotated test set ([`layouts::flickr`]), AudioSet-instrument ([`layouts::audioset`]),
//!   MUSIC ([`layouts::music`]) and AVE ([`layouts::ave`]). Malformed or missing files give typed
//!   [`DataError`]s naming the file, or, with [`SkipPolicy::Skip`], are left out and counted in a
//!   [`LoadReport`]; nothing is dropped silently.
//! * [`manifest`]: a JSON manifest of every file with its size and SHA-256, and a verifier.
//! * [`bench`](mod@bench): the offline benchmark. Scenes of 1-3 sounding instruments (plus silent
//!   distractors) pasted on real photos, with real instrument timbres, exact boxes, masks and
//!   per-source waveforms, deterministic under a seed, written in the layouts above so the same
//!   loaders read real and generated data.
//!
//! Conventions: frames are 256x256 RGB; boxes are pixel edges `[x0, x1) x [y0, y1)` (see
//! [`bbox`]); audio is mono `f32` at 22 050 Hz (localization, 5 s) or 11 025 Hz (separation,
//! 65 535 samples).
//!
//! ```
//! use std::sync::Arc;
//! use av_data::bench::{AssetPack, BenchConfig, DatasetWriter, Generator, Layout, WriteOptions};
//! use av_data::layouts::flickr::FlickrTestLayout;
//! use av_data::{SkipPolicy, Split};
//!
//! // Generate two test scenes, write them as the SoundNet-Flickr test set, and read them back.
//! let generator = Generator::new(Arc::new(AssetPack::load_default()?), BenchConfig::localization(7))?;
//! let root = std::env::temp_dir().join(format!("av-data-doc-{}", std::process::id()));
//! let writer = DatasetWriter::new(&root, Layout::Flickr, generator.config().clone(), WriteOptions::default())?;
//! let scenes = generator.scenes(Split::Test, 0..2)?;
//! let records = scenes.iter().map(|s| writer.write_scene(s)).collect::<Result<Vec<_>, _>>()?;
//! writer.finish(records, generator.assets().fingerprint())?;
//!
//! let (items, report) = FlickrTestLayout::new(root.join("test")).load(SkipPolicy::Error)?;
//! assert_eq!(items.len(), 2);
//! assert_eq!(report.skipped.len(), 0);
//! // Each sounding object is annotated by two (agreeing) virtual annotators.
//! assert_eq!(items[0].boxes.len(), 2 * usize::from(scenes[0].level));
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok::<(), av_data::DataError>(())
//! ```

pub mod bbox;
pub mod bench;
pub mod classes;
mod error;
pub mod files;
pub mod image_io;
pub mod layouts;
pub mod manifest;
pub mod media;
pub mod npy;
mod report;
/// The deterministic generator of the benchmark (SplitMix64 and stream-key hashing), shared
/// with `av-metrics` through the `av-rng` crate.
pub use av_rng as rng;
mod split;
pub mod viz;

pub use bbox::{BBox, Mask};
pub use classes::{Instrument, Vocabulary};
pub use error::{DataError, Result};
pub use report::{LoadReport, SkipPolicy, SkipReason, SkippedItem};
pub use split::Split;
