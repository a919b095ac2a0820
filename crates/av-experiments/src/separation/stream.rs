//! Streamed mix-and-separate training (issue 23, item 1): every step mixes fresh pairs of solo
//! clips drawn from a large pool of the broad benchmark (several SoundFonts, audio augmentation),
//! so a run of thousands of steps never repeats a mixture; checkpoints are atomic and a run
//! resumes exactly; the validation NSDR is logged during training; the final model is scored on
//! the in-family test split and on an unseen-timbre split (a SoundFont never used in training).
//!
//! The guidance of this trainer is the **oracle class** (a one-hot vector of the source's class
//! over the synthesizer's K channels): the control run that tells "the U-Net cannot learn at this
//! budget" apart from "the guide is poor". Guided variants use the same data and scoring.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use av_backbones::checkpoint::{load_checkpoint_weights, save_checkpoint};
use av_data::Split;
use av_data::bench::{AssetPack, AssetSelection, Augment, BenchConfig, Generator};
use av_data::rng::SplitMix64;
use av_separation::{
    BenchClips, Guidance, GuidanceKind, GuidanceProjectionConfig, GuidedSeparatorConfig, MaskKind, MixConfig,
    MixExample, MixSpec, Mixer, SeparationBatch, SeparationNet, SeparationNetConfig, SoloClip, forward_loss,
    score_mixture, separate_inputs,
};
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use av_align::train::{latest_published, publish_checkpoint};
use av_align::{Error, Result};

use crate::run::{RunContext, read_json, write_json};

use super::stream_guide::{
    BatchSources, Conditioner, GUIDE_STATS_FILE, GuideContext, StreamGuide, StreamNet, pair_ids, take_frames,
};
use super::train::optimizer_step;
use image::RgbImage;

/// Stream tag of the per-step pair draws.
const TAG_STEP_PAIRS: u64 = 0x5EA7_57E9;
/// One scored mixture: `(sdr, sir, sar, sdr_mix, silent)`.
pub type MixtureRow = (f64, f64, f64, f64, bool);

/// A silent estimate is scored as the mixture's SDR (and SIR, SAR) minus this many dB.
pub const SILENT_PENALTY_DB: f64 = 10.0;

/// Everything that defines a streamed run (stored as `plan.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamPlan {
    /// Seed of the separation benchmark.
    pub bench_seed: u64,
    /// Train-split scenes generated for the solo pool (about half are solos).
    pub train_scenes: u64,
    /// Validation / test scenes generated per evaluation split.
    pub eval_scenes: u64,
    /// Mixtures (pairs of solos of different classes) per evaluation split.
    pub eval_pairs: usize,
    /// The separation network; `channels` must be at least the 11 MUSIC classes.
    pub net: SeparationNetConfig,
    /// Optimisation steps.
    pub steps: usize,
    /// Mixtures per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the pair draws.
    pub seed: u64,
    /// Checkpoint every this many steps.
    pub checkpoint_every: usize,
    /// Score the validation mixtures every this many steps (0: only at the end).
    pub eval_every: usize,
    /// What tells the network which source to extract (plans written before guided runs
    /// existed hold none: the oracle class).
    #[serde(default)]
    pub guide: StreamGuide,
    /// Start the U-Net and synthesizer from a trained class-conditioned model folder of the same
    /// network (e.g. the oracle-class run's `model/`) instead of the initialisation: a guided run
    /// then learns its projection onto channels that already separate classes. `None` (the
    /// default, and plans written before it existed): from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_net: Option<String>,
}

impl StreamPlan {
    /// The CPU preset: compact-width U-Net-7 with K = 16, ratio masks with L1, Adam 1e-3,
    /// batch 8, 3 000 steps.
    pub fn cpu() -> Self {
        Self {
            bench_seed: 2020,
            train_scenes: 2400,
            eval_scenes: 160,
            eval_pairs: 64,
            net: SeparationNetConfig::compact().with_channels(16).with_mask(MaskKind::Ratio).with_seed(3),
            steps: 3000,
            batch_size: 8,
            lr: 1e-3,
            seed: 17,
            checkpoint_every: 100,
            eval_every: 500,
            guide: StreamGuide::OracleClass,
            init_net: None,
        }
    }

