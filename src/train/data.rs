//! Training samples in memory and their assembly into batches (MSSL `new/dataloader.py`).

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::Batch;
use crate::train::batch_source::{BatchSource, HostBatch, Sample};

/// A dataset held in memory; every sample is checked when it is built.
#[derive(Debug, Clone)]
pub struct InMemoryDataset {
    samples: Vec<Sample>,
    num_classes: usize,
    frame_size: (u32, u32),
    logmel_shape: (usize, usize),
}

impl InMemoryDataset {
    /// Checks that every sample has the same frame size, log-mel shape and label count, labels
    /// in `[0, 1]` and finite log-mels.
    ///
    /// # Errors
    /// [`Error::Config`] for an empty list or naming the first sample that differs.
    pub fn new(samples: Vec<Sample>) -> Result<Self> {
        let first = samples.first().ok_or_else(|| Error::Config("the dataset has no samples".into()))?;
        let num_classes = first.labels_a.len();
        let frame_size = first.frame.dimensions();
        let logmel_shape = first.logmel.dim();
        if num_classes == 0
            || frame_size.0 < 16
            || frame_size.1 < 16
            || logmel_shape.0 < 16
            || logmel_shape.1 < 16
        {
            return Err(Error::Config(format!(
                "sample 0: need >= 1 class, frames and log-mels of at least 16x16 (got {num_classes} classes, frame {frame_size:?}, log-mel {logmel_shape:?})"
            )));
        }
        for (i, s) in samples.iter().enumerate() {
            let bad = |m: String| Err(Error::Config(format!("sample {i}: {m}")));
            if s.frame.dimensions() != frame_size {
                return bad(format!("frame {:?} differs from {frame_size:?}", s.frame.dimensions()));
            }
            if s.logmel.dim() != logmel_shape {
                return bad(format!("log-mel {:?} differs from {logmel_shape:?}", s.logmel.dim()));
            }
            if s.labels_a.len() != num_classes || s.labels_v.len() != num_classes {
                return bad(format!(
                    "{} audio and {} visual labels, expected {num_classes}",
                    s.labels_a.len(),
                    s.labels_v.len()
                ));
            }
            if s.labels_a.iter().chain(&s.labels_v).any(|p| !(0.0..=1.0).contains(p)) {
                return bad("labels must lie in [0, 1]".into());
            }
            if s.logmel.iter().any(|x| !x.is_finite()) {
                return Err(Error::NonFinite { what: format!("log-mel of sample {i}") });
            }
        }
        Ok(Self { samples, num_classes, frame_size, logmel_shape })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples (never true for a built dataset).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Frame size `(W, H)` in pixels, the same for every sample.
    pub fn frame_size(&self) -> (u32, u32) {
        self.frame_size
    }

    /// Log-mel shape `(T, F)`, the same for every sample.
    pub fn logmel_shape(&self) -> (usize, usize) {
        self.logmel_shape
    }

    /// The samples.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Builds the batch of samples `indices`, flipping the frames where `flips` says so.
    ///
    /// # Errors
    /// [`Error::Config`] for an index out of range or an empty selection.
    pub fn batch(&self, indices: &[usize], flips: &[bool], device: &Device) -> Result<Batch> {
        Ok(self.host_batch(indices, flips)?.into_device(device))
    }
}

impl BatchSource for InMemoryDataset {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn host_batch(&self, indices: &[usize], flips: &[bool]) -> Result<HostBatch> {
        if indices.is_empty() {
            return Err(Error::Config("empty batch".into()));
        }
        let samples = indices
            .iter()
            .map(|&i| {
                self.samples.get(i).ok_or_else(|| {
                    Error::Config(format!("sample index {i} out of range ({} samples)", self.samples.len()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        HostBatch::from_samples(&samples, flips)
    }
}
