//! Training checkpoints: model weights, optimizer state and loop state in one directory,
//! published atomically, so an interrupted run resumes exactly where it stopped.
//!
//! Layout of `<run>/checkpoints/`:
//! ```text
//! step-00000120/           one complete checkpoint (written as step-00000120.tmp, then renamed)
//!   model.bpk, model.json  weights (burnpack, with parameter ids) and the AvModelConfig
//!   optimizer.bpk          optimizer state: SGD momentum or AdamW moments (keyed by parameter id)
//!   state.json             TrainConfig, step counters, per-epoch history
//! latest                   the name of the newest complete checkpoint (replaced atomically)
//! ```

use std::path::{Path, PathBuf};

use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights, save_checkpoint};
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{AvModel, AvModelConfig, LossValues};
use crate::train::config::TrainConfig;

/// One epoch of the training history.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean loss terms over the epoch's steps.
    pub loss: LossValues,
    /// Learning rate of the heads.
    pub lr: f64,
    /// Wall time of the epoch in seconds (0 for an epoch split by a resume).
    pub seconds: f64,
    /// Training throughput (samples per second).
    pub samples_per_second: f64,
    /// What the validation hook returned, if one was given.
    pub validation: Option<f64>,
}

/// The loop's position and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Format version.
    pub version: u32,
    /// The settings of the run.
    pub config: TrainConfig,
    /// Steps done so far.
    pub global_step: usize,
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Steps done in the current epoch.
    pub step_in_epoch: usize,
    /// Sum of the loss terms of the current epoch so far (for its mean).
    pub epoch_sum: LossValues,
    /// Finished epochs.
    pub history: Vec<EpochLog>,
    /// The best validated epoch so far and its value, when
    /// [`TrainConfig::keep_best_validation`] is on (its model is in `<run>/best/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best: Option<BestEpoch>,
}

/// The epoch with the best validation value ([`TrainConfig::keep_best_validation`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestEpoch {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Its validation value.
    pub validation: f64,
}

const LATEST: &str = "latest";

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(path, e)
}

/// The checkpoint directory of a run directory.
pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Publishes one checkpoint atomically, for any trainer: `write` fills a fresh
/// `<dir>/<name>.tmp/`, which is then renamed to `<dir>/<name>/`; only then is `<dir>/latest`
/// replaced (write to `latest.tmp`, rename) and are the older `step-*` checkpoints removed. An
/// interruption at any point leaves `latest` naming a complete checkpoint (or none).
///
/// # Errors
/// [`Error::Io`] when a file cannot be written, and what `write` returns.
pub fn publish_checkpoint(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!("{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    write(&tmp)?;
    let final_dir = dir.join(name);
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| io(&final_dir, e))?;
    let latest_tmp = dir.join(format!("{LATEST}.tmp"));
    std::fs::write(&latest_tmp, name).map_err(|e| io(&latest_tmp, e))?;
    std::fs::rename(&latest_tmp, dir.join(LATEST)).map_err(|e| io(&dir.join(LATEST), e))?;
    // Only now are older checkpoints redundant.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().to_string();
            if file_name.starts_with("step-") && file_name != name {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(final_dir)
}

/// The checkpoint that `<dir>/latest` names, if any; `marker` is a file every complete
/// checkpoint holds (e.g. `state.json`).
///
/// # Errors
/// [`Error::Checkpoint`] when `latest` names a checkpoint without `marker`.
pub fn latest_published(dir: &Path, marker: &str) -> Result<Option<PathBuf>> {
    let latest = dir.join(LATEST);
    if !latest.is_file() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&latest).map_err(|e| io(&latest, e))?;
    let path = dir.join(name.trim());
    if !path.join(marker).is_file() {
        return Err(Error::Checkpoint { path, detail: "named by 'latest' but incomplete or missing".into() });
    }
    Ok(Some(path))
}

/// Writes a checkpoint and publishes it as the latest ([`publish_checkpoint`]); older
/// checkpoints are removed.
///
/// # Errors
/// [`Error::Io`] / [`Error::Backbone`] when a file cannot be written.
pub fn save_training_checkpoint(
    run: &Path,
    model: &AvModel,
    model_config: &AvModelConfig,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> Result<PathBuf> {
    let name = format!("step-{:08}", state.global_step);
    publish_checkpoint(&checkpoints_dir(run), &name, |tmp| {
        save_checkpoint(model, model_config, tmp, "model")?;
        let optim_path = tmp.join("optimizer.bpk");
        optim.save(&optim_path).map_err(|e| io(&optim_path, format!("{e:?}")))?;
        Ok(av_data::files::write_json(&tmp.join("state.json"), state)?)
    })
}

/// The newest complete checkpoint of a run, if any.
///
/// # Errors
/// [`Error::Checkpoint`] when `latest` names a directory that does not exist.
pub fn latest_checkpoint(run: &Path) -> Result<Option<PathBuf>> {
    latest_published(&checkpoints_dir(run), "state.json")
}

/// Reads the loop state of a checkpoint.
///
/// # Errors
/// [`Error::Io`], [`Error::Checkpoint`] for invalid JSON.
pub fn load_state(checkpoint: &Path) -> Result<TrainState> {
    let path = checkpoint.join("state.json");
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Checkpoint { path, detail: e.to_string() })
}

