//! The sound-separation experiment (paper §4.4, Table 3; docs/reference_implementation.md §8) as library calls: the
//! coarse-to-fine model as a frozen *guide* of Sound-of-Pixels' mix-and-separate
//! (`av_separation`), the guidance variants of Table 3, training on solos ("single-source") or
//! solos + duets ("multi-source"), and the evaluation with the Sound-of-Pixels / Co-Separation
//! protocol. The example `music_separation` is a thin command line over [`run_separation`].
//!
//! # Guidance variants ([`GuidanceKind`])
//! For a mixture and one of its sources `n` of class `c` (the clip-level tag of the video the
//! source comes from, as MUSIC's videos are labelled by instrument), the guide sees the frame of
//! that video and the *mixture* audio (resampled for it), and gives:
//! * **Grad-CAM** ("Ours Grad-CAM"): the class-`c` map of the audio branch, `W_a^c` (Eq. 4 on
//!   `F_a`, `relu(CAM)` = Grad-CAM for the global-average-pool heads), max-normalised and used
//!   directly as the mask (no U-Net, nothing trained): its rows are resampled from the mel axis
//!   to the warped log-frequency rows and its columns from log-mel frames to STFT frames by
//!   their centre frequencies and times (linear interpolation, clamped at the edges); inference
//!   then binarises it at 0.5 like any predicted mask.
//! * **Audio** ("Ours Audio"): `f_a^c` = Eq. 5 pooling of `F_a` with `W_a^c`, through a
//!   trained [`av_separation::GuidanceProjection`] (`σ(Linear(D, K))`) as the synthesizer's K-vector.
//! * **Visual** ("Ours Visual"): `f_v^c` = Eq. 5 pooling of `F_v` with the localization map
//!   `K^c` (Eq. 8 for class `c`) as the weights (paper §3.3), through a trained projection.
//! * **Whole frame** (the Sound-of-Pixels baseline): SoP's visual vector is a max over all
//!   positions of the frame's feature map; here the max over positions of the guide's own
//!   `F_v` (the same frozen trunk as "Visual", so the two rows differ only by the localization
//!   weighting), through a trained projection. SoP trains its dilated ResNet-18 jointly; with a
//!   frozen trunk this row is a baseline of the guidance, not a reproduction of SoP's numbers.
//!
//! When a weight map is all zeros, Eq. 5 would give the zero vector. This happens when the
//! guide's audio branch sees no evidence of class `c` in the mixture (`relu(CAM_a^c) = 0`
//! everywhere): then `W_a^c`, `f_a^c`, the class embedding `g_a^c` and with it `K^c` are all
//! zero. We then pool the visual map with the visual class map `W_v^c` (the coarse stage's map
//! of class `c` in the frame) instead of `K^c`, and with uniform weights (the mean over
//! positions) when that is empty too or for the audio vector; the Grad-CAM mask stays all zeros
//! (a silent estimate, which the protocol skips). The manifest counts these cases
//! (`fallbacks_visual`, `fallbacks_audio`).
//!
//! # Vocabularies, rates and frames
//! The separation benchmark is MUSIC-style (`BenchConfig::separation`: 11 instruments, 11 025 Hz,
//! 65 535 samples) while the guide is trained on the AudioSet-15 vocabulary at 22 050 Hz. Classes
//! are mapped by instrument (`av_data::classes::Instrument`): 7 of MUSIC's 11 (accordion,
//! acoustic guitar, cello, flute, saxophone, trumpet, violin) exist in AudioSet-15; clarinet,
//! erhu, tuba and xylophone have no guide class, so solos of those classes and duets with one of
//! them are left out of training and test (the manifest lists what was kept). The guide's audio
//! is the 11 025 Hz mixture resampled to 22 050 Hz (`av_audio::resample`; nothing above
//! 5.5 kHz), whole (5.94 s, 298 log-mel frames instead of the 251 of 5-s training clips: the
//! trunk pools globally). Frames are the benchmark scenes' own images (a solo's frame for each
//! source of a solo pair, the duet's frame for both sources of a duet), resized to the guide's
//! frame size (bilinear).
//!
//! # Protocol
//! Training mixtures: `train_pairs` pairs of solos of different classes (train split) for
//! "single-source"; the same plus up to `train_duets` duets as they are for "multi-source"
//! (paper Table 3, Co-Separation's protocol). Test: `test_pairs` pairs of solos of different
//! classes of the test split. SoP's data path, loss and evaluation (`av_separation`): binary
//! masks, weighted BCE, BSS-Eval v3 SDR/SIR/SAR per source, mean over sources then over
//! mixtures, the mixture baseline. The U-Net and the projection are trained jointly with Adam
//! (SoP: SGD lr 1e-3 for 100 epochs on 4 GPUs, out of reach on a CPU); the guide stays frozen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use av_alignment::{PoolNormalization, class_aware_pool};
use av_audio::{LogMelConfig, LogMelExtractor, resample};
use av_backbones::checkpoint::{load_checkpoint_weights, save_checkpoint};
use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
use av_data::classes::Vocabulary;
use av_data::image_io::resize_bilinear;
use av_data::viz::{draw_text, grid};
use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, ResultsTable};
use av_separation::{
    BenchClips, GuidanceKind, GuidanceProjectionConfig, GuidedSeparator, GuidedSeparatorConfig, MixExample,
    MixOrigin, MixSpec, Mixer, SeparationBatch, SeparationNetConfig, SeparationReport, SoloClip,
    SourceGuidance, cam_to_grid, evaluate, forward_loss, guidance_for, oracle_estimates,
    pair_different_classes, separate_inputs,
};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use image::{Rgb, RgbImage};
use indicatif::ProgressBar;

use crate::run::{bar, read_json};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::flickr::{FlickrPlan, load_run_model, train_plan, write_json};
use av_align::model::{AvModel, MapSource};
use av_align::overlay::{jet, overlay, save_png};
use av_align::preprocess::frame_chw;
use av_align::train::{epoch_order, latest_published, publish_checkpoint};
use av_align::{Error, Result};

/// The paper's Table 3 (MUSIC; SDR, SIR, SAR in dB): (method, single-source, multi-source),
/// copied from the paper (docs/reference_implementation.md §12).
pub const PAPER_TABLE3: [(&str, [f64; 3], [f64; 3]); 8] = [
    ("NMF-MFCC", [0.92, 5.68, 5.84], [0.92, 5.68, 5.84]),
    ("AV-Mix-Sep", [3.16, 6.74, 8.89], [3.23, 7.01, 9.14]),
    ("Sound-of-Pixels", [7.30, 11.90, 11.90], [6.05, 9.81, 12.40]),
    ("Co-Separation", [7.38, 13.70, 10.80], [7.64, 13.80, 11.30]),
    ("CAVL", [6.59, 10.10, 12.56], [6.78, 10.62, 12.19]),
    ("Ours Grad-CAM", [-2.78, -0.01, 7.79], [-2.49, 0.08, 8.34]),
    ("Ours Audio", [-1.16, 0.33, 11.11], [-0.97, 0.43, 11.02]),
    ("Ours Visual", [6.53, 12.15, 11.31], [6.57, 11.90, 10.78]),
];

/// Which training mixtures (the two column groups of Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrainingSet {
    /// Pairs of solos only.
    SingleSource,
    /// Pairs of solos and duets.
    MultiSource,
}

impl TrainingSet {
    /// Both, in the order of the table.
    pub const ALL: [TrainingSet; 2] = [TrainingSet::SingleSource, TrainingSet::MultiSource];

    /// A short name for files and folders.
    pub fn slug(self) -> &'static str {
        match self {
            TrainingSet::SingleSource => "single",
            TrainingSet::MultiSource => "multi",
        }
    }
}

