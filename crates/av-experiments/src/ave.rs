//! Cross-modal temporal localization in the AVE protocol (the supplement's §2.2 and Table 1):
//! given the event segments of one modality, find where the event sits in the other with the
//! sliding-window search of the supplement's Eq. 1, scored by strict accuracy
//! ([`av_metrics::ave`]). The example `ave_cross_modal` is a thin command line over these.
//!
//! # The offline stand-in for AVE
//! The offline benchmark has single frames, not videos, so 10-segment AVE-style videos are
//! synthesized deterministically from single-source benchmark scenes ([`SegmentPool`],
//! [`synthesize_videos`]):
//! * a pool of test-split scenes with one sounding instrument each (levels `[1]`; a silent
//!   distractor may be visible) gives frames and 1-s audio segments (each scene's 5-s stem cut
//!   into five 1-s pieces, log-mel 51 x 64 with the paper's front end), plus a few 1-s noise
//!   segments (white noise at a low level, "ambience");
//! * video `i` draws (from its own random stream) an event scene with instrument `X`, an event
//!   length `l` in `1..=T-1` and a start `s` in `0..=T-l`. Event segments play consecutive 1-s
//!   pieces of the event scene's stem (cycling after 5 s) and each shows a view of the event:
//!   the frame of a pool scene where `X` plays, drawn per segment;
//! * each background segment shows a scene in which `X` is not visible (drawn per segment) and
//!   plays noise (probability `noise_prob`) or a 1-s piece of an off-screen instrument: one that
//!   is neither `X` nor visible in any event frame or in the segment's own frame.
//!
//! Frames and sounds change from segment to segment, so a correspondence function without
//! audio-visual knowledge is right about as often as a random start.
//!
//! So, as in AVE, a segment is audio-visually corresponding only inside the event, and a perfect
//! correspondence function localizes every video exactly ([`oracle_score`]).
//!
//! # Correspondence functions `f(V_t, A_t)` (higher = more corresponding)
//! * [`ScoreKind::Avc`], "Ours": the AVC head's probability that the pooled audio and visual
//!   vectors correspond (softmax of its two logits, class 1) — stage 1's video-level
//!   correspondence.
//! * [`ScoreKind::Align`], "Ours w/ align": the class-aware alignment similarity
//!   `Σ_c σ(logit_a^c) σ(logit_v^c) ⟨g_a^c, g_v^c⟩` of the stage-2 embeddings (unit `g`, so each
//!   term is a cosine weighted by how sure both classifiers are that class `c` is present).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use av_alignment::class_aware_pool;
use av_audio::{LogMelConfig, LogMelExtractor};
use av_backbones::global_avg_pool;
use av_data::SkipPolicy;
use av_data::Split;
use av_data::bench::{AssetPack, BenchConfig, Generator};
use av_data::files::{AUDIO_EXTS, IMAGE_EXTS, list_dir, require_with_ext};
use av_data::image_io::{load_frame, resize_bilinear};
use av_data::layouts::ave::AveLayout;
use av_data::media::load_audio;
use av_data::rng::SplitMix64;
use av_metrics::{AveVideoScores, CrossModalSummary, ScoreOrder, evaluate_cross_modal};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use av_align::{Error, Result};
use crate::flickr::{FlickrPlan, load_run_model};
use av_align::model::AvModel;
use av_align::preprocess::frame_chw;
use av_align::train::load_model_for;

/// The supplement's Table 1 (AVE test set, strict accuracy in %): `(model, A2V, V2A)`.
pub const PAPER_TABLE: [(&str, f64, f64); 4] =
    [("DCCA", 34.8, 34.1), ("AVDLN", 44.8, 35.6), ("Ours", 41.5, 43.8), ("Ours w/ align", 43.8, 44.3)];

/// Stream tag of the video synthesis (independent of the generator's streams).
const TAG_VIDEO: u64 = 0xA7E_5E6;
/// Stream tag of the noise segments.
const TAG_NOISE: u64 = 0x0015E;
/// Seconds of a benchmark stem (5-s clips), i.e. 1-s pieces per scene.
const PIECES_PER_STEM: usize = 5;

/// Which correspondence function scores a (visual segment, audio segment) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// The AVC head's probability of correspondence (higher = corresponding).
    Avc,
    /// `Σ_c σ(logit_a^c) σ(logit_v^c) ⟨g_a^c, g_v^c⟩` (higher = corresponding).
    Align,
}

/// How the AVE-style videos are synthesized from the offline benchmark (stored in the run's
/// manifest). See the module documentation for the construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveSynthConfig {
    /// The benchmark generator (its `levels` are forced to `[1]`).
    pub bench: BenchConfig,
    /// Frames are resized to `image_size x image_size` (the model's input size).
    pub image_size: u32,
    /// Test-split scenes `0..pool_scenes` the videos are cut from.
    pub pool_scenes: u64,
    /// Number of videos.
    pub videos: usize,
    /// Segments per video (10 in AVE).
    pub segments: usize,
    /// Probability that a background segment plays noise instead of an off-screen instrument.
    pub noise_prob: f64,
    /// Noise segments in the pool.
    pub noise_segments: usize,
    /// RMS of the noise segments (stems have 0.056-0.08).
    pub noise_rms: f32,
    /// Seed of the video synthesis.
    pub seed: u64,
}

