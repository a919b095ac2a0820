//! # av-align
//!
//! A pure-Rust reproduction of *Multiple Sound Sources Localization from Coarse to Fine*
//! (Qian, Hu, Dinkel, Wu, Xu, Lin — ECCV 2020) on [Burn](https://burn.dev) 0.22: given a video
//! frame and its (mixed) audio, find which object makes which sound, then use that to separate
//! the sounds.
//!
//! This is the library a user depends on. It holds
//! * the coarse-to-fine model ([`model`]) and its training ([`train`]: batch sources, the loop
//!   with atomic checkpoints and exact resume, progress reported through [`train::TrainEvent`]s;
//!   the library prints nothing),
//! * the one path from pictures and sounds to model inputs ([`preprocess`]), shared by
//!   training, evaluation and inference,
//! * one-call inference over a trained model folder ([`inference`]: [`Localizer`],
//!   [`Separator`]) and heatmap overlays ([`overlay`]),
//! * the one place where binaries, examples and benches choose a compute backend
//!   ([`device::select_device`]),
//!
//! and re-exports the parts that live in `crates/`. The paper's experiments are not here: they
//! live in the unpublished `av-experiments` crate behind the examples.
//!
//! The maps of one's own image and clip (see [`inference`] for a compiled version):
//!
//! ```no_run
//! let sounds = av_align::Localizer::from_dir("assets/checkpoints/flickr_broad")?
//!     .localize_files("frame.jpg", "clip.wav")?;
//! println!("{}: p = {:.2}", sounds.ranked()[0].name, sounds.ranked()[0].audio_prob);
//! # Ok::<(), av_align::Error>(())
//! ```
//!
//! ```
//! use av_align::audio::{LogMelConfig, LogMelExtractor};
//!
//! // 5 s of a 440 Hz tone at the paper's 22 050 Hz -> a (251, 64) log-mel.
//! let sr = 22_050;
//! let tone: Vec<f32> = (0..5 * sr)
//!     .map(|n| (2.0 * std::f32::consts::PI * 440.0 * n as f32 / sr as f32).sin())
//!     .collect();
//! let extractor = LogMelExtractor::new(LogMelConfig::paper()).unwrap();
//! let logmel = extractor.compute(&tone).unwrap();
//! assert_eq!(logmel.dim(), (251, 64));
//! ```

pub mod device;

/// The audio frontend: decoding, resampling, STFT/iSTFT, mel filterbanks, the paper's log-mel
/// and the Sound-of-Pixels log-frequency warp (crate `av-audio`).
pub use av_audio as audio;

/// Evaluation metrics with the papers' protocols (crate `av-metrics`).
pub use av_metrics as metrics;

/// The networks on Burn: ResNet-18 variants, U-Net-7, heads, PyTorch weight import (crate
/// `av-backbones`).
pub use av_backbones as backbones;

/// Dataset layouts, manifests and the deterministic offline benchmark (crate `av-data`).
pub use av_data as data;

pub use device::{DeviceError, select_device};

mod error;
pub mod inference;
pub mod model;
pub mod overlay;
pub mod preprocess;
pub mod train;

pub use inference::{ClassMap, InputSpec, Localizer, Separator, SoundMap, SourceChoice};

/// Class activation maps: CAM, Grad-CAM, Grad-CAM++ (crate `av-gradcam`).
pub use av_gradcam as gradcam;

/// Class-aware pooling and the losses (crate `av-alignment`).
pub use av_alignment as alignment;

pub use error::{Error, Result};

/// Visually guided sound separation: Sound-of-Pixels' mix-and-separate with pluggable guidance
/// (crate `av-separation`).
pub use av_separation as separation;
