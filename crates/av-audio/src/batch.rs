//! Batch feature extraction over many clips, in parallel (rayon), for data preparation.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};
use rayon::prelude::*;

use crate::clip::{ClipPolicy, fit_clip};
use crate::decode::load_mono;
use crate::error::{AudioError, Result};
use crate::logmel::LogMelExtractor;
use crate::resample::resample;

/// Log-mels of many equal-length clips, stacked into `(N, T, n_mels)` (the paper's
/// `Spec.h5` layout). Clips are processed in parallel on rayon's pool.
///
/// # Errors
/// The first failing clip's error; [`AudioError::Shape`] if the clips differ in length.
pub fn logmel_batch(extractor: &LogMelExtractor, clips: &[&[f32]]) -> Result<Array3<f32>> {
    let len = clips.first().map_or(0, |c| c.len());
    if let Some((i, c)) = clips.iter().enumerate().find(|(_, c)| c.len() != len) {
        return Err(AudioError::Shape {
            op: "logmel_batch",
            expected: format!("every clip of {len} samples"),
            actual: format!("clip {i} has {} samples", c.len()),
        });
    }
    let n_frames = extractor.n_frames(len).ok_or(AudioError::TooShort {
        op: "logmel_batch",
        len,
        min: extractor.config().stft.min_len(),
    })?;
    let n_mels = extractor.config().mel.n_mels;
    let mut out = Array3::<f32>::zeros((clips.len(), n_frames, n_mels));
    let flat =
        out.as_slice_mut().ok_or_else(|| AudioError::InvalidConfig("non-contiguous batch buffer".into()))?;
    flat.par_chunks_mut(n_frames * n_mels)
        .zip(clips.par_iter())
        .try_for_each(|(dst, clip)| extractor.compute_into(clip, dst))?;
    Ok(out)
}

/// Log-mels of many clips of different lengths, one array `(T_i, n_mels)` each, in parallel.
///
/// # Errors
/// The first failing clip's error.
pub fn logmel_many(extractor: &LogMelExtractor, clips: &[&[f32]]) -> Result<Vec<Array2<f32>>> {
    clips.par_iter().map(|c| extractor.compute(c)).collect()
}

/// One prepared clip: where it came from and its log-mel `(T, n_mels)`.
#[derive(Debug, Clone)]
pub struct PreparedClip {
    /// The source file.
    pub path: PathBuf,
    /// Its log-mel.
    pub logmel: Array2<f32>,
}

/// Decodes, resamples to the extractor's rate, fits to `clip_len` samples with `policy` and
/// computes the log-mel of each file, in parallel. Results keep the input order; each entry is
/// that file's own result, so one corrupt file does not hide the others.
pub fn prepare_files(
    extractor: &LogMelExtractor,
    paths: &[impl AsRef<Path> + Sync],
    clip_len: usize,
    policy: ClipPolicy,
) -> Vec<Result<PreparedClip>> {
    paths
        .par_iter()
        .map(|p| {
            let path = p.as_ref();
            let audio = load_mono(path)?;
            let resampled = resample(&audio.samples, audio.sample_rate, extractor.sample_rate())?;
            let clip = fit_clip(&resampled, clip_len, policy)?;
            Ok(PreparedClip { path: path.to_path_buf(), logmel: extractor.compute(&clip)? })
        })
        .collect()
}