    /// The CPU preset guided by a frozen coarse-to-fine model folder (`kind`: Visual, Audio or
    /// WholeFrame).
    pub fn cpu_guided(kind: GuidanceKind, checkpoint: &Path) -> Self {
        Self {
            guide: StreamGuide::Model {
                kind,
                checkpoint: checkpoint.display().to_string(),
                projection_seed: 5,
            },
            ..Self::cpu()
        }
    }

    /// Seconds, for tests.
    pub fn tiny() -> Self {
        Self {
            train_scenes: 24,
            eval_scenes: 24,
            eval_pairs: 3,
            net: SeparationNetConfig::compact()
                .with_ngf(4)
                .with_channels(12)
                .with_mask(MaskKind::Ratio)
                .with_seed(3),
            steps: 4,
            batch_size: 2,
            checkpoint_every: 2,
            eval_every: 2,
            ..Self::cpu()
        }
    }

    /// The benchmark: MUSIC's 11 instruments from the in-family SoundFonts, with the standard
    /// augmentation on the training split; the held-out SoundFont is the unseen-timbre split.
    /// Only the scenes' audio is used, so the training pictures keep to the committed photos
    /// (the fetched training-only groups are left out: a fresh clone generates the same pool; the
    /// photo is drawn from its own random stream, so the audio does not depend on it).
    pub fn bench(&self) -> BenchConfig {
        let mut assets = AssetSelection::in_family();
        assets.train_background_groups.clear();
        BenchConfig {
            assets,
            out_of_family: Some(AssetSelection::held_out()),
            augment: Augment::standard(),
            ..BenchConfig::separation(self.bench_seed)
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        self.guide.validate()?;
        let classes = av_data::classes::Vocabulary::Music11.len();
        if self.guide == StreamGuide::OracleClass && self.net.channels < classes {
            return Err(Error::Config(format!(
                "the oracle class guide needs K >= {classes} channels, got {}",
                self.net.channels
            )));
        }
        if self.steps == 0
            || self.batch_size == 0
            || self.eval_pairs == 0
            || !(self.lr > 0.0 && self.lr.is_finite())
        {
            return Err(Error::Config(format!("steps, batch size, eval pairs and lr must be > 0: {self:?}")));
        }
        Ok(())
    }
}

/// Scores of one method on one evaluation split: every mixture counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitScores {
    /// Method / mask reading (e.g. "ratio mask", "binary at 0.5").
    pub method: String,
    /// Mixtures scored (all of them).
    pub mixtures: usize,
    /// Mixtures with a silent estimate, scored with the [`SILENT_PENALTY_DB`] penalty.
    pub silent: usize,
    /// Mean SDR, SIR, SAR (dB) over mixtures (each the mean over its sources).
    pub sdr: f64,
    /// See [`Self::sdr`].
    pub sir: f64,
    /// See [`Self::sdr`].
    pub sar: f64,
    /// Mean SDR of the mixture itself.
    pub sdr_mix: f64,
    /// Mean SDR improvement over the mixture.
    pub nsdr: f64,
    /// Half-width of the 95 % confidence interval of `nsdr` over mixtures (1.96 s / sqrt n).
    pub nsdr_ci95: f64,
}