impl AveSynthConfig {
    /// The default construction: 10 segments, a pool of 96 scenes, background audio noise with
    /// probability 0.5 (8 noise segments at RMS 0.02), on the localization benchmark with
    /// `bench_seed` and frames of `image_size`.
    pub fn new(bench_seed: u64, image_size: u32, videos: usize) -> Self {
        let mut bench = BenchConfig::localization(bench_seed);
        bench.levels = vec![1];
        Self {
            bench,
            image_size,
            pool_scenes: 96,
            videos,
            segments: 10,
            noise_prob: 0.5,
            noise_segments: 8,
            noise_rms: 0.02,
            seed: 2018,
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        if self.segments < 2 {
            return bad(format!("a video needs at least 2 segments, got {}", self.segments));
        }
        if self.videos == 0 {
            return bad("no videos requested".into());
        }
        if self.pool_scenes < 3 {
            return bad(format!("the pool needs at least 3 scenes, got {}", self.pool_scenes));
        }
        if !(0.0..=1.0).contains(&self.noise_prob) {
            return bad(format!("noise_prob {} outside [0, 1]", self.noise_prob));
        }
        if self.noise_prob > 0.0 && self.noise_segments == 0 {
            return bad("noise_prob > 0 needs noise segments".into());
        }
        if !(self.noise_rms.is_finite() && self.noise_rms > 0.0 && self.noise_rms < 0.5) {
            return bad(format!("noise_rms {} outside (0, 0.5)", self.noise_rms));
        }
        if self.image_size < 32 {
            return bad(format!("image_size {} < 32", self.image_size));
        }
        Ok(())
    }
}

/// The frames and 1-s audio segments videos are assembled from.
#[derive(Debug, Clone)]
pub struct SegmentPool {
    /// Frames, `image_size x image_size`, one per pool scene.
    pub frames: Vec<RgbImage>,
    /// Scene id of each frame.
    pub frame_ids: Vec<String>,
    /// Classes visible in each frame (the sounding one first).
    pub frame_classes: Vec<Vec<usize>>,
    /// 1-s log-mels `(51, 64)`: `PIECES_PER_STEM` (5) per scene in scene order, then the noise.
    pub logmels: Vec<Array2<f32>>,
    /// Instrument class of each audio segment (`None` for noise).
    pub audio_class: Vec<Option<usize>>,
    /// `"<scene id>#<second>"` or `"noise#<k>"`.
    pub audio_ids: Vec<String>,
    /// Class names.
    pub class_names: Vec<String>,
}

impl SegmentPool {
    /// Index of the `piece`-th 1-s segment of scene `scene`'s stem.
    pub fn piece(&self, scene: usize, piece: usize) -> usize {
        scene * PIECES_PER_STEM + piece % PIECES_PER_STEM
    }

