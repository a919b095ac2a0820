//! The offline benchmark (crate `av-data`) as training and test data for the model: frames,
//! log-mels, tags and the ground truth the metrics need.

use std::sync::Arc;

use av_align::preprocess::{AudioPreprocess, AudioWindow, fit_frame};
use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
use av_data::rng::SplitMix64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use av_align::train::{InMemoryDataset, Sample};
use av_align::{Error, Result};

/// One object of a test scene, in pixels of the (resized) frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TruthObject {
    /// Class index in the benchmark's vocabulary.
    pub class: usize,
    /// Whether it plays.
    pub sounding: bool,
    /// Box `[x0, y0, x1, y1)` in pixels of the frame given to the model.
    pub bbox: [f64; 4],
}

/// Ground truth of one scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SceneTruth {
    /// Scene id (`"<split>_<index>"`).
    pub id: String,
    /// Number of sounding objects (1-3).
    pub level: u8,
    /// Every visible object.
    pub objects: Vec<TruthObject>,
}

/// Scenes of one split as a dataset plus their ground truth (same order).
#[derive(Debug, Clone)]
pub struct BenchData {
    /// Frames, log-mels, tags (audio: sounding classes; visual: visible classes).
    pub dataset: InMemoryDataset,
    /// Ground truth per scene.
    pub truths: Vec<SceneTruth>,
    /// Class names.
    pub class_names: Vec<String>,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchDataConfig {
    /// The generator's settings (vocabulary, levels, distractors, seed).
    pub bench: BenchConfig,
    /// Frames are resized to `image_size x image_size` for the model (256 in the paper).
    pub image_size: u32,
    /// Fraction of the **training** scenes whose audio is replaced by a clip with no instrument
    /// of the vocabulary ([`Generator::no_class_clip`]: an outside instrument, hum or noise) and
    /// whose audio labels are all zero: negatives that teach the audio classifier and the AVC
    /// head that such a clip has no sounding object (the frame, with its now silent instruments,
    /// is kept). Validation and test scenes are never replaced. 0 (the default, and plans written
    /// before the option existed) leaves every scene as generated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub no_class_clips: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Stream tag of the choice of the training scenes that get a no-class clip.
const TAG_NO_CLASS_CHOICE: u64 = 0x40C1_A55C;

impl BenchDataConfig {
    /// The localization benchmark (15 AudioSet instruments, levels 1-3, 5-s clips at 22 050 Hz)
    /// with frames at `image_size`.
    pub fn localization(seed: u64, image_size: u32) -> Self {
        Self { bench: BenchConfig::localization(seed), image_size, no_class_clips: 0.0 }
    }

    /// The same with only the given levels (e.g. `[1]` for single-source scenes).
    pub fn with_levels(mut self, levels: Vec<u8>) -> Self {
        self.bench.levels = levels;
        self
    }
}

/// Generates scenes `range` of `split` (in parallel) and turns them into model inputs.
///
/// # Errors
/// [`Error::Data`] from the generator, [`Error::Audio`] from the log-mel, [`Error::Config`]
/// for an image size below 32 or an empty range.
pub fn generate(
    config: &BenchDataConfig,
    split: Split,
    range: std::ops::Range<u64>,
    progress: bool,
) -> Result<BenchData> {
    if config.image_size < 32 {
        return Err(Error::Config(format!("image_size {} < 32", config.image_size)));
    }
    if range.is_empty() {
        return Err(Error::Config("no scenes requested".into()));
    }
    if !(0.0..=1.0).contains(&config.no_class_clips) {
        return Err(Error::Config(format!(
            "no_class_clips {} is not a fraction in [0, 1]",
            config.no_class_clips
        )));
    }
    let assets = Arc::new(AssetPack::load_default()?);
    let generator = Generator::new(assets, config.bench.clone())?;
    let audio = AudioPreprocess::new(AudioWindow::FirstSeconds)?;
    let vocabulary = config.bench.vocabulary;
    let c = vocabulary.len();
    let bar = crate::run::bar(range.end - range.start, &format!("{split:?} scenes generated"), progress);
    let size = config.image_size;
    let items = range
        .into_par_iter()
        .map(|i| -> Result<(Sample, SceneTruth)> {
            let scene = generator.scene(split, i)?;
            let (w, h) = scene.image.dimensions();
            let frame = fit_frame(&scene.image, size);
            let (sx, sy) = (size as f64 / w as f64, size as f64 / h as f64);
            let no_class = split == Split::Train
                && config.no_class_clips > 0.0
                && SplitMix64::from_words(&[config.bench.seed, i, TAG_NO_CLASS_CHOICE]).uniform()
                    < config.no_class_clips;
            let logmel = if no_class {
                audio.logmel(&generator.no_class_clip(split, i)?, scene.audio.sample_rate)?
            } else {
                audio.logmel(&scene.audio.mix, scene.audio.sample_rate)?
            };
            let mut labels_a = vec![0.0; c];
            let mut labels_v = vec![0.0; c];
            let objects = scene
                .objects
                .iter()
                .map(|o| {
                    labels_v[o.class] = 1.0;
                    let sounding = o.sounding && !no_class;
                    if sounding {
                        labels_a[o.class] = 1.0;
                    }
                    TruthObject {
                        class: o.class,
                        sounding,
                        bbox: [o.bbox.x0 * sx, o.bbox.y0 * sy, o.bbox.x1 * sx, o.bbox.y1 * sy],
                    }
                })
                .collect();
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            Ok((
                Sample { frame, logmel, labels_a, labels_v },
                SceneTruth { id: scene.id.clone(), level: scene.level, objects },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (samples, truths): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    Ok(BenchData {
        dataset: InMemoryDataset::new(samples)?,
        truths,
        class_names: vocabulary.names().into_iter().map(String::from).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// With `no_class_clips = 1`, every training scene hears a clip without an instrument of the
    /// vocabulary (all audio labels zero, no sounding object in its truth, another log-mel) and
    /// keeps its frame and visual labels; validation scenes are never replaced.
    #[test]
    fn no_class_clips_replace_the_audio_of_training_scenes_only() {
        let plain = BenchDataConfig::localization(3, 64);
        let negatives = BenchDataConfig { no_class_clips: 1.0, ..plain.clone() };
        let a = generate(&plain, Split::Train, 0..3, false).unwrap();
        let b = generate(&negatives, Split::Train, 0..3, false).unwrap();
        for i in 0..3 {
            let (sa, sb) = (&a.dataset.samples()[i], &b.dataset.samples()[i]);
            assert_eq!(sa.frame, sb.frame);
            assert_eq!(sa.labels_v, sb.labels_v);
            assert!(sa.labels_a.iter().any(|&l| l > 0.0));
            assert!(sb.labels_a.iter().all(|&l| l == 0.0));
            assert_ne!(sa.logmel, sb.logmel);
            assert!(b.truths[i].objects.iter().all(|o| !o.sounding));
        }
        let va = generate(&plain, Split::Val, 0..2, false).unwrap();
        let vb = generate(&negatives, Split::Val, 0..2, false).unwrap();
        assert_eq!(va.truths, vb.truths);
        assert_eq!(va.dataset.samples()[0].logmel, vb.dataset.samples()[0].logmel);
        let bad = BenchDataConfig { no_class_clips: 1.5, ..plain };
        assert!(matches!(generate(&bad, Split::Train, 0..1, false), Err(Error::Config(_))));
    }

    /// A plan without negatives serialises as before the option existed (old run folders
    /// resume, shipped plans compare equal).
    #[test]
    fn a_plan_without_no_class_clips_serialises_without_the_field() {
        let json = serde_json::to_string(&BenchDataConfig::localization(3, 64)).unwrap();
        assert!(!json.contains("no_class_clips"));
        let back: BenchDataConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.no_class_clips, 0.0);
    }
}