/// Everything that defines a run of the experiment (stored as `config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeparationPlan {
    /// A real MUSIC dataset in the documented layout (docs/datasets.md §2.4) instead of the
    /// benchmark: its solos of the train / test splits (first 65 535 samples at 11 025 Hz, the
    /// middle frame) make the pairs. Real duets have no per-instrument stems, so multi-source
    /// training adds none and equals single-source training there.
    #[serde(default)]
    pub data_root: Option<PathBuf>,
    /// Seed of the separation benchmark (`BenchConfig::separation(seed)`).
    pub bench_seed: u64,
    /// Train-split scenes generated (`0..train_scenes`; about half solos, half duets).
    pub train_scenes: u64,
    /// Test-split scenes generated (their solos make the test pairs).
    pub test_scenes: u64,
    /// Training pairs of solos of different classes.
    pub train_pairs: usize,
    /// Most duets added for multi-source training (all the kept ones when fewer).
    pub train_duets: usize,
    /// Test pairs of solos of different classes.
    pub test_pairs: usize,
    /// Seed of the pair sampler (test pairs use `pair_seed + 1`).
    pub pair_seed: u64,
    /// The separation network (U-Net-7 + synthesizer).
    pub net: SeparationNetConfig,
    /// Seed of the guidance projection's initialisation.
    pub projection_seed: u64,
    /// Epochs over the training mixtures.
    pub epochs: usize,
    /// Mixtures per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the batch order.
    pub order_seed: u64,
    /// Write a checkpoint every this many steps (and always at the end of a run).
    pub checkpoint_every: usize,
    /// Test pairs written as WAVs and pictures.
    pub examples: usize,
    /// The trained variants to run (Grad-CAM, which needs no training, always runs).
    pub variants: Vec<GuidanceKind>,
    /// The training sets to run.
    pub training_sets: Vec<TrainingSet>,
}

impl SeparationPlan {
    /// The default CPU run (a few minutes per variant on 2 cores): compact U-Net (ngf 8, K 8),
    /// 160 training pairs (+ up to 80 duets), 3 epochs of batch 4, Adam 3e-3, 48 test pairs.
    pub fn compact() -> Self {
        Self {
            data_root: None,
            bench_seed: 2020,
            train_scenes: 480,
            test_scenes: 160,
            train_pairs: 160,
            train_duets: 80,
            test_pairs: 48,
            pair_seed: 11,
            net: SeparationNetConfig::compact().with_seed(3),
            projection_seed: 5,
            epochs: 3,
            batch_size: 4,
            lr: 3e-3,
            order_seed: 17,
            checkpoint_every: 20,
            examples: 4,
            variants: vec![GuidanceKind::WholeFrame, GuidanceKind::Audio, GuidanceKind::Visual],
            training_sets: TrainingSet::ALL.to_vec(),
        }
    }

    /// Seconds, for tests: a 4-channel U-Net, a handful of mixtures, one epoch.
    pub fn tiny() -> Self {
        Self {
            train_scenes: 16,
            test_scenes: 16,
            train_pairs: 4,
            train_duets: 2,
            test_pairs: 3,
            net: SeparationNetConfig::compact().with_ngf(4).with_channels(4).with_seed(3),
            epochs: 1,
            batch_size: 2,
            checkpoint_every: 1,
            examples: 1,
            ..Self::compact()
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        if self.train_scenes == 0
            || self.test_scenes == 0
            || self.train_pairs == 0
            || self.test_pairs == 0
            || self.epochs == 0
            || self.batch_size == 0
            || !(self.lr > 0.0 && self.lr.is_finite())
        {
            return Err(Error::Config(format!(
                "scenes, pairs, epochs, batch size and lr must be > 0: {self:?}"
            )));
        }
        Ok(())
    }
}

/// The coarse-to-fine model used as a frozen guide, with what is needed to feed it.
#[derive(Debug)]
pub struct Guide {
    /// The model (inference mode, plain device).
    pub model: AvModel,
    /// Its frame side (pixels).
    pub image_size: u32,
    /// Its class list.
    pub vocabulary: Vocabulary,
    /// Where it came from (a checkpoint directory or a training run), for the manifest.
    pub origin: String,
}

impl Guide {
    /// Wraps a model trained with `plan` (its frame size and vocabulary).
    ///
    /// # Errors
    /// [`Error::Config`] when the model's class count differs from the plan's vocabulary.
    pub fn from_model(model: AvModel, plan: &FlickrPlan, origin: impl Into<String>) -> Result<Self> {
        let vocabulary = plan.data.bench.vocabulary;
        if model.num_classes() != vocabulary.len() {
            return Err(Error::Config(format!(
                "the guide has {} classes, its plan's vocabulary {:?} {}",
                model.num_classes(),
                vocabulary,
                vocabulary.len()
            )));
        }
        Ok(Self { model, image_size: plan.data.image_size, vocabulary, origin: origin.into() })
    }

    /// Loads a model folder (as `assets/checkpoints/flickr_compact` or a run's `model/`) with
    /// [`load_run_model`].
    ///
    /// # Errors
    /// As [`load_run_model`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (plan, model) = load_run_model(dir, device)?;
        Self::from_model(model, &plan, dir.display().to_string())
    }

    /// Trains a guide with `plan` in `run_dir` (resumes; see [`train_plan`], which leaves a
    /// self-contained `run_dir/model` that [`Guide::load`] takes).
    ///
    /// # Errors
    /// As [`train_plan`].
    pub fn train(plan: &FlickrPlan, run_dir: &Path, device: &Device, progress: bool) -> Result<Self> {
        let trained = train_plan(plan, run_dir, device, progress)?;
        Self::from_model(trained.stage2, plan, run_dir.join("model").display().to_string())
    }

    /// The guide's class of a class of the separation vocabulary (MUSIC-11), by instrument.
    pub fn map_class(&self, music_class: usize) -> Option<usize> {
        let instrument = Vocabulary::Music11.classes().get(music_class)?;
        self.vocabulary.index_of(*instrument)
    }
}

/// A training mixture reduced to what training needs.
#[derive(Debug, Clone)]
pub struct TrainItem {
    /// Which clips were mixed.
    pub origin: MixOrigin,
    /// Whether it is a duet (multi-source training only).
    pub duet: bool,
    /// Network input `(256, 256)`.
    pub log_magnitude: Array2<f32>,
    /// One target mask per source `(256, 256)`.
    pub targets: Vec<Array2<f32>>,
    /// Loss weights `(256, 256)`.
    pub weight: Array2<f32>,
    /// The guide's output per source.
    pub guidance: Vec<SourceGuidance>,
}

/// A test mixture.
#[derive(Debug, Clone)]
pub struct TestItem {
    /// Which clips were mixed.
    pub origin: MixOrigin,
    /// Ids of the frames of the sources.
    pub frame_ids: Vec<String>,
    /// The mixture, its sources and the targets.
    pub example: MixExample,
    /// The guide's output per source.
    pub guidance: Vec<SourceGuidance>,
}

/// The prepared data of a run.
#[derive(Debug, Clone)]
pub struct SeparationData {
    /// Training mixtures: solo pairs first, then the duets.
    pub train: Vec<TrainItem>,
    /// Test mixtures.
    pub test: Vec<TestItem>,
    /// Frames at the guide's size, by scene id.
    pub frames: HashMap<String, RgbImage>,
    /// What was generated and kept (for the manifest).
    pub manifest: DataManifest,
}

/// What the data of a run is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataManifest {
    /// The benchmark's generator settings.
    pub bench: BenchConfig,
    /// MUSIC class names (index = class id in the mixtures).
    pub music_classes: Vec<String>,
    /// MUSIC class -> guide class (`None`: no such instrument in the guide's vocabulary).
    pub class_map: Vec<Option<usize>>,
    /// Solos and duets generated / kept (all classes mapped), train split.
    pub train_counts: ClipCounts,
    /// The same for the test split.
    pub test_counts: ClipCounts,
    /// Training mixtures (solo pairs, then duets).
    pub train: Vec<MixOrigin>,
    /// Test mixtures.
    pub test: Vec<MixOrigin>,
    /// Sources whose localization map `K^c` was empty (see the module doc).
    pub fallbacks_visual: usize,
    /// Sources whose audio class map `W_a^c` was empty.
    pub fallbacks_audio: usize,
    /// Sources in all (training and test).
    pub sources: usize,
    /// Per-channel mean and standard deviation of the whole-frame, audio and visual vectors over
    /// the sources of the training solo pairs, used to standardise every vector.
    pub feature_stats: [FeatureStats; 3],
}

