//! Background prefetch: a worker thread builds the next host batches (decoding, log-mels,
//! normalisation, flips) while the device runs the current step.
//!
//! ```
//! use av_align::train::{BatchPlan, BatchSource, with_prefetch};
//! # fn demo(data: &dyn BatchSource) -> av_align::Result<()> {
//! let plan: Vec<BatchPlan> =
//!     (0..data.len() / 4).map(|s| BatchPlan::new((4 * s..4 * s + 4).collect(), vec![false; 4])).collect();
//! with_prefetch(data, plan, 2, |batches| -> av_align::Result<()> {
//!     for batch in batches {
//!         let batch = batch?; // a HostBatch; `batch.into_device(&device)` makes tensors
//!         assert_eq!(batch.len(), 4);
//!     }
//!     Ok(())
//! })
//! # }
//! ```

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::Scope;

use crate::error::Result;
use crate::train::batch_source::{BatchSource, HostBatch};

/// The samples of one batch, in order, and which frames to mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Sample indices into the source.
    pub indices: Vec<usize>,
    /// `flips[j]`: mirror frame `j` left-right.
    pub flips: Vec<bool>,
}

impl BatchPlan {
    /// A plan for the samples `indices` with their `flips`.
    pub fn new(indices: Vec<usize>, flips: Vec<bool>) -> Self {
        Self { indices, flips }
    }
}

/// The host batches of a plan, in order: built by a background thread up to `depth` batches
/// ahead of the consumer ([`Prefetcher::spawn`]), or on demand on the calling thread
/// ([`Prefetcher::inline`], what `depth = 0` means).
///
/// The first error ends the sequence (it is yielded, then `next` returns `None`). Dropping the
/// prefetcher stops the worker after the batch it is building.
pub struct Prefetcher<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Inline { source: &'a dyn BatchSource, plan: std::vec::IntoIter<BatchPlan>, failed: bool },
    Background { rx: Receiver<Result<HostBatch>> },
}

impl<'a> Prefetcher<'a> {
    /// Builds each batch when it is asked for, on the calling thread.
    pub fn inline(source: &'a dyn BatchSource, plan: Vec<BatchPlan>) -> Self {
        Self { inner: Inner::Inline { source, plan: plan.into_iter(), failed: false } }
    }

    /// Starts a worker thread in `scope` that builds the batches of `plan` and keeps up to
    /// `depth` of them ready (`depth = 0` builds inline instead). Memory: at most `depth + 1`
    /// host batches besides the one being consumed.
    pub fn spawn<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        source: &'env dyn BatchSource,
        plan: Vec<BatchPlan>,
        depth: usize,
    ) -> Self
    where
        'env: 'a,
    {
        if depth == 0 {
            return Self::inline(source, plan);
        }
        let (tx, rx) = sync_channel(depth);
        scope.spawn(move || {
            for p in plan {
                let batch = source.host_batch(&p.indices, &p.flips);
                let failed = batch.is_err();
                // A send error means the consumer is gone: stop.
                if tx.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        Self { inner: Inner::Background { rx } }
    }
}

impl Iterator for Prefetcher<'_> {
    type Item = Result<HostBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Inline { source, plan, failed } => {
                if *failed {
                    return None;
                }
                let p = plan.next()?;
                let batch = source.host_batch(&p.indices, &p.flips);
                *failed = batch.is_err();
                Some(batch)
            }
            // The worker ends (closing the channel) after the last batch or the first error;
            // if it panicked, the scope re-raises the panic when it joins.
            Inner::Background { rx } => rx.recv().ok(),
        }
    }
}

/// Runs `consume` on the batches of `plan`, built by a background worker up to `depth` ahead
/// (`depth = 0`: inline), and joins the worker before returning.
pub fn with_prefetch<R>(
    source: &dyn BatchSource,
    plan: Vec<BatchPlan>,
    depth: usize,
    consume: impl FnOnce(&mut Prefetcher<'_>) -> R,
) -> R {
    std::thread::scope(|scope| {
        let mut batches = Prefetcher::spawn(scope, source, plan, depth);
        consume(&mut batches)
    })
}
