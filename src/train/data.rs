//! Training samples in memory and their assembly into batches (MSSL `new/dataloader.py`).

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::model::Batch;
use crate::train::batch_source::{BatchSource, HostBatch};

/// ImageNet channel means (`new/dataloader.py:47`).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

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

/// An RGB frame as ImageNet-normalised CHW floats, optionally mirrored left-right
/// (`img[:, ::-1]`, the training augmentation of `new/dataloader.py:45-46`).
pub fn frame_chw(img: &RgbImage, flip: bool) -> Vec<f32> {
    let (w, h) = img.dimensions();
    let mut out = vec![0.0; 3 * (w * h) as usize];
    let plane = (w * h) as usize;
    for y in 0..h {
        for x in 0..w {
            let sx = if flip { w - 1 - x } else { x };
            let p = img.get_pixel(sx, y).0;
            let o = (y * w + x) as usize;
            for ch in 0..3 {
                out[ch * plane + o] = (p[ch] as f32 / 255.0 - IMAGENET_MEAN[ch]) / IMAGENET_STD[ch];
            }
        }
    }
    out
}

/// One frame as a `[1, 3, H, W]` tensor (ImageNet-normalised).
pub fn frame_tensor(img: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = img.dimensions();
    Tensor::from_data(TensorData::new(frame_chw(img, false), [1, 3, h as usize, w as usize]), device)
}

/// One log-mel `(T, F)` as a `[1, 1, T, F]` tensor.
///
/// # Errors
/// [`Error::NonFinite`] for NaN/inf values.
pub fn logmel_tensor(logmel: &Array2<f32>, device: &Device) -> Result<Tensor<4>> {
    if logmel.iter().any(|x| !x.is_finite()) {
        return Err(Error::NonFinite { what: "log-mel".into() });
    }
    let (t, f) = logmel.dim();
    Ok(Tensor::from_data(TensorData::new(logmel.iter().copied().collect::<Vec<_>>(), [1, 1, t, f]), device))
}
