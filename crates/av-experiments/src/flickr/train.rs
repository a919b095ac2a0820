//! Training a plan: stage 1 then stage 2 in a run directory (resumable), and the self-contained
//! model folders it leaves (`model/`, `model_stage1/`).

use std::path::Path;
use std::time::Instant;

use av_data::Split;
use av_metrics::PredictionRule;
use burn::tensor::Device;

use av_align::{Error, Result};

use crate::bench::{BenchData, generate};
use crate::eval::{flickr_evaluate, localize_all};
use crate::run::write_json;
use av_align::model::{AvModel, LocalizeConfig, MapSource, Method};
use av_align::train::{BestEpoch, EpochLog, TrainConfig, load_model_for, save_model};

use super::FlickrPlan;

/// The result of [`train_plan`].
#[derive(Debug)]
pub struct TrainedPlan {
    /// The stage-1 model.
    pub stage1: AvModel,
    /// The stage-2 model (the stage-1 model again for the one-stage AVC-only baseline).
    pub stage2: AvModel,
    /// Histories of the two stages (stage 2 empty for the AVC-only baseline).
    pub history: [Vec<EpochLog>; 2],
    /// Wall time in seconds (this process; a resumed run counts only what it did).
    pub seconds: f64,
    /// The stage-2 epoch `stage2` comes from when the plan keeps the best validated one
    /// ([`av_align::train::TrainConfig::keep_best_validation`]).
    pub best: Option<BestEpoch>,
}

/// Trains stage 1 then stage 2 of `plan` on a given training set (e.g. real SoundNet-Flickr
/// pairs from [`av_align::train::load_flickr_train`]), without a validation hook; the model's class count is
/// taken from the data. Same run-directory layout and resume as [`train_plan`].
///
/// # Errors
/// As [`train_plan`].
pub fn train_plan_on(
    plan: &FlickrPlan,
    train: &dyn av_align::train::BatchSource,
    run_dir: &Path,
    device: &Device,
    progress: bool,
) -> Result<TrainedPlan> {
    let started = Instant::now();
    let mut plan = plan.clone();
    plan.model.num_classes = train.num_classes();
    check_or_save_plan(&plan, run_dir)?;
    train_stages(&plan, train, None, run_dir, device, progress, started)
}

/// Writes `plan.json` in a new run directory, or checks that an existing one holds this plan.
pub(super) fn check_or_save_plan(plan: &FlickrPlan, run_dir: &Path) -> Result<()> {
    let plan_path = run_dir.join("plan.json");
    if !plan_path.is_file() {
        return plan.save(&plan_path);
    }
    let existing = FlickrPlan::load(&plan_path)?;
    // What the Localizer draws is chosen after training; it does not make another run.
    let trained = |p: &FlickrPlan| serde_json::to_value(FlickrPlan { drawn: None, ..p.clone() }).ok();
    if trained(&existing) != trained(plan) {
        return Err(Error::Checkpoint {
            path: run_dir.to_path_buf(),
            detail: "holds a run of another plan; choose another --run directory".into(),
        });
    }
    Ok(())
}