/// Per-channel statistics of one kind of guide vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FeatureStats {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (at least 1e-6).
    pub std: Vec<f32>,
}

impl FeatureStats {
    /// Mean and standard deviation of each channel of `vectors` (all of the same length).
    pub fn of<'a>(vectors: impl Iterator<Item = &'a [f32]>) -> Self {
        let mut sum: Vec<f64> = Vec::new();
        let mut sq: Vec<f64> = Vec::new();
        let mut n = 0usize;
        for v in vectors {
            if sum.is_empty() {
                sum = vec![0.0; v.len()];
                sq = vec![0.0; v.len()];
            }
            for (i, &x) in v.iter().enumerate().take(sum.len()) {
                sum[i] += f64::from(x);
                sq[i] += f64::from(x) * f64::from(x);
            }
            n += 1;
        }
        let n = n.max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| ((q / n - (s / n) * (s / n)).max(0.0).sqrt() as f32).max(1e-6))
            .collect();
        Self { mean, std }
    }

    /// `(x − mean) / std`, channel by channel.
    pub fn apply(&self, v: &mut [f32]) {
        for ((x, m), s) in v.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
    }
}

/// Clip counts of one split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipCounts {
    /// Solo scenes generated.
    pub solos: usize,
    /// Solo scenes kept.
    pub solos_kept: usize,
    /// Duet scenes generated.
    pub duets: usize,
    /// Duet scenes kept.
    pub duets_kept: usize,
}

fn tensor_read<const D: usize>(what: &'static str, t: Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_vec_as::<f32>().map_err(|e| {
        Error::Separation(av_separation::SeparationError::TensorRead { op: what, detail: format!("{e:?}") })
    })
}

/// Generates the scenes of one split, keeps their frames (at `image_size`) and their clips
/// whose classes the guide knows.
fn split_clips(
    generator: &Generator,
    guide: &Guide,
    split: Split,
    scenes: u64,
    frames: &mut HashMap<String, RgbImage>,
) -> Result<(BenchClips, ClipCounts)> {
    let mut generated = generator.scenes(split, 0..scenes)?;
    let size = guide.image_size;
    for scene in &mut generated {
        let image = std::mem::take(&mut scene.image);
        let (w, h) = image.dimensions();
        let image = if (w, h) == (size, size) { image } else { resize_bilinear(&image, size, size) };
        frames.insert(scene.id.clone(), image);
    }
    let clips = BenchClips::from_scenes(generated, generator.config().clip.sample_rate)?;
    let known = |c: &usize| guide.map_class(*c).is_some();
    let solos: Vec<SoloClip> = clips.solos.iter().filter(|s| known(&s.class)).cloned().collect();
    let duets: Vec<MixSpec> = clips.duets.iter().filter(|d| d.classes.iter().all(known)).cloned().collect();
    let counts = ClipCounts {
        solos: clips.solos.len(),
        solos_kept: solos.len(),
        duets: clips.duets.len(),
        duets_kept: duets.len(),
    };
    Ok((BenchClips { sample_rate: clips.sample_rate, solos, duets }, counts))
}

/// The solos of one split of a real MUSIC layout, as clips of the separation format, with
/// their middle frames; instruments the guide does not know are dropped (and counted).
fn music_clips(
    root: &Path,
    guide: &Guide,
    split: Split,
    frames: &mut HashMap<String, RgbImage>,
) -> Result<(BenchClips, ClipCounts)> {
    use av_data::layouts::music::{MUSIC_CLIP_LEN, MUSIC_RATE, MusicKind, MusicLayout};
    let (videos, report) = MusicLayout::new(root).load(av_data::SkipPolicy::Skip)?;
    let size = guide.image_size;
    let mut solos = Vec::new();
    let mut total = 0;
    for v in videos.iter().filter(|v| v.split == split && v.kind == MusicKind::Solo) {
        total += 1;
        let Some(class) = v.instruments.first().and_then(|i| Vocabulary::Music11.index_of(*i)) else {
            continue;
        };
        if guide.map_class(class).is_none() {
            continue;
        }
        let Ok(audio) = v.load_audio() else { continue };
        let Ok(waveform) = av_audio::fit_clip(&audio, MUSIC_CLIP_LEN, av_audio::ClipPolicy::default()) else {
            continue;
        };
        let Ok(frame) = av_data::image_io::load_frame(v.frame_path((v.n_frames / 2).max(1))) else {
            continue;
        };
        let id = v.key();
        frames.insert(id.clone(), resize_bilinear(&frame, size, size));
        solos.push(SoloClip { id, class, waveform });
    }
    if solos.is_empty() {
        return Err(Error::Config(format!(
            "{}: no usable {split:?} solo of an instrument the guide knows ({})",
            root.display(),
            report.summary()
        )));
    }
    let counts = ClipCounts { solos: total, solos_kept: solos.len(), duets: 0, duets_kept: 0 };
    Ok((BenchClips { sample_rate: MUSIC_RATE, solos, duets: Vec::new() }, counts))
}

/// Pairs of solos of different classes with the ids of their frames.
fn pairs(solos: &[SoloClip], count: usize, seed: u64) -> Result<Vec<(MixSpec, Vec<String>)>> {
    let classes: Vec<usize> = solos.iter().map(|s| s.class).collect();
    Ok(pair_different_classes(&classes, count, seed)?
        .into_iter()
        .map(|(i, j)| (MixSpec::pair(&solos[i], &solos[j]), vec![solos[i].id.clone(), solos[j].id.clone()]))
        .collect())
}

/// One source query to the guide.
struct Query<'a> {
    frame: &'a RgbImage,
    mix: usize,
    music_class: usize,
    guide_class: usize,
}

