//! The separation demo: a shipped streamed model (trained by `music_separation stream`) on
//! mixtures of test-split solos it never saw, in-family and with an unseen SoundFont, scored
//! beside the mixture and the ideal binary masks, with WAVs and pictures of the first mixtures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use av_data::Split;
use av_data::bench::{AssetPack, Generator};
use av_data::classes::Vocabulary;
use av_data::viz::{array_image, caption, grid, save_png};
use av_separation::{
    GuidanceKind, GuidedSeparatorConfig, MaskKind, MixConfig, Mixer, SeparationNet, separate_inputs,
    write_wavs,
};
use burn::tensor::Device;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use av_align::{Error, Result};

use crate::run::{RunContext, read_json, write_json};

use super::stream::{EvalSet, SplitScores, StreamPlan, eval_set, reference_rows, score_stream};
use super::stream_guide::{
    BatchSources, Conditioner, GUIDE_STATS_FILE, GuideContext, StreamGuide, StreamNet,
};

/// A streamed model folder: `plan.json` (its [`StreamPlan`]) and `model.bpk` / `model.json`.
///
/// # Errors
/// [`Error::Io`] / checkpoint errors when the files are missing or do not match;
/// [`Error::Config`] for a plan that fails [`StreamPlan::validate`].
pub fn load_stream_model(dir: &Path, device: &Device) -> Result<(StreamPlan, SeparationNet)> {
    let plan_path = dir.join("plan.json");
    if !plan_path.is_file() {
        return Err(Error::Checkpoint {
            path: dir.to_path_buf(),
            detail: "no plan.json: not a model folder written by `music_separation stream`".into(),
        });
    }
    let plan: StreamPlan = read_json(&plan_path)?;
    plan.validate()?;
    if plan.guide != super::stream_guide::StreamGuide::OracleClass {
        return Err(Error::Config(format!(
            "{} holds a model guided by {} (U-Net + projection); this loader takes oracle-class models",
            dir.display(),
            plan.guide.name()
        )));
    }
    let net = load_checkpoint_weights(plan.net.init(device)?, dir, "model")?;
    Ok((plan, net))
}

/// The demo's `metrics.json` (and a shipped model's `demo_metrics.json`, which a test
/// reproduces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoMetrics {
    /// Mixtures per split.
    pub mixtures: usize,
    /// Per split: the mixture, the ideal binary masks and the model.
    pub splits: Vec<(String, Vec<SplitScores>)>,
}

/// What the demo measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoOutcome {
    /// Per split: the mixture, the ideal binary masks and the model.
    pub splits: Vec<(String, Vec<SplitScores>)>,
    /// Files written (WAVs and pictures).
    pub files: Vec<PathBuf>,
    /// Wall time (s).
    pub seconds: f64,
    /// What steered the network ("oracle class", "Ours Audio", ...).
    pub guide: String,
}

/// How a loaded model folder is steered: by the oracle class, or by its own guide (with the
/// guide's untrained Grad-CAM mask to score beside it and the frame size the guide reads).
pub(super) struct Steering<'a> {
    /// What conditions the network.
    pub conditioner: &'a Conditioner<'a>,
    /// The guide's Grad-CAM mask (guided folders only).
    pub grad_cam: Option<&'a Conditioner<'a>>,
    /// The guide's frame size (guided folders only).
    pub frame_size: Option<u32>,
}

/// A job on a streamed model folder, for either kind of model in it (see [`with_model`]).
pub(super) trait ModelJob {
    /// What the job gives.
    type Output;
    /// Runs the job on `model` of `plan`, steered by `steering`.
    ///
    /// # Errors
    /// The job's own.
    fn run<M: StreamNet>(
        self,
        plan: &StreamPlan,
        model: &M,
        steering: &Steering<'_>,
        ctx: &RunContext,
    ) -> Result<Self::Output>;
}