/// Stage 1 then stage 2 on `train` (validation AUC per epoch on `val` when given: visual CAMs
/// in stage 1, Eq. 8 maps in stage 2), saving `model_stage1/`, `model/` and `history.json`.
/// A plan whose stage 1 is [`Method::AvcOnly`] is Table 2's AVC baseline: one stage (validated
/// with the AVC maps), no stage 2, and `model/` holds the stage-1 model.
pub(super) fn train_stages(
    plan: &FlickrPlan,
    train: &dyn av_align::train::BatchSource,
    val: Option<&BenchData>,
    run_dir: &Path,
    device: &Device,
    progress: bool,
    started: Instant,
) -> Result<TrainedPlan> {
    device.seed(plan.init_seed);
    let init = plan.model.init_for_training(device)?;
    let trainer =
        |config: &TrainConfig, dir: &str, source: MapSource| -> Result<av_align::train::Trainer<'static>> {
            let mut t = crate::run::trainer(config.clone(), run_dir.join(dir), progress)?;
            if let Some(val) = val {
                let (val, device) = (val.clone(), device.clone());
                t = t.with_validation(Box::new(move |model: &AvModel, _epoch: usize| -> Result<f64> {
                    let cfg = LocalizeConfig { source, ..LocalizeConfig::default() };
                    let maps = localize_all(model, &val, &cfg, 16, &device)?;
                    Ok(flickr_evaluate(&maps, &val.truths, PredictionRule::Absolute(0.5))?.model.auc)
                }));
            }
            Ok(t)
        };
    let avc_only = plan.stage1.objective.method == Method::AvcOnly;
    let (stage1_name, val_maps_name, val_maps) = if avc_only {
        ("stage 1 (AVC only, the one-stage baseline)", "AVC maps", MapSource::Correspondence)
    } else {
        ("stage 1 (classification + AVC)", "visual CAMs", MapSource::VisualCam)
    };
    if progress {
        let with =
            if val.is_some() { format!(", validation AUC with {val_maps_name}") } else { String::new() };
        eprintln!("{stage1_name}{with}");
    }
    let s1 = trainer(&plan.stage1, "stage1", val_maps)?.fit(init, &plan.model, train, device)?;
    save_model_dir(&s1.model, plan, &run_dir.join("model_stage1"))?;
    if avc_only {
        save_model_dir(&s1.model, plan, &run_dir.join("model"))?;
        write_json(&run_dir.join("history.json"), &[&s1.history, &Vec::new()])?;
        return Ok(TrainedPlan {
            stage1: s1.model.clone(),
            stage2: s1.model,
            history: [s1.history, Vec::new()],
            seconds: started.elapsed().as_secs_f64(),
            best: None,
        });
    }
    if progress {
        eprintln!(
            "stage 2 (+ alignment){}",
            if val.is_some() { ", validation AUC with Eq. 8 maps" } else { "" }
        );
    }
    let s2 = trainer(&plan.stage2, "stage2", MapSource::Alignment)?.fit(
        s1.model.clone(),
        &plan.model,
        train,
        device,
    )?;
    if progress && let Some(best) = s2.best {
        eprintln!(
            "stage 2 keeps epoch {} (validation AUC {:.3}), the best validated",
            best.epoch, best.validation
        );
    }
    save_model_dir(&s2.model, plan, &run_dir.join("model"))?;
    write_json(&run_dir.join("history.json"), &[&s1.history, &s2.history])?;
    Ok(TrainedPlan {
        stage1: s1.model,
        stage2: s2.model,
        history: [s1.history, s2.history],
        seconds: started.elapsed().as_secs_f64(),
        best: s2.best,
    })
}

/// Trains stage 1 then stage 2 of `plan` in `run_dir` (`stage1/`, `stage2/` with checkpoints,
/// `plan.json`, `model_stage1/`, `model/` with the final weights). Interrupted runs resume.
///
/// # Errors
/// [`Error::Checkpoint`] when `run_dir` holds a run of another plan; data and training errors.
pub fn train_plan(plan: &FlickrPlan, run_dir: &Path, device: &Device, progress: bool) -> Result<TrainedPlan> {
    let started = Instant::now();
    check_or_save_plan(plan, run_dir)?;
    if progress {
        eprintln!("generating {} training and {} validation scenes ...", plan.train_scenes, plan.val_scenes);
    }
    let train = generate(&plan.data, Split::Train, 0..plan.train_scenes, progress)?;
    let val = generate(&plan.data, Split::Val, 0..plan.val_scenes.max(1), false)?;
    train_stages(plan, &train.dataset, Some(&val), run_dir, device, progress, started)
}

/// Loads a model folder written by [`train_plan`] (`<run>/model`, `<run>/model_stage1`) or
/// shipped (`assets/checkpoints/flickr_compact`): its plan (`plan.json` in the folder, else in
/// its parent, the run directory) and the model, checked against the plan's model. The one
/// loader of trained models for every experiment.
///
/// # Errors
/// [`Error::Checkpoint`] when no `plan.json` is found, and as [`load_model_for`].
pub fn load_run_model(dir: &Path, device: &Device) -> Result<(FlickrPlan, AvModel)> {
    let candidates = [dir.join("plan.json"), dir.join("..").join("plan.json")];
    let plan_path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| Error::Checkpoint {
        path: dir.to_path_buf(),
        detail: "has no plan.json (the frame size and data settings of the model), nor has its parent; \
                 model folders written by `flickr_localize train` have one"
            .into(),
    })?;
    let plan = FlickrPlan::load(plan_path)?;
    let model = load_model_for(dir, &plan.model, device)?;
    Ok((plan, model))
}

/// Saves a trained model as a self-contained folder: weights and model config
/// ([`save_model`]), `inputs.json` (what [`av_align::Localizer::from_dir`] needs) and the
/// plan that trained it (`plan.json`).
///
/// # Errors
/// I/O errors.
pub fn save_model_dir(model: &AvModel, plan: &FlickrPlan, dir: &Path) -> Result<()> {
    save_model(model, &plan.model, dir)?;
    plan.input_spec().save(dir)?;
    plan.save(&dir.join("plan.json"))
}