/// Loads a model (config and weights) from a checkpoint directory written by
/// [`save_training_checkpoint`] or [`save_model`].
///
/// # Errors
/// [`Error::Backbone`] for missing files, missing tensors or shape mismatches (a checkpoint of
/// another configuration), [`Error::Config`] for an invalid config.
pub fn load_model(checkpoint: &Path, device: &burn::tensor::Device) -> Result<(AvModel, AvModelConfig)> {
    let config: AvModelConfig = load_checkpoint_config(checkpoint, "model")?;
    let model = config.init(device)?;
    let model = load_checkpoint_weights(model, checkpoint, "model")?;
    Ok((model, config))
}

/// Loads checkpoint weights into a model built from `expected`, after checking that the
/// checkpoint was written for the same configuration.
///
/// # Errors
/// [`Error::Checkpoint`] naming the differing configuration, and as [`load_model`].
pub fn load_model_for(
    checkpoint: &Path,
    expected: &AvModelConfig,
    device: &burn::tensor::Device,
) -> Result<AvModel> {
    let found: AvModelConfig = load_checkpoint_config(checkpoint, "model")?;
    let a = burn::config::config_to_json(&found);
    let b = burn::config::config_to_json(expected);
    if a != b {
        return Err(Error::Checkpoint {
            path: checkpoint.to_path_buf(),
            detail: format!("written for another model configuration:\n  checkpoint: {a}\n  expected:   {b}"),
        });
    }
    Ok(load_checkpoint_weights(expected.init(device)?, checkpoint, "model")?)
}

/// Where [`TrainConfig::keep_best_validation`] keeps the best epoch's model in a run directory.
pub fn best_model_dir(run: &Path) -> PathBuf {
    run.join("best")
}

/// Saves `model` as the run's best model (`<run>/best/`): written to `<run>/best.tmp/`; the
/// old best is moved to `<run>/best.old/`, the new one renamed into place, and only then is the
/// old one removed. An interruption leaves a whole best model in `best/` or, in the moment
/// between the two renames, in `best.old/` ([`load_best_model`] reads either). The loop's
/// state is written after this, so it never names a best epoch whose model is not on disk.
///
/// # Errors
/// [`Error::Io`] / [`Error::Backbone`] when a file cannot be written.
pub fn save_best_model(run: &Path, model: &AvModel, config: &AvModelConfig) -> Result<()> {
    let dir = best_model_dir(run);
    let tmp = run.join("best.tmp");
    let old = run.join("best.old");
    for stale in [&tmp, &old] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(|e| io(stale, e))?;
        }
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    save_model(model, config, &tmp)?;
    if dir.exists() {
        std::fs::rename(&dir, &old).map_err(|e| io(&old, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| io(&dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}

/// Loads the run's best model ([`save_best_model`]): `<run>/best/`, or `<run>/best.old/` when
/// an interruption came between its two renames.
///
/// # Errors
/// [`Error::Checkpoint`] when neither holds a model, and as [`load_model_for`].
pub fn load_best_model(
    run: &Path,
    expected: &AvModelConfig,
    device: &burn::tensor::Device,
) -> Result<AvModel> {
    let dir = best_model_dir(run);
    let old = run.join("best.old");
    let found = [&dir, &old].into_iter().find(|d| d.join("model.json").is_file());
    match found {
        Some(d) => load_model_for(d, expected, device),
        None => Err(Error::Checkpoint {
            path: dir,
            detail: "the run's state names a best epoch, but no best model was found".into(),
        }),
    }
}

/// Saves a trained model (weights + config) as `dir/model.bpk` + `dir/model.json`, atomically.
///
/// # Errors
/// [`Error::Backbone`] when a file cannot be written.
pub fn save_model(model: &AvModel, config: &AvModelConfig, dir: &Path) -> Result<()> {
    save_checkpoint(model, config, dir, "model")?;
    Ok(())
}