impl SplitScores {
    /// Mean and confidence interval from per-mixture `(sdr, sir, sar, sdr_mix, silent)`.
    pub fn from_mixtures(method: &str, rows: &[MixtureRow]) -> Self {
        let n = rows.len().max(1) as f64;
        let mean = |f: &dyn Fn(&MixtureRow) -> f64| rows.iter().map(f).sum::<f64>() / n;
        let nsdr = mean(&|r| r.0 - r.3);
        let var = rows.iter().map(|r| (r.0 - r.3 - nsdr).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Self {
            method: method.to_string(),
            mixtures: rows.len(),
            silent: rows.iter().filter(|r| r.4).count(),
            sdr: mean(&|r| r.0),
            sir: mean(&|r| r.1),
            sar: mean(&|r| r.2),
            sdr_mix: mean(&|r| r.3),
            nsdr,
            nsdr_ci95: 1.96 * var.sqrt() / n.sqrt(),
        }
    }

    /// One line: `method: SDR s / SIR / SAR, NSDR n ± ci (silent k of m)`.
    pub fn line(&self) -> String {
        format!(
            "{}: SDR {:.2} SIR {:.2} SAR {:.2} | mixture {:.2} | NSDR {:+.2} ± {:.2} ({} silent of {})",
            self.method,
            self.sdr,
            self.sir,
            self.sar,
            self.sdr_mix,
            self.nsdr,
            self.nsdr_ci95,
            self.silent,
            self.mixtures
        )
    }
}

/// An evaluation split: its mixtures (with their classes) ready to score.
#[derive(Debug, Clone)]
pub struct EvalSet {
    /// Name ("val", "test in-family", "test unseen timbre").
    pub name: String,
    /// The mixtures.
    pub examples: Vec<MixExample>,
    /// The class of each source of each mixture.
    pub classes: Vec<Vec<usize>>,
    /// The scene id of each source of each mixture (the key of its frame).
    pub ids: Vec<Vec<String>>,
    /// The sources' frames at the guide's size (empty for an oracle-class run).
    pub frames: HashMap<String, RgbImage>,
}

/// The clips of `scenes` scenes of `split`, their frames (at `frame_size`, when a guide needs
/// them) added to `frames`.
fn clips(
    generator: &Generator,
    split: Split,
    scenes: u64,
    frame_size: Option<u32>,
    frames: &mut HashMap<String, RgbImage>,
) -> Result<BenchClips> {
    let mut generated = generator.scenes(split, 0..scenes)?;
    take_frames(&mut generated, frame_size, frames);
    Ok(BenchClips::from_scenes(generated, generator.config().clip.sample_rate)?)
}

/// `pairs` fixed mixtures of solos of different classes of `split` (with the sources' frames at
/// `frame_size` when given).
pub(super) fn eval_set(
    name: &str,
    generator: &Generator,
    split: Split,
    plan: &StreamPlan,
    mixer: &Mixer,
    frame_size: Option<u32>,
) -> Result<EvalSet> {
    let mut frames = HashMap::new();
    let clips = clips(generator, split, plan.eval_scenes, frame_size, &mut frames)?;
    let specs = clips.test_pairs(plan.eval_pairs, plan.seed + 1)?;
    let ids: Vec<Vec<String>> = specs.iter().map(|s| pair_ids(&s.id)).collect();
    mixed_set(name, &specs, ids, frames, mixer, generator.config().clip.sample_rate)
}

/// The multi-source split: up to `plan.eval_pairs` two-instrument scenes (duets of two different
/// classes) among the first `2 * plan.eval_scenes` scenes of `split`, each mixed from its own
/// stems. Both sources share the scene's frame, so a guide has to tell the two instruments apart
/// in one picture (with any silent distractor the scene holds).
///
/// # Errors
/// [`Error::Config`] when the scenes hold no such duet; data and mixing errors.
pub(super) fn duet_set(
    name: &str,
    generator: &Generator,
    split: Split,
    plan: &StreamPlan,
    mixer: &Mixer,
    frame_size: Option<u32>,
) -> Result<EvalSet> {
    let mut frames = HashMap::new();
    let scenes = 2 * plan.eval_scenes;
    let clips = clips(generator, split, scenes, frame_size, &mut frames)?;
    let specs: Vec<MixSpec> = clips
        .duets
        .into_iter()
        .filter(|d| d.num_sources() == 2 && d.classes[0] != d.classes[1])
        .take(plan.eval_pairs)
        .collect();
    if specs.is_empty() {
        return Err(Error::Config(format!(
            "{name}: no scene of two instruments of different classes among {scenes} {split:?} scenes"
        )));
    }
    let ids: Vec<Vec<String>> = specs.iter().map(|s| vec![s.id.clone(); s.num_sources()]).collect();
    mixed_set(name, &specs, ids, frames, mixer, generator.config().clip.sample_rate)
}

/// Mixes `specs` and keeps the frames of their sources (`ids`).
fn mixed_set(
    name: &str,
    specs: &[MixSpec],
    ids: Vec<Vec<String>>,
    mut frames: HashMap<String, RgbImage>,
    mixer: &Mixer,
    sample_rate: u32,
) -> Result<EvalSet> {
    let examples = specs
        .par_iter()
        .map(|s| mixer.mix(&s.sources, sample_rate))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    frames.retain(|id, _| ids.iter().flatten().any(|i| i == id));
    Ok(EvalSet {
        name: name.to_string(),
        examples,
        classes: specs.iter().map(|s| s.classes.clone()).collect(),
        ids,
        frames,
    })
}

/// The oracle guidance of source `n` of every mixture: one-hot of its class over `k` channels.
pub(super) fn oracle_guidance(classes: &[&[usize]], n: usize, k: usize, device: &Device) -> Guidance {
    let mut values = vec![0.0f32; classes.len() * k];
    for (b, c) in classes.iter().enumerate() {
        values[b * k + c[n]] = 1.0;
    }
    Guidance::Vector(Tensor::from_data(TensorData::new(values, [classes.len(), k]), device))
}

/// The pairs of step `step`: `batch` pairs of pool clips of different classes, a pure function of
/// `(seed, step)`.
fn step_pairs(pool: &[SoloClip], seed: u64, step: usize, batch: usize) -> Vec<MixSpec> {
    let mut rng = SplitMix64::from_words(&[seed, step as u64, TAG_STEP_PAIRS]);
    (0..batch)
        .map(|_| {
            let a = &pool[rng.below(pool.len())];
            loop {
                let b = &pool[rng.below(pool.len())];
                if b.class != a.class {
                    return MixSpec::pair(a, b);
                }
            }
        })
        .collect()
}

/// Scores `net` on `set` with the oracle guidance, reading the masks with each of `readers`
/// (a [`Mixer`] whose mask kind decides: `Binary` thresholds at 0.5, `Ratio` uses the mask as is).
///
/// # Errors
/// Separation and BSS-Eval errors.
pub fn score_oracle(
    net: &SeparationNet,
    set: &EvalSet,
    readers: &[(&str, &Mixer)],
    device: &Device,
) -> Result<Vec<SplitScores>> {
    score_stream(net, &Conditioner::Oracle { k: net.channels() }, set, readers, device)
}

/// Scores a streamed run's network on `set`, conditioned by `conditioner` (the guide runs on the
/// sources' frames and each mixture), reading the masks with each of `readers`. Every mixture is
/// scored; a silent estimate gets the [`SILENT_PENALTY_DB`] penalty.
///
/// # Errors
/// Guide, separation and BSS-Eval errors.
pub fn score_stream<M: StreamNet>(
    model: &M,
    conditioner: &Conditioner<'_>,
    set: &EvalSet,
    readers: &[(&str, &Mixer)],
    device: &Device,
) -> Result<Vec<SplitScores>> {
    let mut rows: Vec<Vec<MixtureRow>> = vec![Vec::new(); readers.len()];
    let (ex_chunks, class_chunks) = (set.examples.chunks(8), set.classes.chunks(8));
    for ((chunk, classes), ids) in ex_chunks.zip(class_chunks).zip(set.ids.chunks(8)) {
        let inputs: Vec<_> = chunk.iter().map(|e| &e.input).collect();
        let examples: Vec<&MixExample> = chunk.iter().collect();
        let class_refs: Vec<&[usize]> = classes.iter().map(Vec::as_slice).collect();
        let mixer = readers.first().map(|r| r.1).ok_or_else(|| Error::Config("no mask reader".into()))?;
        let batch = BatchSources { examples: &examples, classes: &class_refs, ids, frames: &set.frames };
        let guidance = conditioner.guidance(batch, mixer, model.projection(), device)?;
        for (r, (_, mixer)) in readers.iter().enumerate() {
            let separations = separate_inputs(model.net(), mixer, &inputs, &guidance, device)?;
            let scored = chunk
                .par_iter()
                .zip(&separations)
                .map(|(ex, sep)| score_with_penalty(mixer, ex, &sep.sources))
                .collect::<Result<Vec<_>>>()?;
            rows[r].extend(scored);
        }
    }
    Ok(readers.iter().zip(&rows).map(|((name, _), r)| SplitScores::from_mixtures(name, r)).collect())
}

/// `(sdr, sir, sar, sdr_mix, silent)` of one mixture; a silent estimate is scored as the
/// mixture's own SDR minus [`SILENT_PENALTY_DB`] (SIR and SAR likewise), never skipped.
fn score_with_penalty(mixer: &Mixer, ex: &MixExample, estimates: &[Vec<f32>]) -> Result<MixtureRow> {
    let origin = av_separation::MixOrigin { id: String::new(), classes: Vec::new() };
    if let Some(s) = score_mixture(mixer, &origin, ex, estimates)? {
        let (sdr, sir, sar, mix) = s.means();
        return Ok((sdr, sir, sar, mix, false));
    }
    // The mixture as the estimate of every source gives the reference SDR of the penalty.
    let len = mixer.config().output_len();
    let mixture = mixer.reconstruct_mixture(&ex.input.spectra)?;
    let mix_est = vec![mixture[..len].to_vec(); ex.num_sources()];
    let s = score_mixture(mixer, &origin, ex, &mix_est)?
        .ok_or_else(|| Error::Config("a reference source of an evaluation mixture is silent".into()))?;
    let (_, sir, sar, mix) = s.means();
    Ok((mix - SILENT_PENALTY_DB, sir - SILENT_PENALTY_DB, sar - SILENT_PENALTY_DB, mix, true))
}

/// Loop state stored with every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamState {
    /// Steps done.
    pub step: usize,
    /// Mean loss of every block of 50 steps.
    pub losses: Vec<f32>,
    /// Sum of the current block's losses.
    pub block_sum: f32,
    /// Validation scores so far: (step, scores per mask reading).
    pub val: Vec<(usize, Vec<SplitScores>)>,
    /// Training seconds so far (summed over resumed processes).
    pub seconds: f64,
}

