//! One mix-and-separate training step: forward, loss, backward, optimizer step (SoP
//! `main.py:366-451`; docs/reference_implementation.md §8.6). The loop, schedules, checkpoints and the guidance networks
//! (visual net, localization-guided pooling) belong to the caller, which can run
//! [`forward_loss`] on a graph that also contains its guidance network and step both.

use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig, decay::WeightDecayConfig};
use burn::tensor::Tensor;

use crate::batch::SeparationBatch;
use crate::error::{Result, SeparationError};
use crate::loss::separation_loss;
use crate::model::{Guidance, MaskPrediction, SeparationNet};

/// SoP's learning rate of the sound net and the synthesizer (`--lr_sound 1e-3`,
/// `--lr_synthesizer 1e-3`); the frame net's trunk uses 1e-4 (`--lr_frame`).
pub const SOP_LR: f64 = 1e-3;

/// SoP's optimiser: SGD, momentum 0.9 (`--beta1`), weight decay 1e-4, no dampening, no
/// Nesterov (PyTorch `torch.optim.SGD` defaults; Burn's momentum defaults to dampening 0.1,
/// overridden here).
pub fn sop_sgd() -> SgdConfig {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(false),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(1e-4)))
}

/// What a forward pass with loss returns.
#[derive(Debug, Clone)]
pub struct ForwardOutput {
    /// The scalar loss, `[1]` (mean over sources of the weighted per-pixel loss).
    pub loss: Tensor<1>,
    /// One predicted mask per source, `[B, 1, F, T]`.
    pub predictions: Vec<MaskPrediction>,
}

/// Forward pass and SoP loss of a batch; `guidance[n]` guides source `n`. Run it on an autodiff
/// device to train (BatchNorm uses batch statistics only there).
///
/// # Shapes
/// `batch`: `B` mixtures of `S` sources; `guidance`: `S` entries of `[B, K]` or `[B, h, w]`.
///
/// # Errors
/// [`SeparationError::Shape`] when the guidance does not match the batch.
pub fn forward_loss(
    net: &SeparationNet,
    batch: &SeparationBatch,
    guidance: &[Guidance],
) -> Result<ForwardOutput> {
    if guidance.len() != batch.num_sources() {
        return Err(SeparationError::Shape {
            op: "forward_loss",
            expected: format!("one guidance per source ({})", batch.num_sources()),
            actual: format!("{} guidances", guidance.len()),
        });
    }
    let predictions = net.forward(batch.log_magnitude.clone(), guidance)?;
    let loss = separation_loss(&predictions, batch, net.mask)?;
    Ok(ForwardOutput { loss, predictions })
}

/// One optimisation step of the separation network alone (guidance given, not trained):
/// forward, loss, backward, `optim.step(lr)`. Returns the updated network and the loss before
/// the step.
///
/// # Errors
/// [`SeparationError::InvalidConfig`] when the batch is not on an autodiff device or no
/// guidance is a [`Guidance::Vector`] (then nothing is trainable); errors of [`forward_loss`].
pub fn train_step(
    net: SeparationNet,
    optim: &mut ModuleOptimizer,
    lr: f64,
    batch: &SeparationBatch,
    guidance: &[Guidance],
) -> Result<(SeparationNet, f32)> {
    if !batch.log_magnitude.device().is_autodiff() {
        return Err(SeparationError::InvalidConfig(
            "train_step needs tensors on an autodiff device (e.g. Device::flex().autodiff())".into(),
        ));
    }
    if !guidance.iter().any(|g| matches!(g, Guidance::Vector(_))) {
        return Err(SeparationError::InvalidConfig(
            "train_step: mask guidance has no trainable parameters; use forward_loss to score it".into(),
        ));
    }
    let out = forward_loss(&net, batch, guidance)?;
    let value = out
        .loss
        .clone()
        .try_into_scalar::<f32>()
        .map_err(|e| SeparationError::TensorRead { op: "train_step", detail: format!("{e:?}") })?;
    let grads = GradientsParams::from_grads(out.loss.backward(), &net);
    Ok((optim.step(lr, net, grads), value))
}