    /// Index of noise segment `k`.
    pub fn noise(&self, k: usize) -> usize {
        self.frames.len() * PIECES_PER_STEM + k
    }
}

/// Generates the pool of [`AveSynthConfig`] (test split, in parallel).
///
/// # Errors
/// [`Error::Config`] for an invalid configuration, [`Error::Data`] / [`Error::Audio`] from the
/// generator and the log-mel.
pub fn build_pool(config: &AveSynthConfig, progress: bool) -> Result<SegmentPool> {
    config.validate()?;
    let mut bench = config.bench.clone();
    bench.levels = vec![1];
    let assets = Arc::new(AssetPack::load_default()?);
    let generator = Generator::new(assets, bench.clone())?;
    let extractor = LogMelExtractor::new(LogMelConfig::paper())?;
    let rate = bench.clip.sample_rate as usize;
    if rate != extractor.sample_rate() as usize || bench.clip.len < PIECES_PER_STEM * rate {
        return Err(Error::Config(format!(
            "the pool needs {PIECES_PER_STEM}-s clips at {} Hz, got {:?}",
            extractor.sample_rate(),
            bench.clip
        )));
    }
    let bar = crate::run::bar(config.pool_scenes, "pool scenes", progress);
    let size = config.image_size;
    type Item = (RgbImage, String, Vec<usize>, Vec<Array2<f32>>, usize);
    let items = (0..config.pool_scenes)
        .into_par_iter()
        .map(|i| -> Result<Item> {
            let scene = generator.scene(Split::Test, i)?;
            let frame = if scene.image.dimensions() == (size, size) {
                scene.image.clone()
            } else {
                resize_bilinear(&scene.image, size, size)
            };
            let mut classes: Vec<usize> =
                scene.objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
            let sounding = *classes
                .first()
                .ok_or_else(|| Error::Config(format!("scene {} has no sounding object", scene.id)))?;
            classes.extend(scene.objects.iter().filter(|o| !o.sounding).map(|o| o.class));
            let stem = scene
                .audio
                .stems
                .first()
                .ok_or_else(|| Error::Config(format!("scene {} has no stem", scene.id)))?;
            let pieces = (0..PIECES_PER_STEM)
                .map(|k| extractor.compute(&stem.waveform[k * rate..(k + 1) * rate]))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            Ok((frame, scene.id.clone(), classes, pieces, sounding))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut pool = SegmentPool {
        frames: Vec::new(),
        frame_ids: Vec::new(),
        frame_classes: Vec::new(),
        logmels: Vec::new(),
        audio_class: Vec::new(),
        audio_ids: Vec::new(),
        class_names: bench.vocabulary.names().into_iter().map(String::from).collect(),
    };
    for (frame, id, classes, pieces, sounding) in items {
        for (k, p) in pieces.into_iter().enumerate() {
            pool.logmels.push(p);
            pool.audio_class.push(Some(sounding));
            pool.audio_ids.push(format!("{id}#{k}"));
        }
        pool.frames.push(frame);
        pool.frame_ids.push(id);
        pool.frame_classes.push(classes);
    }
    for k in 0..config.noise_segments {
        let mut rng = SplitMix64::from_words(&[config.seed, k as u64, TAG_NOISE]);
        let noise: Vec<f32> =
            (0..rate).map(|_| rng.range_f32(-1.0, 1.0) * config.noise_rms * 3f32.sqrt()).collect();
        pool.logmels.push(extractor.compute(&noise)?);
        pool.audio_class.push(None);
        pool.audio_ids.push(format!("noise#{k}"));
    }
    Ok(pool)
}

/// One synthesized AVE-style video: which pool frame and pool audio segment each segment uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthVideo {
    /// `"ave_<index:04>"`.
    pub id: String,
    /// The event's instrument class.
    pub class: usize,
    /// First event segment.
    pub start: usize,
    /// Event length in segments.
    pub len: usize,
    /// Event flag per segment.
    pub event: Vec<bool>,
    /// Pool frame index per segment.
    pub frames: Vec<usize>,
    /// Pool audio-segment index per segment.
    pub audio: Vec<usize>,
}

/// Assembles `config.videos` videos from `pool` (deterministic in `config.seed`).
///
/// # Errors
/// [`Error::Config`] when the pool has no scene without the event's instrument, or no
/// off-screen instrument and no noise to fill the background with.
pub fn synthesize_videos(config: &AveSynthConfig, pool: &SegmentPool) -> Result<Vec<SynthVideo>> {
    config.validate()?;
    let t = config.segments;
    let n_scenes = pool.frames.len();
    let sounding = |s: usize| pool.frame_classes[s][0];
    (0..config.videos)
        .map(|i| {
            let mut rng = SplitMix64::from_words(&[config.seed, i as u64, TAG_VIDEO]);
            let e = rng.below(n_scenes);
            let x = sounding(e);
            let len = 1 + rng.below(t - 1);
            let start = rng.below(t - len + 1);
            // Views of the event: scenes where X plays (e among them), one per event segment.
            let views: Vec<usize> = (0..n_scenes).filter(|&s| sounding(s) == x).collect();
            let backgrounds: Vec<usize> =
                (0..n_scenes).filter(|&s| !pool.frame_classes[s].contains(&x)).collect();
            if backgrounds.is_empty() {
                return Err(Error::Config(format!(
                    "video {i}: no pool scene without class {x}; enlarge the pool"
                )));
            }
            let event_frames: Vec<usize> =
                (0..len).map(|_| rng.choose(&views).copied().unwrap_or(e)).collect();
            let on_screen: Vec<usize> =
                event_frames.iter().flat_map(|&f| pool.frame_classes[f].iter().copied()).collect();
            let mut frames = Vec::with_capacity(t);
            let mut audio = Vec::with_capacity(t);
            let mut event = Vec::with_capacity(t);
            for seg in 0..t {
                let inside = (start..start + len).contains(&seg);
                event.push(inside);
                if inside {
                    frames.push(event_frames[seg - start]);
                    audio.push(pool.piece(e, seg - start));
                    continue;
                }
                let b = backgrounds[rng.below(backgrounds.len())];
                frames.push(b);
                let noise = rng.chance(config.noise_prob);
                let offscreen: Vec<usize> = (0..n_scenes)
                    .filter(|&s| {
                        let c = sounding(s);
                        !on_screen.contains(&c) && !pool.frame_classes[b].contains(&c)
                    })
                    .collect();
                let piece = if noise { None } else { rng.choose(&offscreen).copied() };
                audio.push(match piece {
                    Some(y) => pool.piece(y, rng.below(PIECES_PER_STEM)),
                    None if config.noise_segments > 0 => pool.noise(rng.below(config.noise_segments)),
                    None => {
                        return Err(Error::Config(format!(
                            "video {i}: no off-screen instrument in the pool and no noise; enlarge the pool"
                        )));
                    }
                });
            }
            Ok(SynthVideo { id: format!("ave_{i:04}"), class: x, start, len, event, frames, audio })
        })
        .collect()
}

/// The perfect correspondence function of a pool: 1 when the audio segment's instrument is
/// visible in the frame, 0 otherwise (noise corresponds to nothing). Arguments are pool frame
/// and audio-segment indices.
pub fn oracle_score(pool: &SegmentPool) -> impl Fn(usize, usize) -> f64 + '_ {
    move |frame, audio| match pool.audio_class.get(audio).copied().flatten() {
        Some(c) if pool.frame_classes.get(frame).is_some_and(|v| v.contains(&c)) => 1.0,
        _ => 0.0,
    }
}

/// A2V / V2A strict accuracy of synthesized videos under a correspondence function
/// `score(pool frame, pool audio segment)` (via [`av_metrics::evaluate_cross_modal`]).
///
/// # Errors
/// [`Error::Metrics`] (no event, NaN score, no video with a short event).
pub fn evaluate_videos(
    videos: &[SynthVideo],
    score: impl Fn(usize, usize) -> f64,
    order: ScoreOrder,
) -> Result<CrossModalSummary> {
    let matrices: Vec<Vec<f64>> = videos
        .iter()
        .map(|v| {
            let t = v.event.len();
            (0..t * t).map(|k| score(v.frames[k / t], v.audio[k % t])).collect()
        })
        .collect();
    let views: Vec<AveVideoScores<'_>> =
        videos.iter().zip(&matrices).map(|(v, m)| AveVideoScores { event: &v.event, scores: m }).collect();
    Ok(evaluate_cross_modal(&views, order)?)
}

/// Expected strict accuracy of a uniformly random start over the videos with a short event:
/// the mean of `1 / (T - l + 1)` (the same for A2V and V2A).
///
/// # Errors
/// [`Error::Config`] when no video has a short event.
pub fn chance_accuracy<'a>(events: impl IntoIterator<Item = &'a [bool]>) -> Result<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for e in events {
        let l = e.iter().filter(|&&x| x).count();
        if l == 0 || l == e.len() {
            continue;
        }
        sum += 1.0 / (e.len() - l + 1) as f64;
        n += 1;
    }
    if n == 0 {
        return Err(Error::Config("no video with an event shorter than the video".into()));
    }
    Ok(sum / n as f64)
}

