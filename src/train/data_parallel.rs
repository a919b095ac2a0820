//! Data-parallel gradients: one replica of the model per device, each on its shard of the batch,
//! gradients brought back to the main device and averaged with the shards' sizes as weights.
//!
//! This is the synchronous data parallelism of PyTorch's DDP and of burn-train's DDP strategy
//! (replicas, per-shard backward, an all-reduce of the gradients, one optimizer step), written
//! with device transfers instead of a collective so that it runs on every Burn backend: in Burn
//! 0.22 only CUDA (through NCCL) implements `all_reduce`; WGPU returns an error and Flex (the
//! CPU backend) has no collective at all. See `docs/scaling.md`.
//!
//! What "equal to single-device training up to the batch split" means here: every loss term of
//! the objective is a mean over the samples of the batch it sees, so the weighted sum of the
//! shards' gradients is the gradient of the same objective evaluated shard by shard. The terms
//! that couple the samples of a batch (BatchNorm statistics, the AVC negatives, the Eq. 7
//! alignment matrix) see one shard at a time, as they do in PyTorch's DDP without SyncBatchNorm.

use std::ops::Range;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::{AvModel, LossValues, ObjectiveConfig};
use crate::train::batch_source::HostBatch;

/// Splits `batch` samples into `shards` contiguous ranges whose sizes differ by at most one
/// (the first `batch % shards` ranges get the extra sample).
///
/// # Errors
/// [`Error::Config`] when a shard would have fewer than `min_shard` samples.
pub fn shard_ranges(batch: usize, shards: usize, min_shard: usize) -> Result<Vec<Range<usize>>> {
    if shards == 0 || batch / shards < min_shard.max(1) {
        return Err(Error::Config(format!(
            "a batch of {batch} cannot be split over {shards} devices with at least {} samples each; \
             use a larger batch or fewer devices",
            min_shard.max(1)
        )));
    }
    let (base, extra) = (batch / shards, batch % shards);
    let mut start = 0;
    Ok((0..shards)
        .map(|k| {
            let len = base + usize::from(k < extra);
            let range = start..start + len;
            start += len;
            range
        })
        .collect())
}

/// The smallest shard the objective accepts: the AVC loss pairs every clip with another clip of
/// the same shard as its negative, so each shard needs two samples.
pub const MIN_SHARD: usize = 2;

/// One data-parallel step's gradients.
pub(crate) struct ShardedGradients {
    /// The weighted sum of the shards' gradients, on the main device.
    pub grads: GradientsParams,
    /// The shards' loss values, weighted by their sizes.
    pub values: LossValues,
}

/// Computes the gradients of `model` (on the main autodiff device) for `batch`, split over `replicas` (autodiff devices; the main device may be one of
/// them, and a device may appear more than once). Distinct devices run in parallel, one thread
/// each; repeated devices run one after another, so a run is deterministic.
///
/// # Errors
/// A shard smaller than [`MIN_SHARD`], and the errors of batch assembly and of the objective.
pub(crate) fn sharded_gradients(
    model: &AvModel,
    batch: &HostBatch,
    objective: &ObjectiveConfig,
    replicas: &[Device],
    main: &Device,
) -> Result<ShardedGradients> {
    let ranges = shard_ranges(batch.len(), replicas.len(), MIN_SHARD)?;
    let total = batch.len() as f32;
    let shard = |model: AvModel, device: &Device, range: Range<usize>| -> Result<ShardResult> {
        let weight = range.len() as f32 / total;
        let replica = model.fork(device);
        let batch = batch.slice(range.clone())?.into_device(device);
        let (loss, values) = replica.objective(&batch, objective)?;
        let grads = GradientsParams::from_grads(loss.mul_scalar(weight).backward(), &replica);
        Ok(ShardResult { grads: grads.to_device(main, &replica), values, weight })
    };
    let distinct = replicas.iter().enumerate().all(|(i, d)| !replicas[..i].contains(d));
    let results: Vec<Result<ShardResult>> = if distinct && replicas.len() > 1 {
        std::thread::scope(|scope| {
            let handles: Vec<_> = replicas
                .iter()
                .zip(ranges.iter().cloned())
                .map(|(device, range)| {
                    let model = model.clone();
                    let shard = &shard;
                    scope.spawn(move || shard(model, device, range))
                })
                .collect();
            handles
                .into_iter()
                // A worker's panic is a bug, not a user error: re-raise it on this thread.
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        })
    } else {
        replicas
            .iter()
            .zip(ranges.iter().cloned())
            .map(|(device, range)| shard(model.clone(), device, range))
            .collect()
    };
    let mut accumulator = GradientsAccumulator::<AvModel>::new();
    let mut values = LossValues::default();
    for result in results {
        let r = result?;
        accumulator.accumulate(model, r.grads);
        values.total += r.weight * r.values.total;
        values.cls_a += r.weight * r.values.cls_a;
        values.cls_v += r.weight * r.values.cls_v;
        values.avc += r.weight * r.values.avc;
        values.align += r.weight * r.values.align;
        values.align_pos_pairs += r.values.align_pos_pairs;
    }
    Ok(ShardedGradients { grads: accumulator.grads(), values })
}

struct ShardResult {
    grads: GradientsParams,
    values: LossValues,
    weight: f32,
}

/// The replicas' autodiff devices for the device names of a [`TrainConfig`]'s `devices`
/// (`"flex"`, `"cuda:1"`, ...; see [`crate::device::DeviceRequest::parse`]).
///
/// [`TrainConfig`]: crate::train::TrainConfig
///
/// # Errors
/// [`Error::Config`] for an unknown or not-compiled-in device.
pub fn replica_devices(names: &[String]) -> Result<Vec<Device>> {
    names
        .iter()
        .map(|name| {
            crate::device::DeviceRequest::parse(name)
                .and_then(|r| r.create())
                .map(|d| d.autodiff())
                .map_err(|e| Error::Config(format!("data-parallel device '{name}': {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_order() {
        let r = shard_ranges(5, 2, 2).expect("5 over 2");
        assert_eq!(r, vec![0..3, 3..5]);
        let r = shard_ranges(16, 4, 2).expect("16 over 4");
        assert_eq!(r, vec![0..4, 4..8, 8..12, 12..16]);
        assert_eq!(shard_ranges(7, 1, 2).expect("one shard"), vec![0..7]);
    }

    #[test]
    fn too_small_shards_are_a_config_error() {
        assert!(matches!(shard_ranges(3, 2, 2), Err(Error::Config(_))));
        assert!(matches!(shard_ranges(4, 0, 2), Err(Error::Config(_))));
    }
}
