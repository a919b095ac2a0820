//! Training one guided variant (U-Net + projection, Adam) with atomic checkpoints and resume.

use std::path::{Path, PathBuf};
use std::time::Instant;

use av_backbones::checkpoint::{load_checkpoint_weights, save_checkpoint};
use av_separation::{
    GuidanceKind, GuidanceProjectionConfig, GuidedSeparator, GuidedSeparatorConfig, SeparationBatch,
    SourceGuidance, forward_loss, guidance_for,
};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

use crate::run::{bar, read_json};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::run::write_json;
use av_align::train::{epoch_order, latest_published, publish_checkpoint};
use av_align::{Error, Result};

use super::SeparationPlan;
use super::data::TrainItem;
use super::guide::tensor_read;

pub(super) fn stack(arrays: &[&Array2<f32>], shape: [usize; 4], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(shape.iter().product());
    for a in arrays {
        values.extend(a.iter().copied());
    }
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A training batch of items (all with the same source count).
pub(super) fn train_batch(items: &[&TrainItem], device: &Device) -> SeparationBatch {
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

/// Backward of `loss`, one step of `optim` at `lr`; returns the updated module and the loss value.
///
/// # Errors
/// [`Error::Diverged`] (at `epoch`, `step`) when the loss is not finite; a tensor read error.
pub(super) fn optimizer_step<M: Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    lr: f64,
    loss: Tensor<1>,
    epoch: usize,
    step: usize,
) -> Result<(M, f32)> {
    let value = tensor_read("loss", loss.clone())?.first().copied().unwrap_or(f32::NAN);
    if !value.is_finite() {
        return Err(Error::Diverged { value, epoch, step });
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    Ok((optim.step(lr, model, grads), value))
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

pub(super) fn save_run_checkpoint(
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

pub(super) fn latest_run_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
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
        let value;
        (model, value) = optimizer_step(model, &mut optim, plan.lr, out.loss, epoch, state.step)?;
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