/// Outputs of one modality's trunk and heads for a list of inputs.
#[derive(Debug, Clone)]
pub struct ModalityOutputs {
    /// Global-average-pooled `layer4` vectors, `[N, K]`.
    pub pooled: Tensor<2>,
    /// Class logits, `[N, C]`.
    pub logits: Tensor<2>,
    /// Per-class unit embeddings (Eq. 5 pooling, projection), `[N, C, D]`.
    pub class_embeddings: Tensor<3>,
}

fn run_modality(model: &AvModel, x: Tensor<4>, visual: bool) -> Result<ModalityOutputs> {
    let dims = x.dims();
    if dims[2] < 16 || dims[3] < 16 {
        return Err(Error::Shape {
            what: if visual { "frames" } else { "log-mels" },
            expected: "spatial size >= 16".into(),
            found: dims.to_vec(),
        });
    }
    let f = if visual { model.visual.forward(x).layer4 } else { model.audio.forward(x).layer4 };
    let pooled = global_avg_pool(f.clone());
    let logits =
        if visual { model.class_v.forward(pooled.clone()) } else { model.class_a.forward(pooled.clone()) };
    let w = model.class_maps(f.clone(), visual)?;
    let p = class_aware_pool(f, w, model.pooling)?;
    let class_embeddings = if visual { model.project_v.forward(p) } else { model.project_a.forward(p) };
    Ok(ModalityOutputs { pooled, logits, class_embeddings })
}

fn concat(parts: Vec<ModalityOutputs>) -> ModalityOutputs {
    let mut pooled = Vec::with_capacity(parts.len());
    let mut logits = Vec::with_capacity(parts.len());
    let mut class_embeddings = Vec::with_capacity(parts.len());
    for p in parts {
        pooled.push(p.pooled);
        logits.push(p.logits);
        class_embeddings.push(p.class_embeddings);
    }
    ModalityOutputs {
        pooled: Tensor::cat(pooled, 0),
        logits: Tensor::cat(logits, 0),
        class_embeddings: Tensor::cat(class_embeddings, 0),
    }
}

