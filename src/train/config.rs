//! Training settings and the presets of the paper and of the official `new/` code.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Method, ObjectiveConfig, Stage};

/// Learning-rate schedule over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// The same rate throughout (MSSL `new/`).
    Constant,
    /// Multiplied by `gamma` every `every_epochs` epochs (the paper: x0.1 every 20 epochs).
    Step {
        /// Period in epochs.
        every_epochs: usize,
        /// Factor.
        gamma: f64,
    },
    /// Half a cosine from `lr` in the first epoch down to `lr * final_fraction` in the last
    /// (per epoch: `lr * (f + (1 - f) * (1 + cos(pi * epoch / (epochs - 1))) / 2)`).
    Cosine {
        /// The last epoch's rate as a fraction of `lr`, in `[0, 1]`.
        final_fraction: f64,
    },
}

/// The optimizer of a run.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum OptimizerKind {
    /// SGD with `momentum` and L2 `weight_decay` (MSSL `new/`, the paper).
    #[default]
    Sgd,
    /// AdamW (Loshchilov and Hutter) with decoupled `weight_decay`; `momentum` is unused.
    AdamW {
        /// First-moment decay (0.9).
        beta1: f32,
        /// Second-moment decay (0.999).
        beta2: f32,
        /// Added to the root of the second moment (PyTorch's default 1e-8).
        epsilon: f32,
    },
}

/// Everything a training run needs besides the model and the data. Stored as JSON next to
/// every checkpoint; resuming requires the same settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Method and stage of the objective.
    pub objective: ObjectiveConfig,
    /// Epochs.
    pub epochs: usize,
    /// Batch size (the last incomplete batch of an epoch is dropped).
    pub batch_size: usize,
    /// Learning rate of the heads (and of everything when `backbone_lr_scale` is 1).
    pub lr: f64,
    /// The trunks train at `lr * backbone_lr_scale` (paper 0.1, `new/` 1).
    pub backbone_lr_scale: f64,
    /// SGD momentum (0.9).
    pub momentum: f64,
    /// Weight decay (5e-4).
    pub weight_decay: f64,
    /// Schedule.
    pub schedule: LrSchedule,
    /// Optimizer (SGD when absent from a stored plan).
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Seed of the batch order and the flips.
    pub seed: u64,
    /// Random horizontal flips of the frames (p = 0.5).
    pub hflip: bool,
    /// Write a checkpoint every this many steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
    /// Keep the epoch with the best validation value instead of the last one: after each
    /// epoch whose validation hook ([`crate::train::Trainer::with_validation`]) returns a
    /// value above every earlier one, the model is saved to `<run>/best/` (atomically), and
    /// [`crate::train::Trainer::fit`] returns that model. Needs a validation hook. Off when
    /// absent from a stored plan.
    #[serde(default)]
    pub keep_best_validation: bool,
    /// Data-parallel devices (`"cuda:0"`, `"cuda:1"`, `"flex"`, ...; names as for
    /// `AV_ALIGN_DEVICE`): each batch is split over them and their gradients averaged (see
    /// `docs/scaling.md`). Empty (the default): the whole batch on the training device. Not
    /// stored with checkpoints, so a run may resume on other hardware.
    #[serde(skip)]
    pub devices: Vec<String>,
}

impl TrainConfig {
    /// MSSL `new/` (`main.py:150-195`, README): SGD momentum 0.9, weight decay 5e-4, one
    /// learning rate, 1e-3 in stage 1 and 1e-4 in stage 2, no schedule, 20 epochs, batch 16.
    pub fn mssl_new(stage: Stage) -> Self {
        Self {
            objective: ObjectiveConfig { stage, ..ObjectiveConfig::default() },
            epochs: 20,
            batch_size: 16,
            lr: match stage {
                Stage::One => 1e-3,
                Stage::Two => 1e-4,
            },
            backbone_lr_scale: 1.0,
            momentum: 0.9,
            weight_decay: 5e-4,
            schedule: LrSchedule::Constant,
            optimizer: OptimizerKind::Sgd,
            seed: 0,
            hflip: true,
            checkpoint_every: 0,
            keep_best_validation: false,
            devices: Vec::new(),
        }
    }

    /// The paper (§4.2): SGD momentum 0.9, heads 1e-3, backbones 1e-4, x0.1 every 20 epochs.
    pub fn paper(stage: Stage) -> Self {
        Self {
            lr: 1e-3,
            backbone_lr_scale: 0.1,
            epochs: 40,
            schedule: LrSchedule::Step { every_epochs: 20, gamma: 0.1 },
            ..Self::mssl_new(stage)
        }
    }

