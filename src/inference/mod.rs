//! One-call inference over a trained model folder: which object makes which sound
//! ([`Localizer`]) and the sound of one object ([`Separator`]).
//!
//! A model folder is self-contained: `model.bpk` + `model.json` (weights and
//! [`crate::model::AvModelConfig`], written by [`crate::train::save_model`]) and `inputs.json`
//! ([`InputSpec`]: frame side, class names, audio window). `flickr_localize train --run R`
//! writes such a folder as `R/model`; the shipped `assets/checkpoints/flickr_broad` is one.
//!
//! ```
//! # let dir = std::env::temp_dir().join(format!("av-align-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let (image, audio) = (dir.join("frame.png"), dir.join("clip.wav"));
//! # image::RgbImage::from_pixel(320, 240, image::Rgb([90, 120, 60])).save(&image)?;
//! # let tone: Vec<f32> = (0..22_050).map(|n| (n as f32 * 0.125).sin() * 0.3).collect();
//! # av_align::audio::write_wav_f32(&audio, &av_align::audio::Audio { samples: tone, sample_rate: 22_050 })?;
//! let sounds = av_align::Localizer::from_dir("assets/checkpoints/flickr_broad")?
//!     .localize_files(&image, &audio)?;           // maps at the image's size, named classes
//! let loudest = &sounds.ranked()[0];             // highest audio probability first
//! println!("{}: p = {:.2}", loudest.name, loudest.audio_prob);
//! sounds.overlay_file(&image, dir.join("map.png"))?; // the class-agnostic map over the image
//! # assert_eq!((sounds.width, sounds.height), (320, 240));
//! # assert_eq!(sounds.classes.len(), 15);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod guided_separation;
mod hearing;
mod inputs;
mod localizer;
mod separation_model;
mod separator;

pub use guided_separation::GUIDE_DIR;
pub use hearing::{Hearing, SilenceRule, level_dbfs};
pub use inputs::{INPUTS_FILE, InputSpec};
pub use localizer::{ClassMap, Localizer, MAX_MAP_SIDE, SoundMap};
pub use separation_model::{CLASSES_FILE, GUIDED_MARKER_FILE, SeparationModel};
pub use separator::{Separated, SeparatedSource, SeparationMethod, Separator, SourceChoice};