/// Runs the visual side of `model` on frames (all of the same size), `batch` at a time.
///
/// # Errors
/// [`Error::Config`] for no frames or mixed sizes, [`Error::Shape`], [`Error::Cam`],
/// [`Error::Align`].
pub fn visual_outputs(
    model: &AvModel,
    frames: &[RgbImage],
    batch: usize,
    device: &Device,
) -> Result<ModalityOutputs> {
    let first = frames.first().ok_or_else(|| Error::Config("no frames".into()))?;
    let (w, h) = first.dimensions();
    let mut parts = Vec::new();
    for chunk in frames.chunks(batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * 3 * (w * h) as usize);
        for f in chunk {
            if f.dimensions() != (w, h) {
                return Err(Error::Config(format!(
                    "frame of size {:?} among frames of {:?}",
                    f.dimensions(),
                    (w, h)
                )));
            }
            data.extend(frame_chw(f, false));
        }
        let x = Tensor::from_data(TensorData::new(data, [chunk.len(), 3, h as usize, w as usize]), device);
        parts.push(run_modality(model, x, true)?);
    }
    Ok(concat(parts))
}

/// Runs the audio side of `model` on log-mels (all of the same shape), `batch` at a time.
///
/// # Errors
/// [`Error::Config`] for no log-mels or mixed shapes, [`Error::NonFinite`], [`Error::Shape`],
/// [`Error::Cam`], [`Error::Align`].
pub fn audio_outputs(
    model: &AvModel,
    logmels: &[Array2<f32>],
    batch: usize,
    device: &Device,
) -> Result<ModalityOutputs> {
    let first = logmels.first().ok_or_else(|| Error::Config("no log-mels".into()))?;
    let (t, f) = first.dim();
    let mut parts = Vec::new();
    for chunk in logmels.chunks(batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * t * f);
        for m in chunk {
            if m.dim() != (t, f) {
                return Err(Error::Config(format!(
                    "log-mel of shape {:?} among log-mels of {:?}",
                    m.dim(),
                    (t, f)
                )));
            }
            if m.iter().any(|x| !x.is_finite()) {
                return Err(Error::NonFinite { what: "log-mel".into() });
            }
            data.extend(m.iter().copied());
        }
        let x = Tensor::from_data(TensorData::new(data, [chunk.len(), 1, t, f]), device);
        parts.push(run_modality(model, x, false)?);
    }
    Ok(concat(parts))
}

/// Correspondence of every audio segment with every frame, for both [`ScoreKind`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairScores {
    /// Number of audio segments (rows).
    pub n_audio: usize,
    /// Number of frames (columns).
    pub n_frames: usize,
    /// AVC probability of correspondence, `n_audio x n_frames` row-major.
    pub avc: Vec<f64>,
    /// Class-aware alignment similarity, `n_audio x n_frames` row-major.
    pub align: Vec<f64>,
}

impl PairScores {
    /// `f(frame, audio)` under `kind` (higher = more corresponding).
    pub fn get(&self, kind: ScoreKind, frame: usize, audio: usize) -> f64 {
        let m = match kind {
            ScoreKind::Avc => &self.avc,
            ScoreKind::Align => &self.align,
        };
        m.get(audio * self.n_frames + frame).copied().unwrap_or(f64::NAN)
    }
}

fn to_f64(t: Tensor<2>) -> Result<Vec<f64>> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| Error::Config(format!("tensor read-back: {e:?}")))?;
    Ok(v.into_iter().map(f64::from).collect())
}

/// Scores every (frame, audio segment) pair with `model` (see [`ScoreKind`]).
///
/// # Errors
/// As [`visual_outputs`] and [`audio_outputs`].
pub fn pair_scores(
    model: &AvModel,
    frames: &[RgbImage],
    logmels: &[Array2<f32>],
    batch: usize,
    device: &Device,
) -> Result<PairScores> {
    let v = visual_outputs(model, frames, batch, device)?;
    let a = audio_outputs(model, logmels, batch, device)?;
    let (na, nv) = (logmels.len(), frames.len());
    let p = softmax(model.avc.forward_all_pairs(a.pooled, v.pooled), 2)
        .slice([0..na, 0..nv, 1..2])
        .reshape([na, nv]);
    let [_, c, d] = a.class_embeddings.dims();
    let wa = (a.class_embeddings * sigmoid(a.logits).reshape([na, c, 1])).reshape([na, c * d]);
    let wv = (v.class_embeddings * sigmoid(v.logits).reshape([nv, c, 1])).reshape([nv, c * d]);
    let align = wa.matmul(wv.transpose());
    Ok(PairScores { n_audio: na, n_frames: nv, avc: to_f64(p)?, align: to_f64(align)? })
}

/// One row to evaluate: a model and its correspondence function.
#[derive(Debug, Clone, Copy)]
pub struct ScoredModel<'a> {
    /// Row label.
    pub name: &'a str,
    /// The model.
    pub model: &'a AvModel,
    /// How it scores a (frame, audio segment) pair.
    pub kind: ScoreKind,
}

