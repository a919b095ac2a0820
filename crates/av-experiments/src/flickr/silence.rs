//! "Silence is an answer": choosing, on validation clips, the confidence below which a model
//! folder reports that no sounding object was found, and measuring the rule on test clips.
//!
//! Clips that hold a known sound: the benchmark's scenes (their 5-s mixtures, 1-3 playing
//! instruments). Clips that do not: digital silence, noise far below the level gate (-70 dBFS),
//! and sounds that are no instrument: white noise, brown (integrated) noise and a 50 Hz hum with
//! harmonics, each at -40, -30, -20 and -12 dBFS. The validation split chooses the threshold;
//! the test split (other scenes, other noise seeds) measures it. The level gate
//! ([`SilenceRule::min_level_dbfs`], -60 dBFS) is fixed, not tuned.

use std::path::Path;
use std::sync::Arc;

use av_align::Localizer;
use av_align::inference::{InputSpec, SilenceRule};
use av_align::{Error, Result};
use av_data::Split;
use av_data::bench::{AssetPack, Generator};
use av_data::rng::SplitMix64;
use serde::Serialize;

use super::load_run_model;
use crate::run::RunContext;

/// The level of the non-instrument sounds, dBFS.
pub const NOISE_LEVELS_DBFS: [f32; 4] = [-40.0, -30.0, -20.0, -12.0];

/// How well a rule tells the clips apart on one split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceScores {
    /// Split of the scenes and noise seeds.
    pub split: String,
    /// Sounding scenes.
    pub sounding: usize,
    /// Fraction of sounding scenes judged sounding.
    pub sounding_kept: f64,
    /// Non-instrument sounds (noise, hum) at audible levels.
    pub noise: usize,
    /// Fraction of them judged "no sounding object".
    pub noise_rejected: f64,
    /// Silent and near-silent clips.
    pub silence: usize,
    /// Fraction of them judged "no sounding object".
    pub silence_rejected: f64,
    /// Confidences (highest audio class probability) of the sounding scenes: min, median, max.
    pub sounding_confidence: [f32; 3],
    /// The same for the noise.
    pub noise_confidence: [f32; 3],
}

/// The result of [`calibrate_silence`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceCalibration {
    /// The rule chosen on the validation split.
    pub rule: SilenceRule,
    /// Its scores on the validation clips it was chosen on.
    pub validation: SilenceScores,
    /// Its scores on the test clips.
    pub test: SilenceScores,
}

impl SilenceCalibration {
    /// A Markdown table of both splits.
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| split | sounding kept | noise rejected | silence rejected | confidence sounding (min / median / max) | confidence noise (min / median / max) |\n|---|---|---|---|---|---|\n",
        );
        for r in [&self.validation, &self.test] {
            s.push_str(&format!(
                "| {} | {:.3} ({}) | {:.3} ({}) | {:.3} ({}) | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} |\n",
                r.split,
                r.sounding_kept,
                r.sounding,
                r.noise_rejected,
                r.noise,
                r.silence_rejected,
                r.silence,
                r.sounding_confidence[0],
                r.sounding_confidence[1],
                r.sounding_confidence[2],
                r.noise_confidence[0],
                r.noise_confidence[1],
                r.noise_confidence[2],
            ));
        }
        s
    }
}

/// One clip: its samples at `rate` Hz, the image it is seen with, and whether it holds a known
/// sound (`Some(true)`), an audible non-instrument sound (`Some(false)`) or silence (`None`).
struct Clip {
    samples: Vec<f32>,
    image: usize,
    kind: Option<bool>,
}

