//! Where an experiment's models come from: a training preset run here, or a model folder
//! loaded from disk ("train or load").

use std::path::{Path, PathBuf};

use av_align::inference::{INPUTS_FILE, InputSpec};
use av_align::model::{AvModel, LocalizeConfig};
use av_align::train::load_model_for;
use av_align::{Error, Result};
use burn::tensor::Device;
use serde::Serialize;

use crate::flickr::{FlickrPlan, load_run_model, train_plan};
use crate::run::RunContext;

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

/// The training presets of the experiments (each a [`FlickrPlan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Preset {
    /// Compact model, 128x128 frames, 1 600 scenes: about 21 minutes on 2 CPU cores (the shipped
    /// checkpoint).
    Compact,
    /// Compact model on the broad benchmark (picture families, SoundFonts, photo groups,
    /// augmentation) with the per-position alignment term (LVS): about 27 minutes on 2 CPU cores.
    Broad,
    /// The paper's ResNet-18 model, 256x256 frames, 10 000 scenes: a GPU run.
    Paper,
    /// Seconds: for tests.
    Tiny,
}

impl Preset {
    /// The plan of this preset.
    pub fn plan(self) -> FlickrPlan {
        match self {
            Preset::Compact => FlickrPlan::compact(),
            Preset::Broad => FlickrPlan::broad(),
            Preset::Paper => FlickrPlan::paper(),
            Preset::Tiny => FlickrPlan::tiny(),
        }
    }
}

/// The models an experiment scores, trained here or loaded, and where they came from.
#[derive(Debug)]
pub struct RunModels {
    /// The plan they were trained with.
    pub plan: FlickrPlan,
    /// The stage-2 (final) model.
    pub stage2: AvModel,
    /// The stage-1 model, when known (trained here, or a `model_stage1/` beside the checkpoint).
    pub stage1: Option<AvModel>,
    /// Where they came from, in words (for the run's config and report).
    pub source: String,
}

/// "Train or load": with a preset, trains its plan in `out/train` (resuming an interrupted run,
/// data-parallel over `devices` when given); without, loads the model folder `checkpoint` (and
/// a stage-1 model from `stage1` or beside it).
///
/// # Errors
/// [`Error::Checkpoint`] for a folder without `model.json` or `plan.json`; training and
/// loading errors.
pub fn train_or_load(
    train: Option<Preset>,
    checkpoint: &Path,
    stage1: Option<&Path>,
    devices: &[String],
    ctx: &RunContext,
) -> Result<RunModels> {
    match train {
        Some(preset) => {
            let plan = preset.plan().with_devices(devices);
            let dir = ctx.path("train");
            let trained = train_plan(&plan, &dir, &ctx.device, ctx.progress)?;
            Ok(RunModels {
                plan,
                source: format!(
                    "trained here ({preset:?} preset, {:.0} s, {})",
                    trained.seconds,
                    dir.display()
                ),
                stage1: Some(trained.stage1),
                stage2: trained.stage2,
            })
        }
        None => {
            if !checkpoint.join("model.json").is_file() {
                return Err(Error::Checkpoint {
                    path: checkpoint.to_path_buf(),
                    detail: "no model.json here; pass --checkpoint DIR or train one with --train compact"
                        .into(),
                });
            }
            let (plan, stage2, stage1) = load_checkpoint_with_plan(checkpoint, stage1, &ctx.device)?;
            Ok(RunModels { plan, stage2, stage1, source: format!("checkpoint {}", checkpoint.display()) })
        }
    }
}

/// The maps a model folder's `Localizer` draws ([`InputSpec::localize_config`]); the paper's
/// Eq. 8 and weighted mean ([`LocalizeConfig::default`]) for a folder without `inputs.json`.
///
/// # Errors
/// [`Error::Checkpoint`] for an `inputs.json` that cannot be read.
pub fn drawn_config(dir: &Path) -> Result<LocalizeConfig> {
    if dir.join(INPUTS_FILE).is_file() {
        Ok(InputSpec::load(dir)?.localize_config())
    } else {
        Ok(LocalizeConfig::default())
    }
}
