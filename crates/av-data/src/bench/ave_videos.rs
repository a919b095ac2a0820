//! The offline stand-in for AVE: 10-segment AVE-style videos (Tian et al., ECCV 2018; the
//! supplement's cross-modal localization, §2.2) assembled from the offline benchmark.
//!
//! The benchmark has single frames, not videos, so the videos are synthesized
//! deterministically from single-source benchmark scenes ([`SegmentPool`], [`build_pool`],
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
//! The real AVE media (1-fps frames and 1-s log-mels of a copy on disk) are loaded by
//! [`crate::layouts::ave::load_real_ave`].

use std::sync::Arc;

use av_audio::{LogMelConfig, LogMelExtractor};
use image::RgbImage;
use ndarray::Array2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bench::{AssetPack, BenchConfig, Generator};
use crate::error::{DataError, Result};
use crate::image_io::resize_bilinear;
use crate::rng::SplitMix64;
use crate::split::Split;

/// Stream tag of the video synthesis (independent of the generator's streams).
const TAG_VIDEO: u64 = 0xA7E_5E6;
/// Stream tag of the noise segments.
const TAG_NOISE: u64 = 0x0015E;
/// Seconds of a benchmark stem (5-s clips), i.e. 1-s pieces per scene.
pub const PIECES_PER_STEM: usize = 5;

/// How the AVE-style videos are synthesized from the offline benchmark (stored in a run's
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
    /// [`DataError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidConfig(m));
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
    /// 1-s log-mels `(51, 64)`: [`PIECES_PER_STEM`] (5) per scene in scene order, then the noise.
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

/// Generates the pool of [`AveSynthConfig`] (test split, in parallel). `on_scene` is called
/// once per generated pool scene (from the worker threads; for a progress count).
///
/// # Errors
/// [`DataError::InvalidConfig`] for an invalid configuration (or a clip that is not 5 s at the
/// log-mel's rate), and the errors of the asset pack, the generator and the log-mel
/// ([`DataError::Audio`]).
pub fn build_pool(config: &AveSynthConfig, on_scene: &(dyn Fn() + Sync)) -> Result<SegmentPool> {
    config.validate()?;
    let mut bench = config.bench.clone();
    bench.levels = vec![1];
    let assets = Arc::new(AssetPack::load_default()?);
    let generator = Generator::new(assets, bench.clone())?;
    let extractor = LogMelExtractor::new(LogMelConfig::paper())?;
    let rate = bench.clip.sample_rate as usize;
    if rate != extractor.sample_rate() as usize || bench.clip.len < PIECES_PER_STEM * rate {
        return Err(DataError::InvalidConfig(format!(
            "the pool needs {PIECES_PER_STEM}-s clips at {} Hz, got {:?}",
            extractor.sample_rate(),
            bench.clip
        )));
    }
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
            let sounding = *classes.first().ok_or_else(|| {
                DataError::InvalidConfig(format!("scene {} has no sounding object", scene.id))
            })?;
            classes.extend(scene.objects.iter().filter(|o| !o.sounding).map(|o| o.class));
            let stem = scene
                .audio
                .stems
                .first()
                .ok_or_else(|| DataError::InvalidConfig(format!("scene {} has no stem", scene.id)))?;
            let pieces = (0..PIECES_PER_STEM)
                .map(|k| extractor.compute(&stem.waveform[k * rate..(k + 1) * rate]))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            on_scene();
            Ok((frame, scene.id.clone(), classes, pieces, sounding))
        })
        .collect::<Result<Vec<_>>>()?;
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
/// [`DataError::InvalidConfig`] for an invalid configuration, when the pool has no scene
/// without the event's instrument, or no off-screen instrument and no noise to fill the
/// background with.
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
                return Err(DataError::InvalidConfig(format!(
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
                        return Err(DataError::InvalidConfig(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn small(videos: usize) -> AveSynthConfig {
        let mut cfg = AveSynthConfig::new(2020, 64, videos);
        cfg.pool_scenes = 6;
        cfg.noise_segments = 2;
        cfg
    }

    #[test]
    fn pool_and_videos_are_deterministic_and_consistent() {
        let cfg = small(12);
        let count = std::sync::atomic::AtomicUsize::new(0);
        let tick = || {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let pool = build_pool(&cfg, &tick).expect("pool");
        assert_eq!(count.into_inner(), 6, "one callback per pool scene");
        assert_eq!(pool.frames.len(), 6);
        assert_eq!(pool.frames[0].dimensions(), (64, 64));
        assert_eq!(pool.logmels.len(), 6 * PIECES_PER_STEM + 2);
        assert_eq!(pool.logmels[0].dim(), (51, 64));
        assert_eq!(pool.audio_ids[pool.piece(1, 7)], format!("{}#2", pool.frame_ids[1]));
        assert_eq!(pool.audio_ids[pool.noise(1)], "noise#1");
        assert_eq!(pool.audio_class[pool.noise(0)], None);

        let again = build_pool(&cfg, &|| {}).expect("pool");
        assert_eq!(again.frame_ids, pool.frame_ids);
        assert_eq!(again.logmels, pool.logmels, "same streams, same log-mels");
        assert_eq!(again.frames, pool.frames);

        let videos = synthesize_videos(&cfg, &pool).expect("videos");
        assert_eq!(videos, synthesize_videos(&cfg, &again).expect("videos"));
        let oracle = oracle_score(&pool);
        for v in &videos {
            assert_eq!(v.event.len(), 10);
            assert!(v.len >= 1 && v.len < 10 && v.start + v.len <= 10);
            for t in 0..10 {
                assert_eq!(oracle(v.frames[t], v.audio[t]) == 1.0, v.event[t], "{} segment {t}", v.id);
            }
        }
        assert_eq!(oracle(usize::MAX, 0), 0.0, "out of range is not corresponding");
    }

    #[test]
    fn invalid_configurations_are_rejected_with_a_message() {
        let mut cfg = small(4);
        cfg.segments = 1;
        let err = build_pool(&cfg, &|| {}).expect_err("1 segment");
        assert!(matches!(&err, DataError::InvalidConfig(m) if m.contains("at least 2 segments")), "{err}");
        let mut cfg = small(4);
        cfg.noise_prob = 1.5;
        assert!(matches!(cfg.validate(), Err(DataError::InvalidConfig(_))));
        let mut cfg = small(4);
        cfg.noise_segments = 0;
        assert!(cfg.validate().is_err(), "noise_prob > 0 needs noise segments");
        cfg.noise_prob = 0.0;
        assert!(cfg.validate().is_ok());
    }
}