/// Chooses the confidence threshold of the model folder `checkpoint` on `scenes` validation
/// scenes and as many non-instrument clips, and measures it on the test split. With `write`,
/// stores the rule in the folder's `inputs.json`. Writes `silence.json` into the run folder.
///
/// # Errors
/// [`Error::Config`] for no scenes; loading, data and model errors.
pub fn calibrate_silence(
    ctx: &RunContext,
    checkpoint: &Path,
    scenes: u64,
    write: bool,
) -> Result<SilenceCalibration> {
    if scenes == 0 {
        return Err(Error::Config("no scenes to calibrate on".into()));
    }
    let (plan, model) = load_run_model(checkpoint, &ctx.device)?;
    let localizer = Localizer::new(model, InputSpec::load(checkpoint)?, &ctx.device)?;
    let generator = Generator::new(Arc::new(AssetPack::load_default()?), plan.data.bench.clone())?;
    let level_gate = SilenceRule::default().min_level_dbfs;
    let measure = |split: Split| -> Result<Vec<(f32, f32, Option<bool>)>> {
        let (images, rate, clips) = clips(&generator, split, scenes)?;
        let bar = crate::run::bar(clips.len() as u64, &format!("{split:?} clips heard"), ctx.progress);
        let mut out = Vec::with_capacity(clips.len());
        for clip in &clips {
            let heard = localizer.localize(&images[clip.image], &clip.samples, rate)?.hearing;
            out.push((heard.confidence, heard.level_dbfs.unwrap_or(f32::NEG_INFINITY), clip.kind));
            if let Some(b) = &bar {
                b.inc(1);
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok(out)
    };
    let val = measure(Split::Val)?;
    let min_confidence = choose_threshold(&val, level_gate);
    let rule = SilenceRule { min_level_dbfs: level_gate, min_confidence };
    let test = measure(Split::Test)?;
    let calibration = SilenceCalibration {
        rule,
        validation: scores("validation", &val, &rule),
        test: scores("test", &test, &rule),
    };
    ctx.write_json("silence.json", &calibration)?;
    if write {
        let mut inputs = localizer.inputs().clone();
        inputs.silence = rule;
        inputs.save(checkpoint)?;
    }
    Ok(calibration)
}

/// The threshold on the confidence that maximises the balanced accuracy (mean of the fraction
/// of sounding clips kept and of other clips rejected) on `clips`, after the level gate; the
/// midpoint between the two confidences it separates.
fn choose_threshold(clips: &[(f32, f32, Option<bool>)], level_gate: f32) -> f32 {
    let mut candidates: Vec<f32> = clips.iter().map(|c| c.0).collect();
    candidates.push(0.0);
    candidates.push(1.0 + f32::EPSILON);
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let rule = |t: f32| SilenceRule { min_level_dbfs: level_gate, min_confidence: t };
    let balanced = |t: f32| {
        let s = scores("", clips, &rule(t));
        let negatives = (s.noise + s.silence).max(1) as f64;
        let rejected = s.noise_rejected * s.noise as f64 + s.silence_rejected * s.silence as f64;
        0.5 * (s.sounding_kept + rejected / negatives)
    };
    let mut best = (f64::NEG_INFINITY, 0usize);
    for (i, &t) in candidates.iter().enumerate() {
        let b = balanced(t);
        if b > best.0 {
            best = (b, i);
        }
    }
    let i = best.1;
    if i == 0 { candidates[0] } else { 0.5 * (candidates[i - 1] + candidates[i]) }
}

fn scores(split: &str, clips: &[(f32, f32, Option<bool>)], rule: &SilenceRule) -> SilenceScores {
    let judged = |c: &(f32, f32, Option<bool>)| rule.judge(c.0, Some(c.1)).sounding;
    let count = |kind: Option<bool>| clips.iter().filter(|c| c.2 == kind).count();
    let fraction = |kind: Option<bool>, sounding: bool| {
        let n = count(kind);
        if n == 0 {
            f64::NAN
        } else {
            clips.iter().filter(|c| c.2 == kind && judged(c) == sounding).count() as f64 / n as f64
        }
    };
    let spread = |kind: Option<bool>| {
        let mut v: Vec<f32> = clips.iter().filter(|c| c.2 == kind).map(|c| c.0).collect();
        v.sort_by(f32::total_cmp);
        match v.len() {
            0 => [f32::NAN; 3],
            n => [v[0], v[n / 2], v[n - 1]],
        }
    };
    SilenceScores {
        split: split.to_string(),
        sounding: count(Some(true)),
        sounding_kept: fraction(Some(true), true),
        noise: count(Some(false)),
        noise_rejected: fraction(Some(false), false),
        silence: count(None),
        silence_rejected: fraction(None, false),
        sounding_confidence: spread(Some(true)),
        noise_confidence: spread(Some(false)),
    }
}

/// The clips of one split: `scenes` benchmark scenes, and as many non-instrument clips (noise
/// and hum at the levels of [`NOISE_LEVELS_DBFS`], silence, quiet noise), each seen with one of
/// the scenes' images.
fn clips(generator: &Generator, split: Split, scenes: u64) -> Result<(Vec<image::RgbImage>, u32, Vec<Clip>)> {
    let mut images = Vec::new();
    let mut clips = Vec::new();
    let mut rate = 22_050;
    for i in 0..scenes {
        let scene = generator.scene(split, i)?;
        rate = scene.audio.sample_rate;
        clips.push(Clip { samples: scene.audio.mix.clone(), image: images.len(), kind: Some(true) });
        images.push(scene.image);
    }
    let len = 5 * rate as usize;
    let split_tag = match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    };
    for i in 0..scenes as usize {
        let mut rng = SplitMix64::from_words(&[0x0511_34ce, split_tag, i as u64]);
        let image = rng.below(images.len());
        let (samples, kind) = match i % 6 {
            0 => (vec![0.0; len], None),
            1 => (at_level(white(&mut rng, len), -70.0), None),
            2 => (at_level(white(&mut rng, len), level(&mut rng)), Some(false)),
            3 => (at_level(brown(&mut rng, len), level(&mut rng)), Some(false)),
            4 => (at_level(hum(rate, len), level(&mut rng)), Some(false)),
            _ => (at_level(white(&mut rng, len), level(&mut rng)), Some(false)),
        };
        clips.push(Clip { samples, image, kind });
    }
    Ok((images, rate, clips))
}

fn level(rng: &mut SplitMix64) -> f32 {
    NOISE_LEVELS_DBFS[rng.below(NOISE_LEVELS_DBFS.len())]
}

fn white(rng: &mut SplitMix64, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.range_f32(-1.0, 1.0)).collect()
}

/// Integrated (brown) noise with a leak, so it stays bounded.
fn brown(rng: &mut SplitMix64, len: usize) -> Vec<f32> {
    let mut y = 0.0f32;
    (0..len)
        .map(|_| {
            y = 0.995 * y + rng.range_f32(-1.0, 1.0);
            y
        })
        .collect()
}

/// Mains hum: 50 Hz and its first harmonics.
fn hum(rate: u32, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| {
            let t = n as f32 / rate as f32;
            (1..=4).map(|k| (2.0 * std::f32::consts::PI * 50.0 * k as f32 * t).sin() / k as f32).sum()
        })
        .collect()
}

/// `x` scaled to an RMS of `dbfs`.
fn at_level(mut x: Vec<f32>, dbfs: f32) -> Vec<f32> {
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
    if rms > 0.0 {
        let gain = 10f32.powf(dbfs / 20.0) / rms;
        x.iter_mut().for_each(|v| *v *= gain);
    }
    x
}
