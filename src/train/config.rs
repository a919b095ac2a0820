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
    /// Seed of the batch order and the flips.
    pub seed: u64,
    /// Random horizontal flips of the frames (p = 0.5).
    pub hflip: bool,
    /// Write a checkpoint every this many steps (0: only at the end of each epoch).
    pub checkpoint_every: usize,
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
            seed: 0,
            hflip: true,
            checkpoint_every: 0,
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
        Ok(())
    }
}