/// Loads the streamed model folder `model_dir` (an oracle-class U-Net, or a guided U-Net +
/// projection with its guide in `guide/` and the guide's statistics) and runs `job` on it.
///
/// # Errors
/// Model loading errors and the job's own.
pub(super) fn with_model<J: ModelJob>(model_dir: &Path, ctx: &RunContext, job: J) -> Result<J::Output> {
    let plan: StreamPlan = read_json(&model_dir.join("plan.json"))?;
    plan.validate()?;
    match &plan.guide {
        StreamGuide::OracleClass => {
            let net = load_checkpoint_weights(plan.net.init(&ctx.device)?, model_dir, "model")?;
            let conditioner = Conditioner::Oracle { k: net.channels() };
            let steering = Steering { conditioner: &conditioner, grad_cam: None, frame_size: None };
            job.run(&plan, &net, &steering, ctx)
        }
        StreamGuide::Model { kind, .. } => {
            let device = &ctx.device;
            let config: GuidedSeparatorConfig = load_checkpoint_config(model_dir, "model")?;
            let model = load_checkpoint_weights(config.init(device)?, model_dir, "model")?;
            let mut context = GuideContext::load(&model_dir.join(av_align::inference::GUIDE_DIR), device)?;
            context.stats = read_json(&model_dir.join(GUIDE_STATS_FILE))?;
            let conditioner = Conditioner::Guide { context: &context, kind: *kind };
            let grad_cam = Conditioner::Guide { context: &context, kind: GuidanceKind::GradCam };
            let steering = Steering {
                conditioner: &conditioner,
                grad_cam: Some(&grad_cam),
                frame_size: Some(context.frame_size()),
            };
            job.run(&plan, &model, &steering, ctx)
        }
    }
}

/// Runs the demo of the model in `model_dir` on `mixtures` mixtures per split (in-family test,
/// unseen-timbre test), writing `metrics.json`, and WAVs and a picture of the first `examples`
/// in-family mixtures under `ctx.out/examples/`.
///
/// # Errors
/// Model loading, data, separation and scoring errors.
pub fn run_demo(model_dir: &Path, mixtures: usize, examples: usize, ctx: &RunContext) -> Result<DemoOutcome> {
    with_model(model_dir, ctx, Demo { mixtures, examples })
}

/// The demo as a [`ModelJob`].
struct Demo {
    mixtures: usize,
    examples: usize,
}

impl ModelJob for Demo {
    type Output = DemoOutcome;

    fn run<M: StreamNet>(
        self,
        plan: &StreamPlan,
        model: &M,
        steering: &Steering<'_>,
        ctx: &RunContext,
    ) -> Result<DemoOutcome> {
        let (mixtures, examples) = (self.mixtures, self.examples);
        let (conditioner, frame_size) = (steering.conditioner, steering.frame_size);
        let started = Instant::now();
        let plan = StreamPlan {
            eval_pairs: mixtures.max(1),
            eval_scenes: (6 * mixtures as u64).max(24),
            ..plan.clone()
        };
        let generator = Generator::new(Arc::new(AssetPack::load_default()?), plan.bench())?;
        let unseen = generator.out_of_family()?;
        let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(plan.net.mask))?;
        let readers = super::stream::readers(plan.net.mask)?;
        let reader_refs = super::stream::as_refs(&readers);
        let mut splits = Vec::new();
        let mut files = Vec::new();
        for (name, generator) in [("test in-family", &generator), ("test unseen timbre", &unseen)] {
            let set = eval_set(name, generator, Split::Test, &plan, &mixer, frame_size)?;
            let mut rows = reference_rows(&set, &mixer)?;
            rows.extend(score_stream(model, conditioner, &set, &reader_refs, &ctx.device)?);
            if splits.is_empty() {
                files = write_examples(
                    model,
                    conditioner,
                    &set,
                    examples,
                    &ctx.out.join("examples"),
                    &ctx.device,
                )?;
            }
            splits.push((name.to_string(), rows));
        }
        let outcome =
            DemoOutcome { splits, files, seconds: started.elapsed().as_secs_f64(), guide: plan.guide.name() };
        let metrics = DemoMetrics { mixtures: plan.eval_pairs, splits: outcome.splits.clone() };
        write_json(&ctx.out.join("metrics.json"), &metrics)?;
        Ok(outcome)
    }
}