/// Loads a checkpoint directory written by `train_plan` / `flickr_localize train` with its
/// `plan.json` (the frame size and data settings). The stage-1 model is taken from
/// `stage1` when given, else from a `model_stage1/` inside the checkpoint or beside it (a run's
/// `model/` and `model_stage1/` folders), when there is one.
///
/// # Errors
/// As [`load_run_model`] (which finds `plan.json` in the checkpoint or its parent) and
/// [`load_model_for`].
pub fn load_checkpoint_with_plan(
    checkpoint: &Path,
    stage1: Option<&Path>,
    device: &Device,
) -> Result<(FlickrPlan, AvModel, Option<AvModel>)> {
    let (plan, model) = load_run_model(checkpoint, device)?;
    let inside = checkpoint.join("model_stage1");
    let beside = checkpoint.parent().map(|p| p.join("model_stage1"));
    let sibling: Option<PathBuf> =
        [Some(inside), beside].into_iter().flatten().find(|p| p.join("model.json").is_file());
    let stage1 = match stage1.map(Path::to_path_buf).or(sibling) {
        Some(dir) => Some(load_model_for(&dir, &plan.model, device)?),
        None => None,
    };
    Ok((plan, model, stage1))
}

/// One row of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveRow {
    /// Method.
    pub method: String,
    /// A2V strict accuracy (fraction).
    pub a2v: f64,
    /// V2A strict accuracy (fraction).
    pub v2a: f64,
}

/// The Markdown table: chance, ours, and the paper's rows (accuracy in %).
pub fn markdown_table(chance: f64, ours: &[AveRow]) -> String {
    let mut s = String::from("| method | A2V (%) | V2A (%) | data |\n|---|---|---|---|\n");
    s.push_str(&format!(
        "| chance (uniformly random start) | {:.1} | {:.1} | expected value on these videos |\n",
        100.0 * chance,
        100.0 * chance
    ));
    for r in ours {
        s.push_str(&format!("| {} | {:.1} | {:.1} | this run |\n", r.method, 100.0 * r.a2v, 100.0 * r.v2a));
    }
    for (name, a2v, v2a) in PAPER_TABLE {
        s.push_str(&format!("| {name} (paper) | {a2v:.1} | {v2a:.1} | real AVE test set |\n"));
    }
    s
}

/// A real AVE video that could not be loaded: `(video id, reason)`.
pub type SkippedVideo = (String, String);

/// One video of a real AVE copy: 1-fps frames and 1-s log-mels.
#[derive(Debug, Clone)]
pub struct RealAveVideo {
    /// YouTube id.
    pub id: String,
    /// Event category.
    pub category: String,
    /// Event flag per second.
    pub event: Vec<bool>,
    /// The first `T` frames of `frames/<id>/` (sorted by name), resized.
    pub frames: Vec<RgbImage>,
    /// Log-mel of each second of `audio/<id>.*` (22 050 Hz, zero-padded to `T` s).
    pub logmels: Vec<Array2<f32>>,
}

/// Loads the test videos of an AVE copy in the layout of [`av_data::layouts::ave`]
/// (`Annotations.txt`, `testSet.txt`, `frames/<id>/*.jpg` at 1 fps, `audio/<id>.wav`).
/// Videos whose media are missing or unreadable are skipped and returned as `(id, reason)`.
///
/// # Errors
/// [`Error::Data`] for unreadable annotation files, [`Error::Config`] when the test split is
/// empty or no video could be loaded.
pub fn load_real_ave(
    root: &Path,
    max_videos: usize,
    segments: usize,
    image_size: u32,
    progress: bool,
) -> Result<(Vec<RealAveVideo>, Vec<SkippedVideo>)> {
    let (dataset, _) = AveLayout::new(root).load(SkipPolicy::Error)?;
    let events: Vec<_> = dataset.split(Split::Test).take(max_videos).cloned().collect();
    if events.is_empty() {
        return Err(Error::Config(format!("{}: the test split (testSet.txt) is empty", root.display())));
    }
    let extractor = LogMelExtractor::new(LogMelConfig::paper())?;
    let rate = extractor.sample_rate() as usize;
    let bar = crate::run::bar(events.len() as u64, "AVE test videos", progress);
    let loaded: Vec<std::result::Result<RealAveVideo, SkippedVideo>> = events
        .par_iter()
        .map(|e| {
            let fail = |m: String| (e.video_id.clone(), m);
            let dir = root.join("frames").join(&e.video_id);
            let files: Vec<PathBuf> = list_dir(&dir, "frame directory")
                .map_err(|err| fail(err.to_string()))?
                .into_iter()
                .filter(|p| {
                    p.extension()
                        .and_then(|x| x.to_str())
                        .is_some_and(|x| IMAGE_EXTS.contains(&x.to_ascii_lowercase().as_str()))
                })
                .take(segments)
                .collect();
            if files.len() < segments {
                return Err(fail(format!("{} frames in {}, need {segments}", files.len(), dir.display())));
            }
            let frames = files
                .iter()
                .map(|p| load_frame(p).map(|f| resize_bilinear(&f, image_size, image_size)))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| fail(err.to_string()))?;
            let audio_path = require_with_ext(&root.join("audio"), &e.video_id, &AUDIO_EXTS, "audio")
                .map_err(|err| fail(err.to_string()))?;
            let samples = load_audio(&audio_path, rate as u32, Some(segments * rate))
                .map_err(|err| fail(err.to_string()))?;
            let logmels = (0..segments)
                .map(|k| extractor.compute(&samples[k * rate..(k + 1) * rate]))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|err| fail(err.to_string()))?;
            let (s, t) = (e.start_s as usize, e.end_s as usize);
            if let Some(b) = &bar {
                b.inc(1);
            }
            Ok(RealAveVideo {
                id: e.video_id.clone(),
                category: e.category.clone(),
                event: (0..segments).map(|k| (s..t).contains(&k)).collect(),
                frames,
                logmels,
            })
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut videos = Vec::new();
    let mut skipped = Vec::new();
    for r in loaded {
        match r {
            Ok(v) => videos.push(v),
            Err(s) => skipped.push(s),
        }
    }
    if videos.is_empty() {
        return Err(Error::Config(format!(
            "no AVE test video could be loaded from {} ({} skipped; first: {:?})",
            root.display(),
            skipped.len(),
            skipped.first()
        )));
    }
    Ok((videos, skipped))
}

