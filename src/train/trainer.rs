//! The training loop: SGD with momentum and weight decay, progress events, atomic checkpoints,
//! exact resume, deterministic batch order and flips under a seed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use av_data::rng::SplitMix64;
use burn::module::{Module, ParamGroup};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::lr_scheduler::constant::ConstantLr;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, GradientsParams, SgdConfig};
use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::{AvModel, AvModelConfig, LossValues};
use crate::train::batch_source::BatchSource;
use crate::train::checkpoint::{
    BestEpoch, EpochLog, TrainState, latest_checkpoint, load_best_model, load_model_for, load_state,
    save_best_model, save_training_checkpoint,
};
use crate::train::config::{OptimizerKind, TrainConfig};
use crate::train::data_parallel::{MIN_SHARD, replica_devices, shard_ranges, sharded_gradients};
use crate::train::prefetch::{BatchPlan, Prefetcher};

/// What the training loop reports as it goes, to a [`ProgressHook`] (the library itself prints
/// nothing; the experiments draw a progress bar from these).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainEvent {
    /// The loop starts: `total_steps` steps in all, `done_steps` of them already done (resume).
    Started {
        /// Steps of the whole run.
        total_steps: usize,
        /// Steps done before this process started.
        done_steps: usize,
    },
    /// One optimisation step finished.
    Step {
        /// Epoch (0-based).
        epoch: usize,
        /// Epochs of the run.
        epochs: usize,
        /// Steps done so far, this one included.
        global_step: usize,
        /// The loss terms of this step.
        values: LossValues,
    },
    /// An epoch finished (validation included) and was checkpointed.
    EpochEnd(EpochLog),
    /// The loop ended (finished or stopped by [`Trainer::stop_after_steps`]).
    Finished,
}

/// A progress callback: called by [`Trainer::fit`] with every [`TrainEvent`].
pub type ProgressHook<'a> = Box<dyn FnMut(&TrainEvent) + 'a>;

/// A validation hook: called with the model (in evaluation mode) after every epoch; its value
/// is logged. It must use a validation split, never the test set.
pub type ValidationHook<'a> = Box<dyn FnMut(&AvModel, usize) -> Result<f64> + 'a>;

/// The result of [`Trainer::fit`].
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model in evaluation mode, on the plain (non-autodiff) device: the last
    /// epoch's, or the best validated epoch's with [`TrainConfig::keep_best_validation`].
    pub model: AvModel,
    /// The epoch `model` comes from and its validation value, with
    /// [`TrainConfig::keep_best_validation`] (`None` otherwise, or when stopped before any
    /// epoch ended).
    pub best: Option<BestEpoch>,
    /// Per-epoch history (including epochs done before a resume).
    pub history: Vec<EpochLog>,
    /// The step a resumed run started from.
    pub resumed_from_step: Option<usize>,
    /// Whether every epoch ran (false when stopped by [`Trainer::stop_after_steps`]).
    pub finished: bool,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// Trains an [`AvModel`] on a [`BatchSource`] (e.g. an [`crate::train::InMemoryDataset`]),
/// building the next batches in a background thread while a step runs.
pub struct Trainer<'a> {
    config: TrainConfig,
    run_dir: PathBuf,
    progress: Option<ProgressHook<'a>>,
    validation: Option<ValidationHook<'a>>,
    stop_after: Option<usize>,
    resume: bool,
    prefetch: Option<usize>,
}

/// Host batches the trainer keeps ready by default on an accelerator (see
/// [`Trainer::with_prefetch`]).
pub const DEFAULT_PREFETCH: usize = 2;

/// The prefetch depth used when none was set: [`DEFAULT_PREFETCH`] on an accelerator, 0 (build
/// batches between steps) when the step itself runs on the host CPU, where a decoding worker
/// takes cores from the parallel step and slows it by more than the decoding costs
/// (docs/performance.md, "The data pipeline").
pub fn default_prefetch(device: &Device) -> usize {
    if crate::device::is_host_cpu(device) { 0 } else { DEFAULT_PREFETCH }
}