/// For each of the first `count` mixtures of `set`: `mixture.wav`, and per source
/// `<class>.wav` (the estimate), `<class>_residual.wav` (mixture minus estimate) and
/// `<class>_reference.wav`; and `masks.png` (per source: the mixture's log-spectrogram, the
/// ideal ratio mask, the predicted mask, on the warped log-frequency grid, low frequencies at the bottom).
fn write_examples<M: StreamNet>(
    model: &M,
    conditioner: &Conditioner<'_>,
    set: &EvalSet,
    count: usize,
    dir: &Path,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    let names = Vocabulary::Music11.names();
    let ratio = Mixer::new(MixConfig::sound_of_pixels().with_mask(MaskKind::Ratio))?;
    let rate = ratio.config().sample_rate;
    let len = ratio.config().output_len();
    let mut files = Vec::new();
    for (i, (ex, classes)) in set.examples.iter().zip(&set.classes).enumerate().take(count) {
        let class_names: Vec<&str> =
            classes.iter().map(|&c| names.get(c).copied().unwrap_or("unknown")).collect();
        let sub = dir.join(format!("{i:02}_{}", class_names.join("_")));
        let net = model.net();
        let reader = match net.mask {
            MaskKind::Ratio => &ratio,
            MaskKind::Binary => &Mixer::sound_of_pixels()?,
        };
        let batch = BatchSources {
            examples: &[ex],
            classes: &[classes.as_slice()],
            ids: std::slice::from_ref(&set.ids[i]),
            frames: &set.frames,
        };
        let guidance = conditioner.guidance(batch, reader, model.projection(), device)?;
        let sep = separate_inputs(net, reader, &[&ex.input], &guidance, device)?
            .pop()
            .ok_or_else(|| Error::Config("no separation returned".into()))?;
        let mut stems: Vec<(String, Vec<f32>)> = vec![("mixture".into(), sep.mixture.clone())];
        let ideal = ratio.mix(&ex.sources, rate)?;
        let logmag = &ex.input.log_magnitude;
        let (lo, hi) = logmag.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let lo = lo.max(hi - 12.0);
        let mut tiles = Vec::new();
        for (n, cname) in class_names.iter().enumerate() {
            let estimate = &sep.sources[n];
            let residual: Vec<f32> = sep.mixture.iter().zip(estimate).map(|(m, e)| m - e).collect();
            stems.push(((*cname).to_string(), estimate.clone()));
            stems.push((format!("{cname}_residual"), residual));
            stems
                .push((format!("{cname}_reference"), ex.sources[n][..len.min(ex.sources[n].len())].to_vec()));
            for (img, label) in [
                (array_image(logmag, lo, hi, true), "mixture log|X|".to_string()),
                (array_image(&ideal.targets[n], 0.0, 1.0, false), format!("ideal {cname}")),
                (array_image(&sep.masks[n], 0.0, 1.0, false), format!("predicted {cname}")),
            ] {
                tiles.push(labelled(img, &label));
            }
        }
        let refs: Vec<(&str, &[f32])> = stems.iter().map(|(n, s)| (n.as_str(), s.as_slice())).collect();
        files.extend(write_wavs(&sub, &refs, rate)?);
        let path = sub.join("masks.png");
        save_png(&path, &grid(&tiles, 3, 4, [255, 255, 255]))?;
        files.push(path);
    }
    Ok(files)
}

fn labelled(mut img: RgbImage, text: &str) -> RgbImage {
    caption(&mut img, text);
    img
}