/// A2V / V2A strict accuracy of real AVE videos under `model` and `kind`.
///
/// # Errors
/// As [`pair_scores`] and [`av_metrics::evaluate_cross_modal`].
pub fn evaluate_real(
    model: &AvModel,
    videos: &[RealAveVideo],
    kinds: &[ScoreKind],
    device: &Device,
) -> Result<Vec<CrossModalSummary>> {
    let mut matrices: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(videos.len()); kinds.len()];
    for v in videos {
        let s = pair_scores(model, &v.frames, &v.logmels, v.frames.len(), device)?;
        let t = v.event.len();
        for (k, &kind) in kinds.iter().enumerate() {
            matrices[k].push((0..t * t).map(|i| s.get(kind, i / t, i % t)).collect());
        }
    }
    matrices
        .iter()
        .map(|ms| {
            let views: Vec<AveVideoScores<'_>> =
                videos.iter().zip(ms).map(|(v, m)| AveVideoScores { event: &v.event, scores: m }).collect();
            Ok(evaluate_cross_modal(&views, ScoreOrder::HigherIsBetter)?)
        })
        .collect()
}

/// What a run of the experiment measured (also written to `metrics.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveReport {
    /// What the videos are.
    pub data: String,
    /// Videos evaluated (event shorter than the video).
    pub evaluated_videos: usize,
    /// Expected strict accuracy of a random start.
    pub chance: f64,
    /// Our rows.
    pub rows: Vec<AveRow>,
    /// Per row, the predicted (A2V, V2A) start of each video (`None`: skipped).
    pub predictions: Vec<Vec<(Option<usize>, Option<usize>)>>,
    /// Wall time of the evaluation in seconds.
    pub seconds: f64,
}

impl AveReport {
    /// The Markdown table of [`markdown_table`].
    pub fn table(&self) -> String {
        markdown_table(self.chance, &self.rows)
    }
}

fn predictions(s: &CrossModalSummary) -> Vec<(Option<usize>, Option<usize>)> {
    s.a2v
        .iter()
        .zip(&s.v2a)
        .map(|(a, v)| (a.as_ref().map(|p| p.predicted_start), v.as_ref().map(|p| p.predicted_start)))
        .collect()
}

fn write_outputs(
    out: &Path,
    config: &serde_json::Value,
    manifest: &serde_json::Value,
    report: &AveReport,
    model_source: &str,
) -> Result<()> {
    use crate::flickr::write_json;
    write_json(&out.join("config.json"), config)?;
    write_json(&out.join("manifest.json"), manifest)?;
    let paper: Vec<serde_json::Value> = PAPER_TABLE
        .iter()
        .map(|(n, a, v)| serde_json::json!({"method": n, "a2v_percent": a, "v2a_percent": v}))
        .collect();
    write_json(
        &out.join("metrics.json"),
        &serde_json::json!({
            "protocol": "strict accuracy of the sliding-window start (supplement Eq. 1); higher score = corresponding",
            "report": report,
            "paper_table1": paper,
        }),
    )?;
    let md = format!(
        "# ave_cross_modal\n\n{} {}; model: {model_source}; {:.1} s.\n\n{}\n\
         Our rows are measured on {}; the paper's on the real AVE test set: compare orderings, not values.\n",
        report.evaluated_videos,
        report.data,
        report.seconds,
        report.table(),
        report.data
    );
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::io(&path, e))
}

