//! The offline benchmark (crate `av-data`) as training and test data for the model: frames,
//! log-mels, tags and the ground truth the metrics need.

use std::sync::Arc;

use av_align::preprocess::{AudioPreprocess, AudioWindow, fit_frame};
use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
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
}

impl BenchDataConfig {
    /// The localization benchmark (15 AudioSet instruments, levels 1-3, 5-s clips at 22 050 Hz)
    /// with frames at `image_size`.
    pub fn localization(seed: u64, image_size: u32) -> Self {
        Self { bench: BenchConfig::localization(seed), image_size }
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
            let logmel = audio.logmel(&scene.audio.mix, scene.audio.sample_rate)?;
            let mut labels_a = vec![0.0; c];
            let mut labels_v = vec![0.0; c];
            let objects = scene
                .objects
                .iter()
                .map(|o| {
                    labels_v[o.class] = 1.0;
                    if o.sounding {
                        labels_a[o.class] = 1.0;
                    }
                    TruthObject {
                        class: o.class,
                        sounding: o.sounding,
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