    /// The same settings for another method of the ablation.
    pub fn with_method(mut self, method: Method) -> Self {
        self.objective.method = method;
        self
    }

    /// The same settings, data-parallel over `devices` (see [`TrainConfig::devices`]).
    pub fn with_devices(mut self, devices: Vec<String>) -> Self {
        self.devices = devices;
        self
    }

    /// The settings that decide a run's results, for comparing a checkpoint's settings with
    /// the current ones: everything but the devices.
    pub fn without_devices(&self) -> Self {
        Self { devices: Vec::new(), ..self.clone() }
    }

    /// Learning rate of the heads in `epoch` (0-based).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Step { every_epochs, gamma } => {
                self.lr * gamma.powi((epoch / every_epochs.max(1)) as i32)
            }
            LrSchedule::Cosine { final_fraction } => {
                let progress = if self.epochs > 1 {
                    epoch.min(self.epochs - 1) as f64 / (self.epochs - 1) as f64
                } else {
                    0.0
                };
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                self.lr * (final_fraction + (1.0 - final_fraction) * cosine)
            }
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        self.objective.validate()?;
        let ok = self.epochs > 0
            && self.batch_size > 0
            && self.lr > 0.0
            && self.lr.is_finite()
            && self.backbone_lr_scale >= 0.0
            && (0.0..1.0).contains(&self.momentum)
            && self.weight_decay >= 0.0;
        if !ok {
            return Err(Error::Config(format!(
                "epochs and batch_size must be > 0, lr > 0, momentum in [0, 1), weight decay >= 0: {self:?}"
            )));
        }
        if let LrSchedule::Step { every_epochs: 0, .. } = self.schedule {
            return Err(Error::Config("a step schedule needs every_epochs > 0".into()));
        }
        if let LrSchedule::Cosine { final_fraction } = self.schedule
            && !(0.0..=1.0).contains(&final_fraction)
        {
            return Err(Error::Config(format!(
                "a cosine schedule needs final_fraction in [0, 1], not {final_fraction}"
            )));
        }
        if let OptimizerKind::AdamW { beta1, beta2, epsilon } = self.optimizer
            && !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2) && epsilon > 0.0)
        {
            return Err(Error::Config(format!(
                "AdamW needs beta1 and beta2 in [0, 1) and epsilon > 0, not {beta1}, {beta2} and {epsilon}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_schedule_runs_from_lr_down_to_the_final_fraction() {
        let cfg = TrainConfig {
            epochs: 5,
            lr: 0.1,
            schedule: LrSchedule::Cosine { final_fraction: 0.2 },
            ..TrainConfig::mssl_new(Stage::One)
        };
        let lrs: Vec<f64> = (0..5).map(|e| cfg.lr_at(e)).collect();
        assert!((lrs[0] - 0.1).abs() < 1e-12, "{lrs:?}");
        assert!((lrs[2] - 0.06).abs() < 1e-12, "midpoint is the mean of lr and its floor: {lrs:?}");
        assert!((lrs[4] - 0.02).abs() < 1e-12, "{lrs:?}");
        assert!(lrs.windows(2).all(|w| w[1] < w[0]), "{lrs:?}");
        let one_epoch = TrainConfig { epochs: 1, ..cfg };
        assert_eq!(one_epoch.lr_at(0), 0.1);
    }

    #[test]
    fn bad_schedules_and_optimizers_are_config_errors() {
        let base = TrainConfig::mssl_new(Stage::One);
        let cosine = TrainConfig { schedule: LrSchedule::Cosine { final_fraction: 1.5 }, ..base.clone() };
        assert!(matches!(cosine.validate(), Err(Error::Config(_))));
        let adam = TrainConfig {
            optimizer: OptimizerKind::AdamW { beta1: 1.0, beta2: 0.999, epsilon: 1e-8 },
            ..base.clone()
        };
        assert!(matches!(adam.validate(), Err(Error::Config(_))));
        let ok = TrainConfig {
            optimizer: OptimizerKind::AdamW { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
            ..base
        };
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn stored_settings_without_an_optimizer_read_as_sgd() {
        let cfg = TrainConfig {
            optimizer: OptimizerKind::AdamW { beta1: 0.9, beta2: 0.99, epsilon: 1e-8 },
            ..TrainConfig::mssl_new(Stage::Two)
        };
        let mut json: serde_json::Value = serde_json::to_value(&cfg).expect("to json");
        let back: TrainConfig = serde_json::from_value(json.clone()).expect("from json");
        assert_eq!(back, cfg);
        json.as_object_mut().expect("object").remove("optimizer");
        let old: TrainConfig = serde_json::from_value(json).expect("an older plan without the field");
        assert_eq!(old.optimizer, OptimizerKind::Sgd);
    }
}