/// The offline experiment end to end: builds the pool, synthesizes the videos, scores every
/// row, and writes `config.json` (`config` plus the synthesis settings), `manifest.json` (pool
/// scene ids, generator settings, asset fingerprint, every video), `metrics.json` and
/// `report.md` into `out`.
///
/// # Errors
/// [`Error::Config`] for no rows, and the errors of [`build_pool`], [`synthesize_videos`],
/// [`pair_scores`], [`evaluate_videos`]; [`Error::Io`] for the outputs.
#[allow(clippy::too_many_arguments)]
pub fn run_synthetic(
    rows: &[ScoredModel<'_>],
    synth: &AveSynthConfig,
    batch: usize,
    out: &Path,
    config: serde_json::Value,
    model_source: &str,
    device: &Device,
    progress: bool,
) -> Result<AveReport> {
    if rows.is_empty() {
        return Err(Error::Config("no model to evaluate".into()));
    }
    let started = std::time::Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let pool = build_pool(synth, progress)?;
    let videos = synthesize_videos(synth, &pool)?;
    let mut ours = Vec::with_capacity(rows.len());
    let mut preds = Vec::with_capacity(rows.len());
    // Rows sharing a model share its forward passes.
    let mut cache: Vec<(*const AvModel, PairScores)> = Vec::new();
    for r in rows {
        let key = r.model as *const AvModel;
        let idx = match cache.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                cache.push((key, pair_scores(r.model, &pool.frames, &pool.logmels, batch, device)?));
                cache.len() - 1
            }
        };
        let scores = &cache[idx].1;
        let s = evaluate_videos(&videos, |f, a| scores.get(r.kind, f, a), ScoreOrder::HigherIsBetter)?;
        ours.push(AveRow { method: r.name.to_string(), a2v: s.a2v_accuracy, v2a: s.v2a_accuracy });
        preds.push(predictions(&s));
    }
    let report = AveReport {
        data: "AVE-style videos synthesized from the offline benchmark".into(),
        evaluated_videos: videos.iter().filter(|v| v.len < v.event.len()).count(),
        chance: chance_accuracy(videos.iter().map(|v| v.event.as_slice()))?,
        rows: ours,
        predictions: preds,
        seconds: started.elapsed().as_secs_f64(),
    };
    let assets = AssetPack::load_default()?;
    let mut config = config;
    if let Some(map) = config.as_object_mut() {
        map.insert("synthesis".into(), serde_json::to_value(synth).unwrap_or_default());
        map.insert("batch".into(), batch.into());
    }
    let manifest = serde_json::json!({
        "kind": "synthesized AVE-style videos (see the ave_cross_modal --help)",
        "synthesis": synth,
        "asset_fingerprint": assets.fingerprint(),
        "pool_frames": pool.frame_ids,
        "pool_audio": pool.audio_ids,
        "videos": videos,
    });
    write_outputs(out, &config, &manifest, &report, model_source)?;
    Ok(report)
}

/// The experiment on a real AVE copy ([`load_real_ave`], at most `max_videos` test videos),
/// writing the same files as [`run_synthetic`].
///
/// # Errors
/// As [`load_real_ave`] and [`evaluate_real`]; [`Error::Io`] for the outputs.
#[allow(clippy::too_many_arguments)]
pub fn run_real(
    rows: &[ScoredModel<'_>],
    root: &Path,
    max_videos: usize,
    image_size: u32,
    out: &Path,
    config: serde_json::Value,
    model_source: &str,
    device: &Device,
    progress: bool,
) -> Result<AveReport> {
    if rows.is_empty() {
        return Err(Error::Config("no model to evaluate".into()));
    }
    let started = std::time::Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let (videos, skipped) = load_real_ave(root, max_videos, 10, image_size, progress)?;
    let mut ours = Vec::with_capacity(rows.len());
    let mut preds = Vec::with_capacity(rows.len());
    for r in rows {
        let s = evaluate_real(r.model, &videos, &[r.kind], device)?
            .pop()
            .ok_or_else(|| Error::Config("no evaluation result".into()))?;
        ours.push(AveRow { method: r.name.to_string(), a2v: s.a2v_accuracy, v2a: s.v2a_accuracy });
        preds.push(predictions(&s));
    }
    let report = AveReport {
        data: "real AVE test videos".into(),
        evaluated_videos: videos.iter().filter(|v| v.event.iter().any(|e| !e)).count(),
        chance: chance_accuracy(videos.iter().map(|v| v.event.as_slice()))?,
        rows: ours,
        predictions: preds,
        seconds: started.elapsed().as_secs_f64(),
    };
    let manifest = serde_json::json!({
        "kind": "real AVE test split",
        "root": root,
        "videos": videos.iter().map(|v| serde_json::json!({"id": v.id, "category": v.category, "event": v.event})).collect::<Vec<_>>(),
        "skipped": skipped,
    });
    write_outputs(out, &config, &manifest, &report, model_source)?;
    Ok(report)
}