/// What a finished run gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamOutcome {
    /// The plan.
    pub plan: StreamPlan,
    /// The final loop state.
    pub state: StreamState,
    /// Final scores: split name -> scores per mask reading (the mixture and ideal masks first).
    pub test: Vec<(String, Vec<SplitScores>)>,
    /// Training samples (mixtures) per second, data included.
    pub samples_per_second: f64,
}

const LOSS_BLOCK: usize = 50;

pub(super) fn readers(mask: MaskKind) -> Result<Vec<(&'static str, Mixer)>> {
    let ratio = Mixer::new(MixConfig::sound_of_pixels().with_mask(MaskKind::Ratio))?;
    Ok(match mask {
        MaskKind::Ratio => vec![("ratio mask", ratio)],
        MaskKind::Binary => {
            vec![("binary at 0.5", Mixer::sound_of_pixels()?), ("soft (probabilities)", ratio)]
        }
    })
}

pub(super) fn as_refs<'a>(r: &'a [(&'static str, Mixer)]) -> Vec<(&'a str, &'a Mixer)> {
    r.iter().map(|(n, m)| (*n, m)).collect()
}

/// The mixture and ideal-mask rows of a split.
pub(super) fn reference_rows(set: &EvalSet, mixer: &Mixer) -> Result<Vec<SplitScores>> {
    let ideal_binary = Mixer::sound_of_pixels()?;
    let mut mix_rows = Vec::new();
    let mut ideal_rows = Vec::new();
    for ex in &set.examples {
        let len = mixer.config().output_len();
        let m = mixer.reconstruct_mixture(&ex.input.spectra)?;
        mix_rows.push(score_with_penalty(mixer, ex, &vec![m[..len].to_vec(); ex.num_sources()])?);
        let binary_ex = ideal_binary.mix(&ex.sources, mixer.config().sample_rate)?;
        let est = av_separation::oracle_estimates(&ideal_binary, &binary_ex)?;
        ideal_rows.push(score_with_penalty(&ideal_binary, ex, &est)?);
    }
    Ok(vec![
        SplitScores::from_mixtures("mixture (no separation)", &mix_rows),
        SplitScores::from_mixtures("ideal binary masks", &ideal_rows),
    ])
}

/// Trains (or resumes, or loads when finished) a streamed run in `ctx.out` and scores it.
///
/// # Errors
/// [`Error::Config`] for a bad plan or a folder holding another plan; guide loading, data,
/// training, checkpoint and scoring errors; [`Error::Diverged`] for a non-finite loss.
pub fn run_stream(plan: &StreamPlan, ctx: &RunContext) -> Result<StreamOutcome> {
    plan.validate()?;
    let out = ctx.out.as_path();
    let plan_path = out.join("plan.json");
    if plan_path.is_file() {
        let existing: serde_json::Value = read_json(&plan_path)?;
        let this = serde_json::to_value(plan).map_err(|e| Error::Config(format!("plan: {e}")))?;
        if existing != this {
            return Err(Error::Checkpoint {
                path: out.to_path_buf(),
                detail: "holds a run of another plan; choose another --out folder".into(),
            });
        }
    } else {
        write_json(&plan_path, plan)?;
    }
    let data_started = Instant::now();
    let mut guide = match &plan.guide {
        StreamGuide::OracleClass => None,
        StreamGuide::Model { checkpoint, .. } => {
            Some(GuideContext::load(Path::new(checkpoint), &ctx.device)?)
        }
    };
    let frame_size = guide.as_ref().map(GuideContext::frame_size);
    let generator = Generator::new(Arc::new(AssetPack::load_default()?), plan.bench())?;
    let unseen = generator.out_of_family()?;
    let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(plan.net.mask))?;
    ctx.say(format!("generating {} training scenes for the solo pool ...", plan.train_scenes));
    let mut pool_frames = HashMap::new();
    let pool = clips(&generator, Split::Train, plan.train_scenes, frame_size, &mut pool_frames)?.solos;
    let solo_ids: std::collections::HashSet<&str> = pool.iter().map(|c| c.id.as_str()).collect();
    pool_frames.retain(|id, _| solo_ids.contains(id.as_str()));
    let val = eval_set("val", &generator, Split::Val, plan, &mixer, frame_size)?;
    ctx.say(format!(
        "{} training solos, {} validation mixtures ({:.0} s)",
        pool.len(),
        val.examples.len(),
        data_started.elapsed().as_secs_f64()
    ));
    let readers = readers(plan.net.mask)?;
    let data = StreamData { pool: &pool, frames: &pool_frames, val: &val, mixer: &mixer, readers: &readers };
    let sets = |frame_size| -> Result<[EvalSet; 2]> {
        Ok([
            eval_set("test in-family", &generator, Split::Test, plan, &mixer, frame_size)?,
            eval_set("test unseen timbre", &unseen, Split::Test, plan, &mixer, frame_size)?,
        ])
    };
    let test = match (&plan.guide, guide.as_mut()) {
        (StreamGuide::Model { kind, projection_seed, checkpoint }, Some(context)) => {
            calibrate_guide(context, *kind, plan, &data, out)?;
            let d = feature_width(context)?;
            let config = GuidedSeparatorConfig::new(
                plan.net.clone(),
                GuidanceProjectionConfig::new(d).with_channels(plan.net.channels).with_seed(*projection_seed),
            );
            let conditioner = Conditioner::Guide { context, kind: *kind };
            let model =
                train_stream(plan, &data, &conditioner, &|d| Ok(config.init(d)?), &config, ctx, &|tmp| {
                    write_json(&tmp.join(GUIDE_STATS_FILE), &context.stats)?;
                    copy_files(Path::new(checkpoint), &tmp.join(av_align::inference::GUIDE_DIR))
                })?;
            let grad_cam = Conditioner::Guide { context, kind: GuidanceKind::GradCam };
            let [test_in, test_unseen] = sets(frame_size)?;
            let splits = [val, test_in, test_unseen];
            score_splits(&model, &conditioner, Some(&grad_cam), splits, &mixer, &readers, &ctx.device)?
        }
        _ => {
            let conditioner = Conditioner::Oracle { k: plan.net.channels };
            let model =
                train_stream(plan, &data, &conditioner, &|d| Ok(plan.net.init(d)?), &plan.net, ctx, &|_| {
                    Ok(())
                })?;
            let [test_in, test_unseen] = sets(None)?;
            score_splits(
                &model,
                &conditioner,
                None,
                [val, test_in, test_unseen],
                &mixer,
                &readers,
                &ctx.device,
            )?
        }
    };
    let state: StreamState = read_json(&out.join("model").join("state.json"))?;
    let mut tables = Vec::new();
    for (set, rows) in test {
        for r in &rows {
            ctx.say(format!("  [{}] {}", set.name, r.line()));
        }
        tables.push((set.name, rows));
    }
    let samples_per_second = (state.step * plan.batch_size) as f64 / state.seconds.max(1e-9);
    let outcome = StreamOutcome { plan: plan.clone(), state, test: tables, samples_per_second };
    write_json(&out.join("metrics.json"), &outcome)?;
    Ok(outcome)
}

