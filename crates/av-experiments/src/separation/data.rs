//! The separation data: benchmark (or MUSIC-layout) clips, the mixtures of the protocol, and
//! the guide's output for every source, standardised with the training statistics.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use av_align::preprocess::{AudioPreprocess, AudioWindow, fit_frame, model_frame};
use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
use av_data::classes::Vocabulary;
use av_separation::{
    BenchClips, MixExample, MixOrigin, MixSpec, Mixer, SoloClip, SourceGuidance, pair_different_classes,
};
use burn::tensor::Device;
use image::RgbImage;

use crate::run::bar;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use av_align::{Error, Result};

use super::SeparationPlan;
use super::guide::{Guide, Query, guide_queries};

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

/// Generates the scenes of one split, keeps their frames (at `image_size`) and their clips
/// whose classes the guide knows.
pub(super) fn split_clips(
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
        let image = if (w, h) == (size, size) { image } else { fit_frame(&image, size) };
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
pub(super) fn music_clips(
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
        let Ok(frame) = av_data::image_io::load_rgb(v.frame_path((v.n_frames / 2).max(1))) else {
            continue;
        };
        let id = v.key();
        frames.insert(id.clone(), model_frame(&frame, size));
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
pub(super) fn pairs(solos: &[SoloClip], count: usize, seed: u64) -> Result<Vec<(MixSpec, Vec<String>)>> {
    let classes: Vec<usize> = solos.iter().map(|s| s.class).collect();
    Ok(pair_different_classes(&classes, count, seed)?
        .into_iter()
        .map(|(i, j)| (MixSpec::pair(&solos[i], &solos[j]), vec![solos[i].id.clone(), solos[j].id.clone()]))
        .collect())
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
    let guide_audio = AudioPreprocess::new(AudioWindow::WholeClip)?;
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

    // Mix, and the guide's log-mel of each whole mixture (resampled to its rate).
    let mix_all = |specs: &[(MixSpec, Vec<String>)]| -> Result<Vec<(MixExample, Array2<f32>)>> {
        use rayon::prelude::*;
        specs
            .par_iter()
            .map(|(spec, _)| {
                let ex = mixer.mix(&spec.sources, rate)?;
                let logmel = guide_audio.logmel(&ex.input.mixture, rate)?;
                Ok((ex, logmel))
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