impl<'a> Trainer<'a> {
    /// A trainer writing checkpoints under `run_dir/checkpoints`.
    ///
    /// # Errors
    /// [`Error::Config`] when the settings are invalid.
    pub fn new(config: TrainConfig, run_dir: impl AsRef<Path>) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            run_dir: run_dir.as_ref().to_path_buf(),
            progress: None,
            validation: None,
            stop_after: None,
            resume: true,
            prefetch: None,
        })
    }

    /// Reports progress to `hook` (default: nothing is reported).
    pub fn with_progress(mut self, hook: ProgressHook<'a>) -> Self {
        self.progress = Some(hook);
        self
    }

    /// Resume from the run directory's latest checkpoint when there is one (default true).
    pub fn with_resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }

    /// How many batches a background thread builds ahead of the step that runs; 0 builds each
    /// batch on the training thread. Default: [`default_prefetch`] of the training device. The
    /// results do not depend on it: the batches and their order are the same.
    pub fn with_prefetch(mut self, depth: usize) -> Self {
        self.prefetch = Some(depth);
        self
    }

    /// Adds a validation hook.
    pub fn with_validation(mut self, hook: ValidationHook<'a>) -> Self {
        self.validation = Some(hook);
        self
    }

    /// Stops (after checkpointing) once this many global steps are done, as an interruption
    /// would; a later `fit` resumes from there.
    pub fn stop_after_steps(mut self, steps: usize) -> Self {
        self.stop_after = Some(steps);
        self
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Trains `model` (built from `model_config`) on `data`, on `device` with autodiff.
    /// Resumes from the run's latest checkpoint if one exists (and `with_resume` is on); the
    /// checkpoint must have been written with the same settings and model configuration.
    ///
    /// # Errors
    /// [`Error::Config`] for a model/data mismatch or a batch larger than the data,
    /// [`Error::Checkpoint`] for a checkpoint of other settings, [`Error::Diverged`] when the
    /// loss is NaN/inf, and I/O errors.
    pub fn fit(
        &mut self,
        model: AvModel,
        model_config: &AvModelConfig,
        data: &dyn BatchSource,
        device: &Device,
    ) -> Result<TrainOutcome> {
        let cfg = self.config.clone();
        if data.num_classes() != model.num_classes() {
            return Err(Error::Config(format!(
                "the data has {} classes, the model {}",
                data.num_classes(),
                model.num_classes()
            )));
        }
        let steps_per_epoch = data.len() / cfg.batch_size;
        if steps_per_epoch == 0 {
            return Err(Error::Config(format!(
                "batch size {} is larger than the dataset ({} samples)",
                cfg.batch_size,
                data.len()
            )));
        }
        if cfg.keep_best_validation && self.validation.is_none() {
            return Err(Error::Config(
                "keep_best_validation needs a validation hook (Trainer::with_validation)".into(),
            ));
        }
        let ad = device.clone().autodiff();
        let replicas = replica_devices(&cfg.devices)?;
        if !replicas.is_empty() {
            shard_ranges(cfg.batch_size, replicas.len(), MIN_SHARD)?;
        }
        let mut optim = match cfg.optimizer {
            OptimizerKind::Sgd => SgdConfig::new()
                .with_momentum(Some(MomentumConfig::new().with_momentum(cfg.momentum).with_dampening(0.0)))
                .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
                .init(),
            OptimizerKind::AdamW { beta1, beta2, epsilon } => AdamWConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(epsilon)
                .with_weight_decay(cfg.weight_decay as f32)
                .init(),
        };
        let mut state = TrainState {
            version: 1,
            config: cfg.clone(),
            global_step: 0,
            epoch: 0,
            step_in_epoch: 0,
            epoch_sum: LossValues::default(),
            history: Vec::new(),
            best: None,
        };
        let mut model = model;
        let mut resumed_from_step = None;
        if self.resume
            && let Some(ckpt) = latest_checkpoint(&self.run_dir)?
        {
            let saved = load_state(&ckpt)?;
            if saved.config.without_devices() != cfg.without_devices() {
                return Err(Error::Checkpoint {
                    path: ckpt,
                    detail: format!(
                        "written with other training settings; use another run directory or the same settings.\n  checkpoint: {:?}\n  now:        {:?}",
                        saved.config, cfg
                    ),
                });
            }
            model = load_model_for(&ckpt, model_config, device)?;
            optim = optim.load(ckpt.join("optimizer.bpk")).map_err(|e| Error::Checkpoint {
                path: ckpt.clone(),
                detail: format!("optimizer state: {e:?}"),
            })?;
            resumed_from_step = Some(saved.global_step);
            state = saved;
        }
        let prefetch = self.prefetch.unwrap_or_else(|| default_prefetch(device));
        // The prefetch worker of each epoch lives in this scope, borrowing `data`.
        std::thread::scope(|scope| {
            let mut model = model.fork(&ad).train();
            let total_steps = cfg.epochs * steps_per_epoch;
            self.report(&TrainEvent::Started { total_steps, done_steps: state.global_step });
            let mut finished = true;
            'epochs: while state.epoch < cfg.epochs {
                let epoch = state.epoch;
                let order = epoch_order(cfg.seed, epoch, data.len());
                let lr = cfg.lr_at(epoch);
                let started = Instant::now();
                let first_step = state.step_in_epoch;
                let plan = (first_step..steps_per_epoch)
                    .map(|s| {
                        let indices = order[s * cfg.batch_size..(s + 1) * cfg.batch_size].to_vec();
                        let flips = batch_flips(cfg.seed, epoch, s, indices.len(), cfg.hflip);
                        BatchPlan::new(indices, flips)
                    })
                    .collect();
                let mut batches = Prefetcher::spawn(scope, data, plan, prefetch);
                while state.step_in_epoch < steps_per_epoch {
                    if self.stop_after.is_some_and(|s| state.global_step >= s) {
                        finished = false;
                        break 'epochs;
                    }
                    let host = batches.next().ok_or_else(|| {
                        Error::Config("the batch prefetcher stopped before the epoch ended".into())
                    })??;
                    let (grads, values) = if replicas.is_empty() {
                        let batch = host.into_device(&ad);
                        let (loss, values) = model.objective(&batch, &cfg.objective)?;
                        (GradientsParams::from_grads(loss.backward(), &model), values)
                    } else {
                        let sharded = sharded_gradients(&model, &host, &cfg.objective, &replicas, &ad)?;
                        (sharded.grads, sharded.values)
                    };
                    if !values.total.is_finite() {
                        return Err(Error::Diverged { value: values.total, epoch, step: state.global_step });
                    }
                    model = if cfg.backbone_lr_scale == 1.0 {
                        optim.step(lr, model, grads)
                    } else {
                        let backbone = lr * cfg.backbone_lr_scale;
                        let lrs = ModuleLrScheduler::new(ConstantLr::from(lr))
                            .with_group(
                                // The ResNet, or nothing: the pretrained trunk is frozen and
                                // its neck is a head.
                                ParamGroup::ids_from_module(model.visual.clone()),
                                ConstantLr::from(backbone),
                            )
                            .with_group(
                                ParamGroup::ids_from_module(model.audio.clone()),
                                ConstantLr::from(backbone),
                            )
                            .step();
                        optim.step(lrs, model, grads)
                    };
                    add(&mut state.epoch_sum, &values);
                    state.step_in_epoch += 1;
                    state.global_step += 1;
                    self.report(&TrainEvent::Step {
                        epoch,
                        epochs: cfg.epochs,
                        global_step: state.global_step,
                        values,
                    });
                    if cfg.checkpoint_every > 0
                        && state.global_step.is_multiple_of(cfg.checkpoint_every)
                        && state.step_in_epoch < steps_per_epoch
                    {
                        save_training_checkpoint(
                            &self.run_dir,
                            &model.valid(),
                            model_config,
                            &optim,
                            &state,
                        )?;
                    }
                }
                let seconds = started.elapsed().as_secs_f64();
                let done = (steps_per_epoch - first_step) * cfg.batch_size;
                let mut log = EpochLog {
                    epoch,
                    loss: mean(&state.epoch_sum, steps_per_epoch),
                    lr,
                    seconds,
                    samples_per_second: if seconds > 0.0 { done as f64 / seconds } else { 0.0 },
                    validation: None,
                };
                if let Some(hook) = self.validation.as_mut() {
                    let value = hook(&model.valid(), epoch)?;
                    log.validation = Some(value);
                    // NaN never counts as best.
                    if cfg.keep_best_validation
                        && value.is_finite()
                        && state.best.is_none_or(|b| value > b.validation)
                    {
                        save_best_model(&self.run_dir, &model.valid(), model_config)?;
                        state.best = Some(BestEpoch { epoch, validation: value });
                    }
                }
                state.history.push(log);
                self.report(&TrainEvent::EpochEnd(log));
                state.epoch += 1;
                state.step_in_epoch = 0;
                state.epoch_sum = LossValues::default();
                save_training_checkpoint(&self.run_dir, &model.valid(), model_config, &optim, &state)?;
            }
            if !finished {
                save_training_checkpoint(&self.run_dir, &model.valid(), model_config, &optim, &state)?;
            }
            self.report(&TrainEvent::Finished);
            // `state.best` is set only with keep_best_validation (a resumed run has the same
            // settings).
            let model = match state.best {
                Some(_) => load_best_model(&self.run_dir, model_config, device)?,
                None => model.valid(),
            };
            Ok(TrainOutcome {
                model,
                best: state.best,
                history: state.history,
                resumed_from_step,
                finished,
                run_dir: self.run_dir.clone(),
            })
        })
    }

    fn report(&mut self, event: &TrainEvent) {
        if let Some(hook) = self.progress.as_mut() {
            hook(event);
        }
    }
}

/// The sample order of an epoch: a seeded permutation.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::from_words(&[seed, 0x5eed_0f0e, epoch as u64]).shuffle(&mut order);
    order
}

fn batch_flips(seed: u64, epoch: usize, step: usize, n: usize, enabled: bool) -> Vec<bool> {
    let mut rng = SplitMix64::from_words(&[seed, 0xf11b, epoch as u64, step as u64]);
    (0..n).map(|_| enabled && rng.chance(0.5)).collect()
}

fn add(sum: &mut LossValues, v: &LossValues) {
    sum.total += v.total;
    sum.cls_a += v.cls_a;
    sum.cls_v += v.cls_v;
    sum.avc += v.avc;
    sum.align += v.align;
    sum.align_pos_pairs += v.align_pos_pairs;
    sum.position += v.position;
}

fn mean(sum: &LossValues, n: usize) -> LossValues {
    let k = n.max(1) as f32;
    LossValues {
        total: sum.total / k,
        cls_a: sum.cls_a / k,
        cls_v: sum.cls_v / k,
        avc: sum.avc / k,
        align: sum.align / k,
        align_pos_pairs: sum.align_pos_pairs / n.max(1),
        position: sum.position / k,
    }
}
