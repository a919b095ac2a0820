//! Inference: predicted masks -> unwarp (-> binarise) -> x mixture magnitude -> iSTFT with the
//! mixture phase -> one waveform per source (SoP `main.py:96-137`; docs/reference_implementation.md §8.7), and WAV output.

use std::path::{Path, PathBuf};

use av_audio::{Audio, write_wav_f32};
use burn::tensor::Device;
use ndarray::Array2;
use rayon::prelude::*;

use crate::batch::{input_tensor, tensor_to_arrays};
use crate::error::{Result, SeparationError};
use crate::mix::{Mixer, MixtureInput};
use crate::model::{Guidance, SeparationNet};

/// The separated sources of one mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Separation {
    /// One waveform per guidance, [`crate::MixConfig::output_len`] samples (65 280), in [-1, 1].
    pub sources: Vec<Vec<f32>>,
    /// The predicted masks on the warped grid `(F, T)`, as the network output them (before
    /// unwarping and binarisation).
    pub masks: Vec<Array2<f32>>,
    /// The mixture resynthesised from its own STFT (same length), for listening and as the
    /// mixture baseline's estimate.
    pub mixture: Vec<f32>,
}

impl Separation {
    /// Writes `mixture.wav` and `<name>.wav` for every source (32-bit float, mono) into `dir`
    /// (created if needed); returns the paths, mixture first.
    ///
    /// # Errors
    /// [`SeparationError::Shape`] when `names` has another length than the sources;
    /// [`SeparationError::Io`] / [`SeparationError::Audio`] when a file cannot be written.
    pub fn write_wavs(
        &self,
        dir: impl AsRef<Path>,
        names: &[&str],
        sample_rate: u32,
    ) -> Result<Vec<PathBuf>> {
        if names.len() != self.sources.len() {
            return Err(SeparationError::Shape {
                op: "Separation::write_wavs",
                expected: format!("{} names", self.sources.len()),
                actual: format!("{} names", names.len()),
            });
        }
        let mut stems: Vec<(&str, &[f32])> = vec![("mixture", self.mixture.as_slice())];
        stems.extend(names.iter().copied().zip(self.sources.iter().map(Vec::as_slice)));
        write_wavs(dir, &stems, sample_rate)
    }
}

/// Writes each `(name, samples)` as `<dir>/<name>.wav` (32-bit float, mono, hound); creates
/// `dir`. Returns the paths in order.
///
/// # Errors
/// [`SeparationError::Io`] for the directory, [`SeparationError::Audio`] for a file (including
/// non-finite samples), [`SeparationError::InvalidConfig`] for a name that is empty or holds a
/// path separator.
pub fn write_wavs(dir: impl AsRef<Path>, stems: &[(&str, &[f32])], sample_rate: u32) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir)
        .map_err(|e| SeparationError::Io { path: dir.to_path_buf(), detail: e.to_string() })?;
    stems
        .iter()
        .map(|(name, samples)| {
            if name.is_empty() || name.contains(['/', '\\']) {
                return Err(SeparationError::InvalidConfig(format!("invalid stem name '{name}'")));
            }
            let path = dir.join(format!("{name}.wav"));
            write_wav_f32(&path, &Audio::new(samples.to_vec(), sample_rate)?)?;
            Ok(path)
        })
        .collect()
}

/// Waveforms of the sources selected by `masks` (warped grid, one per source) from one mixture.
///
/// # Errors
/// As [`Mixer::reconstruct`].
pub fn masks_to_sources(mixer: &Mixer, input: &MixtureInput, masks: &[Array2<f32>]) -> Result<Vec<Vec<f32>>> {
    masks.par_iter().map(|m| mixer.reconstruct(&input.spectra, m)).collect()
}

/// Separates a batch of analysed mixtures: one network pass for all, then resynthesis.
/// Put the network in inference mode first (`net.valid()`, or build it on a plain device) so
/// that BatchNorm uses its running statistics.
///
/// # Shapes
/// `inputs`: `B` mixtures; `guidance`: one per source to extract, each `[B, K]` or
/// `[B, h, w]`; output: `B` [`Separation`]s with one waveform per guidance.
///
/// # Errors
/// [`SeparationError::Empty`], [`SeparationError::Shape`] and resynthesis errors.
pub fn separate_inputs(
    net: &SeparationNet,
    mixer: &Mixer,
    inputs: &[&MixtureInput],
    guidance: &[Guidance],
    device: &Device,
) -> Result<Vec<Separation>> {
    let x = input_tensor(inputs, device)?;
    let predictions = net.forward(x, guidance)?;
    // per_source[n][b]: the mask of source n for mixture b.
    let per_source: Vec<Vec<Array2<f32>>> =
        predictions.into_iter().map(|p| tensor_to_arrays(p.mask)).collect::<Result<_>>()?;
    inputs
        .par_iter()
        .enumerate()
        .map(|(b, input)| {
            let masks: Vec<Array2<f32>> = per_source.iter().map(|m| m[b].clone()).collect();
            Ok(Separation {
                sources: masks_to_sources(mixer, input, &masks)?,
                masks,
                mixture: mixer.reconstruct_mixture(&input.spectra)?,
            })
        })
        .collect()
}

/// Separates one mixture waveform (`clip_len` samples at the pipeline rate): analysis, network,
/// resynthesis. Each guidance has batch size 1.
///
/// # Errors
/// [`SeparationError::SampleRate`], [`SeparationError::Length`], [`SeparationError::NonFinite`]
/// for the mixture; as [`separate_inputs`] otherwise.
pub fn separate(
    net: &SeparationNet,
    mixer: &Mixer,
    mixture: &[f32],
    sample_rate: u32,
    guidance: &[Guidance],
    device: &Device,
) -> Result<Separation> {
    let input = mixer.analyze(mixture, sample_rate)?;
    let mut out = separate_inputs(net, mixer, &[&input], guidance, device)?;
    out.pop().ok_or(SeparationError::Empty { op: "separate", what: "batch" })
}
