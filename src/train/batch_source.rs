//! Batches on the host: where the trainer gets its samples from, and the plain arrays a batch
//! is made of before it goes to a device.
//!
//! A [`BatchSource`] builds a [`HostBatch`] (normalised CHW frames, log-mels and labels as
//! plain `f32` vectors) from a list of sample indices. Host batches are `Send`, so a background
//! thread can build the next ones while the device runs the current step (see
//! [`crate::train::Prefetcher`]); [`HostBatch::to_device`] makes the [`Batch`] of tensors.

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::model::Batch;
use crate::preprocess::frame_chw;

/// Where training batches come from: a dataset in memory ([`crate::train::InMemoryDataset`]),
/// or one decoded from disk batch by batch ([`crate::train::StreamingFlickr`]).
///
/// `Sync` because the prefetcher calls [`BatchSource::host_batch`] from a background thread.
pub trait BatchSource: Sync {
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of classes of the soft labels.
    fn num_classes(&self) -> usize;
    /// Builds the batch of samples `indices` (in that order), mirroring frame `j` left-right
    /// when `flips[j]` is true (missing entries mean no flip).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty selection or an index out of range; decoding errors for
    /// sources that read from disk.
    fn host_batch(&self, indices: &[usize], flips: &[bool]) -> Result<HostBatch>;
}

/// One audio-visual training pair.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The frame (every sample of a dataset has the same size; 256x256 in the paper).
    pub frame: RgbImage,
    /// Its log-mel `(T, F)` (251 x 64 for 5 s in the paper).
    pub logmel: Array2<f32>,
    /// Soft audio labels (C values in `[0, 1]`).
    pub labels_a: Vec<f32>,
    /// Soft visual labels (C values in `[0, 1]`).
    pub labels_v: Vec<f32>,
}

/// A batch as plain arrays, in the layouts of [`Batch`]: frames `[N, 3, H, W]` (ImageNet
/// normalised), log-mels `[N, 1, T, F]`, soft labels `[N, C]`, all row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// Frames, `N * 3 * H * W` values.
    pub frames: Vec<f32>,
    /// Log-mels, `N * T * F` values.
    pub logmels: Vec<f32>,
    /// Audio labels, `N * C` values.
    pub labels_a: Vec<f32>,
    /// Visual labels, `N * C` values.
    pub labels_v: Vec<f32>,
    /// Number of samples `N`.
    pub len: usize,
    /// Frame `(H, W)`.
    pub frame_hw: (usize, usize),
    /// Log-mel `(T, F)`.
    pub logmel_tf: (usize, usize),
    /// Number of classes `C`.
    pub num_classes: usize,
}

impl HostBatch {
    /// Assembles `samples` (which must share frame size, log-mel shape and class count, as the
    /// samples of a checked dataset do), flipping frame `j` when `flips[j]` is true.
    ///
    /// # Errors
    /// [`Error::Config`] for no samples or samples of different shapes.
    pub fn from_samples(samples: &[&Sample], flips: &[bool]) -> Result<Self> {
        let first = samples.first().ok_or_else(|| Error::Config("empty batch".into()))?;
        let (w, h) = first.frame.dimensions();
        let (t, f) = first.logmel.dim();
        let c = first.labels_a.len();
        let n = samples.len();
        let mut batch = Self {
            frames: Vec::with_capacity(n * 3 * (w * h) as usize),
            logmels: Vec::with_capacity(n * t * f),
            labels_a: Vec::with_capacity(n * c),
            labels_v: Vec::with_capacity(n * c),
            len: n,
            frame_hw: (h as usize, w as usize),
            logmel_tf: (t, f),
            num_classes: c,
        };
        for (j, s) in samples.iter().enumerate() {
            if s.frame.dimensions() != (w, h)
                || s.logmel.dim() != (t, f)
                || s.labels_a.len() != c
                || s.labels_v.len() != c
            {
                return Err(Error::Config(format!(
                    "batch sample {j}: frame {:?}, log-mel {:?}, {} classes differ from sample 0 \
                     (frame {:?}, log-mel {:?}, {c} classes)",
                    s.frame.dimensions(),
                    s.logmel.dim(),
                    s.labels_a.len(),
                    (w, h),
                    (t, f)
                )));
            }
            batch.frames.extend(frame_chw(&s.frame, flips.get(j).copied().unwrap_or(false)));
            batch.logmels.extend(s.logmel.iter().copied());
            batch.labels_a.extend(&s.labels_a);
            batch.labels_v.extend(&s.labels_v);
        }
        Ok(batch)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch is empty (never true for a built batch).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The samples `range` of this batch (a data-parallel shard).
    ///
    /// # Errors
    /// [`Error::Config`] for an empty range or one past the end.
    pub fn slice(&self, range: Range<usize>) -> Result<Self> {
        if range.is_empty() || range.end > self.len {
            return Err(Error::Config(format!("shard {range:?} of a batch of {}", self.len)));
        }
        let (h, w) = self.frame_hw;
        let (t, f) = self.logmel_tf;
        let c = self.num_classes;
        let part = |v: &[f32], per: usize| v[range.start * per..range.end * per].to_vec();
        Ok(Self {
            frames: part(&self.frames, 3 * h * w),
            logmels: part(&self.logmels, t * f),
            labels_a: part(&self.labels_a, c),
            labels_v: part(&self.labels_v, c),
            len: range.len(),
            ..*self
        })
    }

    /// The batch as tensors on `device`.
    pub fn to_device(&self, device: &Device) -> Batch {
        self.clone().into_device(device)
    }

    /// The batch as tensors on `device`, without copying the host arrays first.
    pub fn into_device(self, device: &Device) -> Batch {
        let (n, (h, w), (t, f), c) = (self.len, self.frame_hw, self.logmel_tf, self.num_classes);
        Batch {
            frames: Tensor::from_data(TensorData::new(self.frames, [n, 3, h, w]), device),
            logmels: Tensor::from_data(TensorData::new(self.logmels, [n, 1, t, f]), device),
            labels_a: Tensor::from_data(TensorData::new(self.labels_a, [n, c]), device),
            labels_v: Tensor::from_data(TensorData::new(self.labels_v, [n, c]), device),
        }
    }
}