/// Per split: [`score_split`].
fn score_splits<M: StreamNet>(
    model: &M,
    conditioner: &Conditioner<'_>,
    grad_cam: Option<&Conditioner<'_>>,
    splits: [EvalSet; 3],
    mixer: &Mixer,
    readers: &[(&'static str, Mixer)],
    device: &Device,
) -> Result<Vec<(EvalSet, Vec<SplitScores>)>> {
    splits
        .into_iter()
        .map(|set| {
            let rows = score_split(model, conditioner, grad_cam, &set, mixer, readers, device)?;
            Ok((set, rows))
        })
        .collect()
}

/// The mixture and ideal-mask rows of `set`, the model's rows (one per mask reader) and, for a
/// guided model, the untrained Grad-CAM mask of its guide.
///
/// # Errors
/// Guide, separation and BSS-Eval errors.
pub(super) fn score_split<M: StreamNet>(
    model: &M,
    conditioner: &Conditioner<'_>,
    grad_cam: Option<&Conditioner<'_>>,
    set: &EvalSet,
    mixer: &Mixer,
    readers: &[(&'static str, Mixer)],
    device: &Device,
) -> Result<Vec<SplitScores>> {
    let mut rows = reference_rows(set, mixer)?;
    rows.extend(score_stream(model, conditioner, set, &as_refs(readers), device)?);
    if let Some(cam) = grad_cam {
        let cam_reader = Mixer::sound_of_pixels()?;
        let cam_rows = [("Grad-CAM mask (untrained)", &cam_reader)];
        rows.extend(score_stream(model, cam, set, &cam_rows, device)?);
    }
    Ok(rows)
}

/// The data a streamed run trains and validates on.
struct StreamData<'a> {
    pool: &'a [SoloClip],
    frames: &'a HashMap<String, RgbImage>,
    val: &'a EvalSet,
    mixer: &'a Mixer,
    readers: &'a [(&'static str, Mixer)],
}

/// Stream tag of the calibration mixtures of a guide's statistics.
const TAG_CALIBRATION: u64 = 0xCA1B;
/// Mixtures whose sources calibrate a guide's statistics.
const CALIBRATION_MIXTURES: usize = 64;

/// Sets the guide's per-channel statistics: read from the run folder when a previous process
/// measured them, else measured on fixed training mixtures and written there.
fn calibrate_guide(
    context: &mut GuideContext,
    kind: GuidanceKind,
    plan: &StreamPlan,
    data: &StreamData<'_>,
    out: &Path,
) -> Result<()> {
    let path = out.join(GUIDE_STATS_FILE);
    if path.is_file() {
        context.stats = read_json(&path)?;
        return Ok(());
    }
    let specs = step_pairs(data.pool, plan.seed ^ TAG_CALIBRATION, 0, CALIBRATION_MIXTURES);
    let rate = data.mixer.config().sample_rate;
    let examples = specs
        .par_iter()
        .map(|s| data.mixer.mix(&s.sources, rate))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let refs: Vec<&MixExample> = examples.iter().collect();
    let classes: Vec<&[usize]> = specs.iter().map(|s| s.classes.as_slice()).collect();
    let ids: Vec<Vec<String>> = specs.iter().map(|s| pair_ids(&s.id)).collect();
    let batch = BatchSources { examples: &refs, classes: &classes, ids: &ids, frames: data.frames };
    let raw = context.raw(batch, data.mixer, false)?;
    context.calibrate(kind, raw);
    write_json(&path, &context.stats)
}

/// The width `D` of the guide's vectors (from its calibration statistics).
fn feature_width(context: &GuideContext) -> Result<usize> {
    match context.stats.mean.len() {
        0 => Err(Error::Config("the guide gave empty vectors".into())),
        d => Ok(d),
    }
}

#[allow(clippy::too_many_arguments)]
fn train_stream<M: StreamNet, C: burn::config::Config>(
    plan: &StreamPlan,
    data: &StreamData<'_>,
    conditioner: &Conditioner<'_>,
    init: &dyn Fn(&Device) -> Result<M>,
    config: &C,
    ctx: &RunContext,
    extra_files: &dyn Fn(&Path) -> Result<()>,
) -> Result<M> {
    let (out, device) = (ctx.out.as_path(), &ctx.device);
    let final_dir = out.join("model");
    if final_dir.join("state.json").is_file() {
        return Ok(load_checkpoint_weights(init(device)?, &final_dir, "model")?);
    }
    let pool = data.pool;
    if pool.iter().map(|c| c.class).collect::<std::collections::BTreeSet<_>>().len() < 2 {
        return Err(Error::Config("the solo pool has fewer than two classes".into()));
    }
    let ad = device.clone().autodiff();
    let ckpt_dir = out.join("checkpoints");
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let mut model = init(device)?;
    if let Some(dir) = &plan.init_net {
        let (from, net) = super::demo::load_stream_model(Path::new(dir), device)?;
        if serde_json::to_value(&from.net).ok() != serde_json::to_value(&plan.net).ok() {
            return Err(Error::Config(format!(
                "--init-net {dir} holds another network ({:?}) than this plan's ({:?})",
                from.net, plan.net
            )));
        }
        model = model.with_net(net);
    }
    let mut model = model.fork(&ad).train();
    let mut state =
        StreamState { step: 0, losses: Vec::new(), block_sum: 0.0, val: Vec::new(), seconds: 0.0 };
    if let Some(ckpt) = latest_published(&ckpt_dir, "state.json")? {
        state = read_json(&ckpt.join("state.json"))?;
        model = load_checkpoint_weights(init(device)?, &ckpt, "model")?.fork(&ad).train();
        optim = optim.load(ckpt.join("optimizer.bpk")).map_err(|e| Error::Checkpoint {
            path: ckpt.clone(),
            detail: format!("optimizer state: {e:?}"),
        })?;
        ctx.say(format!("resuming at step {}", state.step));
    }
    let bar = ctx.bar(plan.steps as u64, "separation");
    if let Some(b) = &bar {
        b.set_position(state.step as u64);
    }
    let started = Instant::now();
    let base_seconds = state.seconds;
    let mixer = data.mixer;
    let sample_rate = mixer.config().sample_rate;
    while state.step < plan.steps {
        let specs = step_pairs(pool, plan.seed, state.step, plan.batch_size);
        let examples = specs
            .par_iter()
            .map(|s| mixer.mix(&s.sources, sample_rate))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let refs: Vec<&MixExample> = examples.iter().collect();
        let batch = SeparationBatch::from_examples(&refs, &ad)?;
        let classes: Vec<&[usize]> = specs.iter().map(|s| s.classes.as_slice()).collect();
        let ids: Vec<Vec<String>> = specs.iter().map(|s| pair_ids(&s.id)).collect();
        let sources = BatchSources { examples: &refs, classes: &classes, ids: &ids, frames: data.frames };
        let guidance = conditioner.guidance(sources, mixer, model.projection(), &ad)?;
        let out_loss = forward_loss(model.net(), &batch, &guidance)?;
        let value;
        (model, value) = optimizer_step(model, &mut optim, plan.lr, out_loss.loss, 0, state.step)?;
        state.step += 1;
        state.block_sum += value;
        if state.step.is_multiple_of(LOSS_BLOCK) {
            state.losses.push(state.block_sum / LOSS_BLOCK as f32);
            state.block_sum = 0.0;
        }
        state.seconds = base_seconds + started.elapsed().as_secs_f64();
        if let Some(b) = &bar {
            b.set_message(format!("loss {value:.4}"));
            b.inc(1);
        }
        let eval_now =
            plan.eval_every > 0 && state.step.is_multiple_of(plan.eval_every) && state.step < plan.steps;
        if eval_now {
            let scores = score_stream(&model.valid(), conditioner, data.val, &as_refs(data.readers), device)?;
            let line = format!(
                "step {}: val {}",
                state.step,
                scores.iter().map(SplitScores::line).collect::<Vec<_>>().join(" | ")
            );
            match &bar {
                Some(b) => b.println(line),
                None => ctx.say(line),
            }
            state.val.push((state.step, scores));
        }
        if (plan.checkpoint_every > 0 && state.step.is_multiple_of(plan.checkpoint_every)) || eval_now {
            let name = format!("step-{:06}", state.step);
            publish_checkpoint(&ckpt_dir, &name, |tmp| {
                save_checkpoint(&model.valid(), config, tmp, "model")?;
                let optim_path = tmp.join("optimizer.bpk");
                optim.save(&optim_path).map_err(|e| Error::io(&optim_path, format!("{e:?}")))?;
                write_json(&tmp.join("state.json"), &state)
            })?;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let model = model.valid();
    publish_final(&final_dir, |tmp| {
        save_checkpoint(&model, config, tmp, "model")?;
        write_json(&tmp.join("plan.json"), plan)?;
        write_json(
            &tmp.join(av_align::inference::CLASSES_FILE),
            &av_data::classes::Vocabulary::Music11.names(),
        )?;
        extra_files(tmp)?;
        write_json(&tmp.join("state.json"), &state)
    })?;
    Ok(load_checkpoint_weights(init(device)?, &final_dir, "model")?)
}

/// Copies the files (not subfolders) of `from` into a new folder `to`: a guided model folder
/// carries its guide, so that it is self-contained.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let path = entry.map_err(|e| Error::io(from, e))?.path();
        if path.is_file() {
            let name = path.file_name().unwrap_or_default();
            std::fs::copy(&path, to.join(name)).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// Writes a folder through `<dir>.tmp` and renames it into place.
fn publish_final(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write(&tmp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
}