/// Runs the guide on `queries` (batches of 16) and derives every variant's guidance.
fn guide_queries(
    guide: &Guide,
    queries: &[Query<'_>],
    logmels: &[Array2<f32>],
    with_cam: bool,
    mixer: &Mixer,
    device: &Device,
    bar: Option<&ProgressBar>,
) -> Result<Vec<SourceGuidance>> {
    const CHUNK: usize = 16;
    let mut out = Vec::with_capacity(queries.len());
    let size = guide.image_size as usize;
    let c = guide.model.num_classes();
    for chunk in queries.chunks(CHUNK) {
        let n = chunk.len();
        let (t, f) = logmels[chunk[0].mix].dim();
        let mut frames = Vec::with_capacity(n * 3 * size * size);
        let mut mels = Vec::with_capacity(n * t * f);
        for q in chunk {
            frames.extend(frame_chw(q.frame, false));
            mels.extend(logmels[q.mix].iter().copied());
        }
        let frames = Tensor::<4>::from_data(TensorData::new(frames, [n, 3, size, size]), device);
        let mels = Tensor::<4>::from_data(TensorData::new(mels, [n, 1, t, f]), device);
        let features = guide.model.features(frames, mels)?;
        let loc = guide.model.class_localization_maps(&features, MapSource::Alignment)?; // [n, C, h, w]
        let wa = guide.model.class_maps(features.f_a.clone(), false)?; // [n, C, ta, fa]
        let wv = guide.model.class_maps(features.f_v.clone(), true)?; // [n, C, h, w]
        let [_, d, h, w] = features.f_v.dims();
        let [_, _, ta, fa] = features.f_a.dims();
        let loc = tensor_read("guide K^c", loc)?;
        let wa = tensor_read("guide W_a", wa)?;
        let wv = tensor_read("guide W_v", wv)?;
        // Eq. 5 weights of each query's class (av-alignment's pooling): the visual vector pools
        // F_v with K^c, or with W_v^c when K^c is all zeros, or uniformly when that is empty
        // too; the audio vector pools F_a with W_a^c, or uniformly.
        let plane = |maps: &[f32], i: usize, class: usize, len: usize| -> Vec<f32> {
            maps[(i * c + class) * len..(i * c + class + 1) * len].to_vec()
        };
        let is_empty = |x: &[f32]| x.iter().sum::<f32>() <= 0.0;
        let mut visual_weights = Vec::with_capacity(n * h * w);
        let mut audio_weights = Vec::with_capacity(n * ta * fa);
        let mut fallbacks = Vec::with_capacity(n);
        for (i, q) in chunk.iter().enumerate() {
            let k = plane(&loc, i, q.guide_class, h * w);
            let wvc = plane(&wv, i, q.guide_class, h * w);
            let wac = plane(&wa, i, q.guide_class, ta * fa);
            let fb_v = is_empty(&k);
            let chosen = if !fb_v {
                k
            } else if !is_empty(&wvc) {
                wvc
            } else {
                vec![1.0; h * w]
            };
            let fb_a = is_empty(&wac);
            visual_weights.extend(chosen);
            audio_weights.extend(if fb_a { vec![1.0; ta * fa] } else { wac });
            fallbacks.push((fb_v, fb_a));
        }
        let visual_weights = Tensor::<4>::from_data(TensorData::new(visual_weights, [n, 1, h, w]), device);
        let audio_weights = Tensor::<4>::from_data(TensorData::new(audio_weights, [n, 1, ta, fa]), device);
        let visual = tensor_read(
            "guide f_v^c",
            class_aware_pool(features.f_v.clone(), visual_weights, PoolNormalization::WeightedMean)?,
        )?; // [n, 1, d]
        let audio = tensor_read(
            "guide f_a^c",
            class_aware_pool(features.f_a, audio_weights, PoolNormalization::WeightedMean)?,
        )?; // [n, 1, d]
        let f_v = tensor_read("guide F_v", features.f_v)?;
        for (i, q) in chunk.iter().enumerate() {
            let fv = &f_v[i * d * h * w..(i + 1) * d * h * w];
            let k = plane(&loc, i, q.guide_class, h * w);
            let wac = plane(&wa, i, q.guide_class, ta * fa);
            let (fallback_visual, fallback_audio) = fallbacks[i];
            let whole_frame = (0..d)
                .map(|ch| fv[ch * h * w..(ch + 1) * h * w].iter().copied().fold(f32::MIN, f32::max))
                .collect();
            let cam_mask = with_cam.then(|| cam_to_grid(&wac, ta, fa, t, mixer)).transpose()?;
            out.push(SourceGuidance {
                music_class: q.music_class,
                guide_class: q.guide_class,
                visual: visual[i * d..(i + 1) * d].to_vec(),
                whole_frame,
                audio: audio[i * d..(i + 1) * d].to_vec(),
                cam_mask,
                localization: k,
                loc_size: [h, w],
                fallback_visual,
                fallback_audio,
            });
        }
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
    Ok(out)
}

/// Generates the benchmark splits, mixes, and runs the guide on every source.
///
/// # Errors
/// Data, audio, model and separation errors; [`Error::Config`] when too few clips are kept.
pub fn prepare_data(
    plan: &SeparationPlan,
    guide: &Guide,
    device: &Device,
    progress: bool,
) -> Result<SeparationData> {
    plan.validate()?;
    let bench = BenchConfig::separation(plan.bench_seed);
    let generator = Generator::new(Arc::new(AssetPack::load_default()?), bench.clone())?;
    let mixer = Mixer::sound_of_pixels()?;
    let extractor = LogMelExtractor::new(LogMelConfig::paper())?;
    if progress {
        eprintln!(
            "generating {} train and {} test scenes of the separation benchmark ...",
            plan.train_scenes, plan.test_scenes
        );
    }
    let mut frames = HashMap::new();
    let ((train_clips, train_counts), (test_clips, test_counts)) = match &plan.data_root {
        None => (
            split_clips(&generator, guide, Split::Train, plan.train_scenes, &mut frames)?,
            split_clips(&generator, guide, Split::Test, plan.test_scenes, &mut frames)?,
        ),
        Some(root) => (
            music_clips(root, guide, Split::Train, &mut frames)?,
            music_clips(root, guide, Split::Test, &mut frames)?,
        ),
    };
    let mut train_specs = pairs(&train_clips.solos, plan.train_pairs, plan.pair_seed)?;
    let duets: Vec<(MixSpec, Vec<String>)> = train_clips
        .duets
        .iter()
        .take(plan.train_duets)
        .map(|d| (d.clone(), vec![d.id.clone(); d.num_sources()]))
        .collect();
    let n_pairs = train_specs.len();
    train_specs.extend(duets);
    let test_specs = pairs(&test_clips.solos, plan.test_pairs, plan.pair_seed + 1)?;
    let rate = train_clips.sample_rate;

    // Mix, and the guide's log-mel of each mixture (resampled to its rate).
    let guide_rate = LogMelConfig::paper().mel.sample_rate;
    let mix_all = |specs: &[(MixSpec, Vec<String>)]| -> Result<Vec<(MixExample, Array2<f32>)>> {
        use rayon::prelude::*;
        specs
            .par_iter()
            .map(|(spec, _)| {
                let ex = mixer.mix(&spec.sources, rate)?;
                let up = resample(&ex.input.mixture, rate, guide_rate)?;
                Ok((ex, extractor.compute(&up)?))
            })
            .collect()
    };
    let total = 2 * (train_specs.len() + test_specs.len()) as u64;
    let progress_bar = bar(total, "sources through the guide", progress);
    let (mut fallbacks_visual, mut fallbacks_audio, mut sources) = (0, 0, 0);
    let mut run = |specs: &[(MixSpec, Vec<String>)],
                   with_cam: bool|
     -> Result<Vec<(MixExample, Vec<SourceGuidance>)>> {
        let mixed = mix_all(specs)?;
        let (examples, logmels): (Vec<MixExample>, Vec<Array2<f32>>) = mixed.into_iter().unzip();
        let mut queries = Vec::new();
        for (m, (spec, ids)) in specs.iter().enumerate() {
            for (n, &class) in spec.classes.iter().enumerate() {
                let frame =
                    frames.get(&ids[n]).ok_or_else(|| Error::Config(format!("no frame for {}", ids[n])))?;
                let guide_class = guide
                    .map_class(class)
                    .ok_or_else(|| Error::Config(format!("class {class} has no guide class")))?;
                queries.push(Query { frame, mix: m, music_class: class, guide_class });
            }
        }
        let mut guidance =
            guide_queries(guide, &queries, &logmels, with_cam, &mixer, device, progress_bar.as_ref())?;
        fallbacks_visual += guidance.iter().filter(|g| g.fallback_visual).count();
        fallbacks_audio += guidance.iter().filter(|g| g.fallback_audio).count();
        sources += guidance.len();
        let mut out = Vec::with_capacity(examples.len());
        let mut rest = guidance.drain(..);
        for (ex, (spec, _)) in examples.into_iter().zip(specs) {
            let g: Vec<SourceGuidance> = rest.by_ref().take(spec.num_sources()).collect();
            out.push((ex, g));
        }
        Ok(out)
    };
    let train_done = run(&train_specs, false)?;
    let test_done = run(&test_specs, true)?;
    if let Some(b) = progress_bar {
        b.finish_and_clear();
    }
    let mut train: Vec<TrainItem> = train_done
        .into_iter()
        .zip(&train_specs)
        .enumerate()
        .map(|(i, ((ex, guidance), (spec, _)))| TrainItem {
            origin: MixOrigin::from(spec),
            duet: i >= n_pairs,
            log_magnitude: ex.input.log_magnitude,
            targets: ex.targets,
            weight: ex.weight,
            guidance,
        })
        .collect();
    let mut test: Vec<TestItem> = test_done
        .into_iter()
        .zip(&test_specs)
        .map(|((example, guidance), (spec, ids))| TestItem {
            origin: MixOrigin::from(spec),
            frame_ids: ids.clone(),
            example,
            guidance,
        })
        .collect();
    // Standardise every guide vector with the statistics of the training solo pairs' sources
    // (a fixed affine map in front of the projection, like a BatchNorm with frozen statistics):
    // post-ReLU features share a large common part that would otherwise dominate `Linear + σ`.
    let solo_sources = || train.iter().filter(|t| !t.duet).flat_map(|t| t.guidance.iter());
    let feature_stats = [
        FeatureStats::of(solo_sources().map(|g| g.whole_frame.as_slice())),
        FeatureStats::of(solo_sources().map(|g| g.audio.as_slice())),
        FeatureStats::of(solo_sources().map(|g| g.visual.as_slice())),
    ];
    let standardise = |g: &mut SourceGuidance| {
        feature_stats[0].apply(&mut g.whole_frame);
        feature_stats[1].apply(&mut g.audio);
        feature_stats[2].apply(&mut g.visual);
    };
    train.iter_mut().flat_map(|t| t.guidance.iter_mut()).for_each(standardise);
    test.iter_mut().flat_map(|t| t.guidance.iter_mut()).for_each(standardise);
    let manifest = DataManifest {
        bench,
        music_classes: Vocabulary::Music11.names().into_iter().map(String::from).collect(),
        class_map: (0..Vocabulary::Music11.len()).map(|c| guide.map_class(c)).collect(),
        train_counts,
        test_counts,
        train: train.iter().map(|t| t.origin.clone()).collect(),
        test: test.iter().map(|t| t.origin.clone()).collect(),
        fallbacks_visual,
        fallbacks_audio,
        sources,
        feature_stats,
    };
    Ok(SeparationData { train, test, frames, manifest })
}

fn stack(arrays: &[&Array2<f32>], shape: [usize; 4], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(shape.iter().product());
    for a in arrays {
        values.extend(a.iter().copied());
    }
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A training batch of items (all with the same source count).
fn train_batch(items: &[&TrainItem], device: &Device) -> SeparationBatch {
    let b = items.len();
    let s = items[0].targets.len();
    let (f, t) = items[0].log_magnitude.dim();
    let inputs: Vec<&Array2<f32>> = items.iter().map(|i| &i.log_magnitude).collect();
    let targets: Vec<&Array2<f32>> = items.iter().flat_map(|i| i.targets.iter()).collect();
    let weights: Vec<&Array2<f32>> = items.iter().map(|i| &i.weight).collect();
    SeparationBatch {
        log_magnitude: stack(&inputs, [b, 1, f, t], device),
        targets: stack(&targets, [b, s, f, t], device),
        weight: stack(&weights, [b, 1, f, t], device),
    }
}

/// Loop state stored with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Steps done.
    pub step: usize,
    /// Total steps of the run.
    pub total_steps: usize,
    /// Mean loss of each finished epoch.
    pub epoch_losses: Vec<f32>,
    /// Sum of the current epoch's losses.
    pub epoch_sum: f32,
    /// Training seconds so far (summed over resumed processes).
    pub seconds: f64,
}

fn save_run_checkpoint(
    dir: &Path,
    model: &GuidedSeparator,
    config: &GuidedSeparatorConfig,
    optim: &ModuleOptimizer,
    state: &RunState,
) -> Result<()> {
    let name = format!("step-{:06}", state.step);
    publish_checkpoint(&dir.join("checkpoints"), &name, |tmp| {
        save_checkpoint(&model.valid(), config, tmp, "model")?;
        let optim_path = tmp.join("optimizer.bpk");
        optim.save(&optim_path).map_err(|e| Error::io(&optim_path, format!("{e:?}")))?;
        write_json(&tmp.join("state.json"), state)
    })?;
    Ok(())
}

fn latest_run_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
    latest_published(&dir.join("checkpoints"), "state.json")
}

/// The result of training one variant.
#[derive(Debug)]
pub struct TrainedVariant {
    /// The trained model (inference mode, plain device).
    pub model: GuidedSeparator,
    /// The loop state at the end (losses, seconds).
    pub state: RunState,
    /// The step this process resumed from, if it did.
    pub resumed_from: Option<usize>,
}

/// Trains the separation network and the projection of one vector variant on `items`, in `dir`
/// (`checkpoints/` with resume, `model/` with the final weights). A finished run is loaded,
/// not retrained.
///
/// # Errors
/// [`Error::Config`] for Grad-CAM (nothing to train) or no items; [`Error::Diverged`];
/// checkpoint and I/O errors.
#[allow(clippy::too_many_arguments)]
pub fn train_variant(
    plan: &SeparationPlan,
    kind: GuidanceKind,
    items: &[&TrainItem],
    dir: &Path,
    device: &Device,
    progress: bool,
    label: &str,
) -> Result<TrainedVariant> {
    if !kind.is_trained() {
        return Err(Error::Config("Grad-CAM guidance is not trained".into()));
    }
    let first = items.first().ok_or_else(|| Error::Config("no training mixtures".into()))?;
    let d = first.guidance[0].visual.len();
    let config = GuidedSeparatorConfig::new(
        plan.net.clone(),
        GuidanceProjectionConfig::new(d).with_channels(plan.net.channels).with_seed(plan.projection_seed),
    );
    let final_dir = dir.join("model");
    if final_dir.join("state.json").is_file() {
        let state: RunState = read_json(&final_dir.join("state.json"))?;
        let model = load_checkpoint_weights(config.init(device)?, &final_dir, "model")?;
        return Ok(TrainedVariant { model, state, resumed_from: Some(usize::MAX) });
    }
    let ad = device.clone().autodiff();
    let batch = plan.batch_size.min(items.len());
    let per_epoch = items.len() / batch;
    let total_steps = per_epoch * plan.epochs;
    let mut optim = AdamConfig::new().init();
    let mut state = RunState { step: 0, total_steps, epoch_losses: Vec::new(), epoch_sum: 0.0, seconds: 0.0 };
    let mut model = config.init(device)?.fork(&ad).train();
    let mut resumed_from = None;
    if let Some(ckpt) = latest_run_checkpoint(dir)? {
        state = read_json(&ckpt.join("state.json"))?;
        if state.total_steps != total_steps {
            return Err(Error::Checkpoint {
                path: ckpt,
                detail: format!("written for {} steps, this run has {total_steps}", state.total_steps),
            });
        }
        model = load_checkpoint_weights(config.init(device)?, &ckpt, "model")?.fork(&ad).train();
        optim = optim.load(ckpt.join("optimizer.bpk")).map_err(|e| Error::Checkpoint {
            path: ckpt.clone(),
            detail: format!("optimizer state: {e:?}"),
        })?;
        resumed_from = Some(state.step);
    }
    let progress_bar = bar(total_steps as u64, label, progress);
    if let Some(b) = &progress_bar {
        b.set_position(state.step as u64);
    }
    let started = Instant::now();
    let base_seconds = state.seconds;
    while state.step < total_steps {
        let epoch = state.step / per_epoch;
        let s = state.step % per_epoch;
        let order = epoch_order(plan.order_seed, epoch, items.len());
        let chosen: Vec<&TrainItem> = order[s * batch..(s + 1) * batch].iter().map(|&i| items[i]).collect();
        let sources = chosen[0].targets.len();
        if chosen.iter().any(|c| c.targets.len() != sources) {
            return Err(Error::Config("training mixtures with different source counts in one batch".into()));
        }
        let tensors = train_batch(&chosen, &ad);
        let guidance = (0..sources)
            .map(|n| {
                let g: Vec<&SourceGuidance> = chosen.iter().map(|c| &c.guidance[n]).collect();
                Ok(guidance_for(kind, &g, Some(&model.projection), &ad)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let out = forward_loss(&model.net, &tensors, &guidance)?;
        let value = tensor_read("loss", out.loss.clone())?.first().copied().unwrap_or(f32::NAN);
        if !value.is_finite() {
            return Err(Error::Diverged { value, epoch, step: state.step });
        }
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(plan.lr, model, grads);
        state.step += 1;
        state.epoch_sum += value;
        if state.step.is_multiple_of(per_epoch) {
            state.epoch_losses.push(state.epoch_sum / per_epoch as f32);
            state.epoch_sum = 0.0;
        }
        state.seconds = base_seconds + started.elapsed().as_secs_f64();
        if let Some(b) = &progress_bar {
            b.set_message(format!("{label} loss {value:.4}"));
            b.inc(1);
        }
        if plan.checkpoint_every > 0
            && state.step.is_multiple_of(plan.checkpoint_every)
            && state.step < total_steps
        {
            save_run_checkpoint(dir, &model, &config, &optim, &state)?;
        }
    }
    if let Some(b) = progress_bar {
        b.finish_and_clear();
    }
    let model = model.valid();
    let tmp = dir.join("model.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    save_checkpoint(&model, &config, &tmp, "model")?;
    write_json(&tmp.join("state.json"), &state)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    let _ = std::fs::remove_dir_all(dir.join("checkpoints"));
    let model = load_checkpoint_weights(config.init(device)?, &final_dir, "model")?;
    Ok(TrainedVariant { model, state, resumed_from })
}

/// Estimates and predicted masks of one variant on the test mixtures.
#[derive(Debug, Clone)]
pub struct VariantOutput {
    /// Per mixture, one waveform per source (65 280 samples).
    pub estimates: Vec<Vec<Vec<f32>>>,
    /// Per mixture, one predicted mask per source on the warped grid (before binarisation).
    pub masks: Vec<Vec<Array2<f32>>>,
}

/// Separates the test mixtures with one variant (`model` for vector variants; Grad-CAM needs
/// none), 8 mixtures per pass.
///
/// # Errors
/// As [`guidance_for`] and `av_separation::separate_inputs`.
pub fn separate_test(
    kind: GuidanceKind,
    model: Option<&GuidedSeparator>,
    test: &[TestItem],
    mixer: &Mixer,
    device: &Device,
) -> Result<VariantOutput> {
    let fallback_net;
    let (net, projection) = match model {
        Some(m) => (&m.net, Some(&m.projection)),
        None => {
            // The mask is used directly: the network is never run (any network will do).
            fallback_net = SeparationNetConfig::compact().with_ngf(1).with_channels(1).init(device)?;
            (&fallback_net, None)
        }
    };
    let mut out = VariantOutput { estimates: Vec::new(), masks: Vec::new() };
    for chunk in test.chunks(8) {
        let sources = chunk[0].guidance.len();
        let guidance = (0..sources)
            .map(|n| {
                let g: Vec<&SourceGuidance> = chunk.iter().map(|c| &c.guidance[n]).collect();
                Ok(guidance_for(kind, &g, projection, device)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let inputs: Vec<&av_separation::MixtureInput> = chunk.iter().map(|c| &c.example.input).collect();
        for sep in separate_inputs(net, mixer, &inputs, &guidance, device)? {
            out.estimates.push(sep.sources);
            out.masks.push(sep.masks);
        }
    }
    Ok(out)
}

/// Scores precomputed estimates with the SoP protocol.
///
/// # Errors
/// As `av_separation::evaluate`.
pub fn score(
    mixer: &Mixer,
    method: &str,
    test: &[TestItem],
    estimates: &[Vec<Vec<f32>>],
) -> Result<SeparationReport> {
    let origins: Vec<MixOrigin> = test.iter().map(|t| t.origin.clone()).collect();
    let examples: Vec<MixExample> = test.iter().map(|t| t.example.clone()).collect();
    let mut next = 0;
    Ok(evaluate(mixer, method, &origins, &examples, |_| {
        let e = estimates
            .get(next)
            .cloned()
            .ok_or(av_separation::SeparationError::Empty { op: "score", what: "estimate list" })?;
        next += 1;
        Ok(e)
    })?)
}

/// One row of the measured table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table3Row {
    /// Method name.
    pub method: String,
    /// The guidance variant (`None` for the mixture and the ideal-mask rows).
    pub kind: Option<GuidanceKind>,
    /// Training set (`None` when nothing is trained).
    pub training: Option<TrainingSet>,
    /// Mean SDR (dB).
    pub sdr: f64,
    /// Mean SIR (dB).
    pub sir: f64,
    /// Mean SAR (dB).
    pub sar: f64,
    /// Mean SDR of the mixture on the same mixtures (dB).
    pub sdr_mix: f64,
    /// `sdr − sdr_mix`.
    pub nsdr: f64,
    /// Mixtures scored.
    pub evaluated: usize,
    /// Mixtures skipped as silent.
    pub skipped: usize,
    /// Training steps and seconds (0 when not trained).
    pub train_steps: usize,
    /// Training seconds (summed over resumed processes).
    pub train_seconds: f64,
    /// Mean training loss of the last epoch.
    pub final_loss: Option<f32>,
}

impl Table3Row {
    fn from_report(
        r: &SeparationReport,
        kind: Option<GuidanceKind>,
        training: Option<TrainingSet>,
        state: Option<&RunState>,
    ) -> Self {
        Self {
            method: r.method.clone(),
            kind,
            training,
            sdr: r.sdr,
            sir: r.sir,
            sar: r.sar,
            sdr_mix: r.sdr_mix,
            nsdr: r.nsdr,
            evaluated: r.evaluated,
            skipped: r.skipped.len(),
            train_steps: state.map_or(0, |s| s.step),
            train_seconds: state.map_or(0.0, |s| s.seconds),
            final_loss: state.and_then(|s| s.epoch_losses.last().copied()),
        }
    }
}

/// The measured Table 3 and where the run wrote its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeparationOutcome {
    /// Every row (mixture, ideal masks, and each variant x training set).
    pub rows: Vec<Table3Row>,
    /// The table as Markdown, ours beside the paper's.
    pub markdown: String,
    /// Wall time of this process (s).
    pub seconds: f64,
    /// Files written (WAVs and pictures).
    pub files: Vec<PathBuf>,
}

fn cell(v: f64) -> String {
    if v.is_finite() { format!("{v:.2}") } else { "n/a".into() }
}

/// Table 3: our SDR / SIR / SAR beside the paper's for each of its rows, every cell as text
/// (`sdr / sir / sar` with 2 decimals, `n/a` when not finite, `–` when missing; how many
/// mixtures were scored when some were skipped as silent).
pub fn table3(rows: &[Table3Row]) -> ResultsTable {
    let find = |kind: Option<GuidanceKind>, training: Option<TrainingSet>, method: Option<&str>| {
        rows.iter().find(|r| {
            r.kind == kind
                && (r.training == training || r.training.is_none())
                && method.is_none_or(|m| r.method == m)
        })
    };
    let ours = |r: Option<&Table3Row>| {
        Cell::Text(match r {
            Some(r) if r.skipped > 0 => format!(
                "{} / {} / {} ({} of {} scored)",
                cell(r.sdr),
                cell(r.sir),
                cell(r.sar),
                r.evaluated,
                r.evaluated + r.skipped
            ),
            Some(r) => format!("{} / {} / {}", cell(r.sdr), cell(r.sir), cell(r.sar)),
            None => "–".into(),
        })
    };
    let paper = |name: &str, set: TrainingSet| {
        Cell::Text(PAPER_TABLE3.iter().find(|(n, _, _)| *n == name).map_or("–".into(), |(_, s, m)| {
            let v = if set == TrainingSet::SingleSource { s } else { m };
            format!("{:.2} / {:.2} / {:.2}", v[0], v[1], v[2])
        }))
    };
    let none = || Cell::Text("–".into());
    let columns =
        ["single-source: ours SDR / SIR / SAR", "paper", "multi-source: ours SDR / SIR / SAR", "paper"];
    let mut table = ResultsTable::new("method", columns.map(String::from).to_vec());
    // Every row below has one cell per column by construction.
    let mut push =
        |label: String, cells: [Cell; 4]| table.rows.push(TableRow { label, cells: cells.to_vec() });
    for (name, _, _) in PAPER_TABLE3.iter().take(5).filter(|(n, _, _)| *n != "Sound-of-Pixels") {
        push(
            format!("{name} (paper only)"),
            [none(), paper(name, TrainingSet::SingleSource), none(), paper(name, TrainingSet::MultiSource)],
        );
    }
    for kind in GuidanceKind::ALL {
        let s = find(Some(kind), Some(TrainingSet::SingleSource), None);
        let m = find(Some(kind), Some(TrainingSet::MultiSource), None);
        push(
            kind.name().to_string(),
            [
                ours(s),
                paper(kind.paper_row(), TrainingSet::SingleSource),
                ours(m),
                paper(kind.paper_row(), TrainingSet::MultiSource),
            ],
        );
    }
    for name in ["Mixture (no separation)", "Ideal binary masks (upper bound)"] {
        let r = find(None, None, Some(name));
        push(name.to_string(), [ours(r), none(), ours(r), none()]);
    }
    table
}

/// [`table3`] as Markdown (no column alignment markers).
pub fn markdown_table3(rows: &[Table3Row]) -> String {
    table3(rows).to_markdown_aligned(2, Align::Unspecified)
}

/// Runs the whole experiment in `out`: data, the guide's features, training of every vector
/// variant on both training sets (checkpoints with resume under `out/train/`), evaluation,
/// `config.json`, `manifest.json`, `metrics.json`, `table.md` ([`table3`], also as `table.csv`),
/// WAVs and pictures of the first `plan.examples` test mixtures under `out/examples/`.
///
/// # Errors
/// [`Error::Checkpoint`] when `out` holds a run of another plan or guide; data, training and
/// evaluation errors.
pub fn run_separation(
    plan: &SeparationPlan,
    guide: &Guide,
    out: &Path,
    device: &Device,
    progress: bool,
) -> Result<SeparationOutcome> {
    let started = Instant::now();
    plan.validate()?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let config =
        serde_json::json!({ "plan": plan, "guide": guide.origin, "guide_image_size": guide.image_size });
    let config_path = out.join("config.json");
    if config_path.is_file() {
        let existing: serde_json::Value = read_json(&config_path)?;
        if existing != config {
            return Err(Error::Checkpoint {
                path: out.to_path_buf(),
                detail: "holds a run of another plan or guide; choose another --out folder".into(),
            });
        }
    } else {
        write_json(&config_path, &config)?;
    }
    let data = prepare_data(plan, guide, device, progress)?;
    write_json(&out.join("manifest.json"), &data.manifest)?;
    let mixer = Mixer::sound_of_pixels()?;
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    let mut outputs: HashMap<(GuidanceKind, TrainingSet), VariantOutput> = HashMap::new();

    let mix_estimates: Vec<Vec<Vec<f32>>> = data
        .test
        .iter()
        .map(|t| {
            let m = mixer.reconstruct_mixture(&t.example.input.spectra)?;
            Ok(vec![m; t.example.num_sources()])
        })
        .collect::<Result<_>>()?;
    let r = score(&mixer, "Mixture (no separation)", &data.test, &mix_estimates)?;
    rows.push(Table3Row::from_report(&r, None, None, None));
    reports.push(r);
    let oracle: Vec<Vec<Vec<f32>>> = data
        .test
        .iter()
        .map(|t| oracle_estimates(&mixer, &t.example))
        .collect::<std::result::Result<_, _>>()?;
    let r = score(&mixer, "Ideal binary masks (upper bound)", &data.test, &oracle)?;
    rows.push(Table3Row::from_report(&r, None, None, None));
    reports.push(r);

    let cam = separate_test(GuidanceKind::GradCam, None, &data.test, &mixer, device)?;
    let r = score(&mixer, GuidanceKind::GradCam.name(), &data.test, &cam.estimates)?;
    for set in TrainingSet::ALL {
        rows.push(Table3Row::from_report(&r, Some(GuidanceKind::GradCam), Some(set), None));
    }
    reports.push(r);
    outputs.insert((GuidanceKind::GradCam, TrainingSet::MultiSource), cam);

    for set in plan.training_sets.iter().copied() {
        let items: Vec<&TrainItem> =
            data.train.iter().filter(|t| set == TrainingSet::MultiSource || !t.duet).collect();
        for kind in GuidanceKind::ALL.into_iter().filter(|k| k.is_trained() && plan.variants.contains(k)) {
            let label = format!("{} / {}", kind.slug(), set.slug());
            if progress {
                eprintln!("training {label} on {} mixtures", items.len());
            }
            let dir = out.join("train").join(format!("{}_{}", kind.slug(), set.slug()));
            let trained = train_variant(plan, kind, &items, &dir, device, progress, &label)?;
            let output = separate_test(kind, Some(&trained.model), &data.test, &mixer, device)?;
            let name = format!("{} ({})", kind.name(), set.slug());
            let r = score(&mixer, &name, &data.test, &output.estimates)?;
            if progress {
                eprintln!(
                    "  {name}: SDR {:.2} SIR {:.2} SAR {:.2} (mixture {:.2})",
                    r.sdr, r.sir, r.sar, r.sdr_mix
                );
            }
            rows.push(Table3Row::from_report(&r, Some(kind), Some(set), Some(&trained.state)));
            reports.push(r);
            outputs.insert((kind, set), output);
        }
    }

    let table = table3(&rows);
    let markdown = table.to_markdown_aligned(2, Align::Unspecified);
    write_json(&out.join("metrics.json"), &serde_json::json!({ "rows": rows, "reports": reports }))?;
    let files = write_examples(plan, &data, &outputs, &mixer, &out.join("examples"))?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(out.join("table.md"), &markdown).map_err(|e| Error::io(out.join("table.md"), e))?;
    let csv = out.join("table.csv");
    std::fs::write(&csv, table.to_csv(2)).map_err(|e| Error::io(&csv, e))?;
    Ok(SeparationOutcome { rows, markdown, seconds, files })
}

/// A `(256, 256)` array (rows low to high) as a picture, low rows at the bottom.
fn array_picture(a: &Array2<f32>, lo: f32, hi: f32, colour: bool) -> RgbImage {
    let (rows, cols) = a.dim();
    let span = (hi - lo).max(1e-6);
    RgbImage::from_fn(cols as u32, rows as u32, |x, y| {
        let v = ((a[[rows - 1 - y as usize, x as usize]] - lo) / span).clamp(0.0, 1.0);
        if colour {
            Rgb(jet(v))
        } else {
            let g = (v * 255.0).round() as u8;
            Rgb([g, g, g])
        }
    })
}

fn labelled(mut img: RgbImage, text: &str) -> RgbImage {
    draw_text(&mut img, 3, 3, text, 1, [255, 255, 255], Some([0, 0, 0]));
    img
}

/// Writes, for the first `plan.examples` test mixtures: `mixture.wav`, `gt_<n>_<class>.wav` and
/// `<variant>_<n>_<class>.wav` (Ours Visual and the whole-frame baseline, multi-source), and one
/// picture per mixture: per source, the mixture's log-spectrogram, the ideal mask, the
/// predicted masks of Ours Visual, the whole-frame baseline and Grad-CAM, and the frame with the
/// localization map `K^c` (rows of the picture = sources).
fn write_examples(
    plan: &SeparationPlan,
    data: &SeparationData,
    outputs: &HashMap<(GuidanceKind, TrainingSet), VariantOutput>,
    mixer: &Mixer,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let names = Vocabulary::Music11.names();
    let rate = mixer.config().sample_rate;
    let shown = [
        (GuidanceKind::Visual, TrainingSet::MultiSource, "visual"),
        (GuidanceKind::WholeFrame, TrainingSet::MultiSource, "whole frame"),
        (GuidanceKind::GradCam, TrainingSet::MultiSource, "grad-cam"),
    ];
    for (i, item) in data.test.iter().enumerate().take(plan.examples) {
        let sub = dir.join(format!("{i:02}_{}", item.origin.id.replace('+', "_")));
        let mixture = mixer.reconstruct_mixture(&item.example.input.spectra)?;
        let mut stems: Vec<(String, Vec<f32>)> = vec![("mixture".into(), mixture)];
        for (n, &class) in item.origin.classes.iter().enumerate() {
            let cname = names.get(class).copied().unwrap_or("unknown");
            let len = mixer.config().output_len().min(item.example.sources[n].len());
            stems.push((format!("gt_{n}_{cname}"), item.example.sources[n][..len].to_vec()));
            for (kind, set, _) in &shown[..2] {
                if let Some(o) = outputs.get(&(*kind, *set)) {
                    stems.push((
                        format!("{}_{}_{n}_{cname}", kind.slug(), set.slug()),
                        o.estimates[i][n].clone(),
                    ));
                }
            }
        }
        let refs: Vec<(&str, &[f32])> = stems.iter().map(|(n, s)| (n.as_str(), s.as_slice())).collect();
        files.extend(av_separation::write_wavs(&sub, &refs, rate)?);

        let logmag = &item.example.input.log_magnitude;
        let (lo, hi) = logmag.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let lo = lo.max(hi - 12.0);
        let mut tiles = Vec::new();
        for (n, &class) in item.origin.classes.iter().enumerate() {
            let cname = names.get(class).copied().unwrap_or("?");
            tiles.push(labelled(array_picture(logmag, lo, hi, true), "mixture log|X|"));
            tiles.push(labelled(
                array_picture(&item.example.targets[n], 0.0, 1.0, false),
                &format!("ideal {cname}"),
            ));
            for (kind, set, label) in shown {
                let tile = match outputs.get(&(kind, set)) {
                    Some(o) => array_picture(&o.masks[i][n], 0.0, 1.0, false),
                    None => RgbImage::new(256, 256),
                };
                tiles.push(labelled(tile, label));
            }
            let g = &item.guidance[n];
            let frame = data
                .frames
                .get(&item.frame_ids[n])
                .map(|f| resize_bilinear(f, 256, 256))
                .unwrap_or_else(|| RgbImage::new(256, 256));
            let max = g.localization.iter().copied().fold(0.0f32, f32::max);
            let k: Vec<f32> = g.localization.iter().map(|v| if max > 0.0 { v / max } else { 0.0 }).collect();
            let pic = overlay(&frame, &k, g.loc_size[1], g.loc_size[0], 0.6)?;
            tiles.push(labelled(pic, &format!("K^c {cname}")));
        }
        let picture = grid(&tiles, 6, 4, [255, 255, 255]);
        let path = sub.join("masks.png");
        save_png(&path, &picture)?;
        files.push(path);
    }
    Ok(files)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn row(
        method: &str,
        kind: Option<GuidanceKind>,
        training: Option<TrainingSet>,
        v: [f64; 3],
        evaluated: usize,
        skipped: usize,
    ) -> Table3Row {
        Table3Row {
            method: method.into(),
            kind,
            training,
            sdr: v[0],
            sir: v[1],
            sar: v[2],
            sdr_mix: 0.0,
            nsdr: 0.0,
            evaluated,
            skipped,
            train_steps: 0,
            train_seconds: 0.0,
            final_loss: None,
        }
    }

    /// Pins the text of [`markdown_table3`] byte for byte.
    #[test]
    fn markdown_table3_text() {
        let (s, m) = (Some(TrainingSet::SingleSource), Some(TrainingSet::MultiSource));
        let rows = vec![
            row("Mixture (no separation)", None, None, [0.0, 0.0, f64::INFINITY], 10, 0),
            row("Ideal binary masks (upper bound)", None, None, [10.125, 20.005, -3.5], 8, 2),
            row("Grad-CAM", Some(GuidanceKind::GradCam), s, [-2.0, 0.004, 7.1], 10, 0),
            row("Grad-CAM", Some(GuidanceKind::GradCam), m, [-2.0, 0.004, 7.1], 10, 0),
            row("Audio (single)", Some(GuidanceKind::Audio), s, [f64::NAN, 1.0, 2.0], 9, 1),
        ];
        assert_eq!(
            markdown_table3(&rows),
            concat!(
                "| method | single-source: ours SDR / SIR / SAR | paper | multi-source: ours SDR / SIR / SAR | paper |\n",
                "|---|---|---|---|---|\n",
                "| NMF-MFCC (paper only) | – | 0.92 / 5.68 / 5.84 | – | 0.92 / 5.68 / 5.84 |\n",
                "| AV-Mix-Sep (paper only) | – | 3.16 / 6.74 / 8.89 | – | 3.23 / 7.01 / 9.14 |\n",
                "| Co-Separation (paper only) | – | 7.38 / 13.70 / 10.80 | – | 7.64 / 13.80 / 11.30 |\n",
                "| CAVL (paper only) | – | 6.59 / 10.10 / 12.56 | – | 6.78 / 10.62 / 12.19 |\n",
                "| Sound-of-Pixels (whole-frame vector) | – | 7.30 / 11.90 / 11.90 | – | 6.05 / 9.81 / 12.40 |\n",
                "| Ours Grad-CAM | -2.00 / 0.00 / 7.10 | -2.78 / -0.01 / 7.79 | -2.00 / 0.00 / 7.10 | -2.49 / 0.08 / 8.34 |\n",
                "| Ours Audio | n/a / 1.00 / 2.00 (9 of 10 scored) | -1.16 / 0.33 / 11.11 | – | -0.97 / 0.43 / 11.02 |\n",
                "| Ours Visual | – | 6.53 / 12.15 / 11.31 | – | 6.57 / 11.90 / 10.78 |\n",
                "| Mixture (no separation) | 0.00 / 0.00 / n/a | – | 0.00 / 0.00 / n/a | – |\n",
                "| Ideal binary masks (upper bound) | 10.12 / 20.00 / -3.50 (8 of 10 scored) | – | 10.12 / 20.00 / -3.50 (8 of 10 scored) | – |\n",
            )
        );
        let table = table3(&rows);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(
            table.to_csv(2).lines().nth(7),
            Some("Ours Audio,n/a / 1.00 / 2.00 (9 of 10 scored),-1.16 / 0.33 / 11.11,–,-0.97 / 0.43 / 11.02")
        );
        assert_eq!(
            markdown_table3(&[]),
            concat!(
                "| method | single-source: ours SDR / SIR / SAR | paper | multi-source: ours SDR / SIR / SAR | paper |\n",
                "|---|---|---|---|---|\n",
                "| NMF-MFCC (paper only) | – | 0.92 / 5.68 / 5.84 | – | 0.92 / 5.68 / 5.84 |\n",
                "| AV-Mix-Sep (paper only) | – | 3.16 / 6.74 / 8.89 | – | 3.23 / 7.01 / 9.14 |\n",
                "| Co-Separation (paper only) | – | 7.38 / 13.70 / 10.80 | – | 7.64 / 13.80 / 11.30 |\n",
                "| CAVL (paper only) | – | 6.59 / 10.10 / 12.56 | – | 6.78 / 10.62 / 12.19 |\n",
                "| Sound-of-Pixels (whole-frame vector) | – | 7.30 / 11.90 / 11.90 | – | 6.05 / 9.81 / 12.40 |\n",
                "| Ours Grad-CAM | – | -2.78 / -0.01 / 7.79 | – | -2.49 / 0.08 / 8.34 |\n",
                "| Ours Audio | – | -1.16 / 0.33 / 11.11 | – | -0.97 / 0.43 / 11.02 |\n",
                "| Ours Visual | – | 6.53 / 12.15 / 11.31 | – | 6.57 / 11.90 / 10.78 |\n",
                "| Mixture (no separation) | – | – | – | – |\n",
                "| Ideal binary masks (upper bound) | – | – | – | – |\n",
            )
        );
    }
}
