//! The Sound-of-Pixels / Co-Separation evaluation protocol (SoP `main.py:96-169`; docs/reference_implementation.md §8.7):
//! mixtures of test clips of different classes; per mixture, BSS-Eval v3 SDR/SIR/SAR of every
//! estimate against its (1/N-scaled) reference, cut to the resynthesised length (65 280), no
//! permutation search, 512-tap filters; the mixture baseline (`sdr_mix`: the resynthesised
//! mixture as every estimate); samples where a reference or an estimate has `Σ|x| ≤ 1e-5` are
//! skipped; the per-mixture mean over sources is averaged over mixtures.

use av_metrics::{BssEvalOptions, bss_eval_with_mixture};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SeparationError};
use crate::mix::{MixExample, Mixer, SILENCE_L1};
use crate::pairs::MixOrigin;
use crate::separate::masks_to_sources;

/// Scores of one mixture (dB, one entry per source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairScores {
    /// Which clips were mixed.
    pub origin: MixOrigin,
    /// SDR of each estimate.
    pub sdr: Vec<f64>,
    /// SIR of each estimate (`+∞` when there is no interference at all; serialised as `null`).
    pub sir: Vec<f64>,
    /// SAR of each estimate.
    pub sar: Vec<f64>,
    /// SDR of the mixture baseline against each reference.
    pub sdr_mix: Vec<f64>,
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

impl PairScores {
    /// `(SDR, SIR, SAR, SDR_mix)`, each averaged over the sources (SoP's `sdr.mean()`).
    pub fn means(&self) -> (f64, f64, f64, f64) {
        (mean(&self.sdr), mean(&self.sir), mean(&self.sar), mean(&self.sdr_mix))
    }
}

/// Results of one method on a test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeparationReport {
    /// Method name (e.g. "ideal binary mask", "Ours Visual").
    pub method: String,
    /// Number of mixtures scored.
    pub evaluated: usize,
    /// Ids of the mixtures skipped as silent (`Σ|x| ≤ 1e-5` in a reference or estimate).
    pub skipped: Vec<String>,
    /// Mean SDR over mixtures of the per-mixture mean over sources (dB).
    pub sdr: f64,
    /// Mean SIR (dB).
    pub sir: f64,
    /// Mean SAR (dB).
    pub sar: f64,
    /// Mean SDR of the mixture baseline (dB).
    pub sdr_mix: f64,
    /// `sdr − sdr_mix` (dB): the improvement over the mixture.
    pub nsdr: f64,
    /// Every scored mixture.
    pub pairs: Vec<PairScores>,
}

impl SeparationReport {
    /// Aggregates per-mixture results (`None` = skipped, with its id).
    pub fn from_scores(method: impl Into<String>, scores: Vec<(MixOrigin, Option<PairScores>)>) -> Self {
        let mut pairs = Vec::new();
        let mut skipped = Vec::new();
        for (origin, s) in scores {
            match s {
                Some(s) => pairs.push(s),
                None => skipped.push(origin.id),
            }
        }
        let means: Vec<(f64, f64, f64, f64)> = pairs.iter().map(PairScores::means).collect();
        let col = |f: fn(&(f64, f64, f64, f64)) -> f64| mean(&means.iter().map(f).collect::<Vec<_>>());
        let (sdr, sir, sar, sdr_mix) = (col(|m| m.0), col(|m| m.1), col(|m| m.2), col(|m| m.3));
        Self {
            method: method.into(),
            evaluated: pairs.len(),
            skipped,
            sdr,
            sir,
            sar,
            sdr_mix,
            nsdr: sdr - sdr_mix,
            pairs,
        }
    }

    /// The report as pretty JSON (non-finite numbers become `null`).
    ///
    /// # Errors
    /// [`SeparationError::InvalidConfig`] if serialisation fails (not expected).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| SeparationError::InvalidConfig(format!("JSON: {e}")))
    }
}

/// Scores `estimates` (one waveform per source, at least [`crate::MixConfig::output_len`]
/// samples; longer ones are cut) of one mixture with SoP's protocol. Returns `None` when the
/// sample is skipped as silent.
///
/// # Errors
/// [`SeparationError::Shape`] for a wrong number of estimates or short estimates;
/// [`SeparationError::Metrics`] from BSS-Eval (e.g. NaN samples).
pub fn score_mixture(
    mixer: &Mixer,
    origin: &MixOrigin,
    example: &MixExample,
    estimates: &[Vec<f32>],
) -> Result<Option<PairScores>> {
    let len = mixer.config().output_len();
    let n = example.num_sources();
    if estimates.len() != n || estimates.iter().any(|e| e.len() < len) {
        return Err(SeparationError::Shape {
            op: "score_mixture",
            expected: format!("{n} estimates of >= {len} samples"),
            actual: format!("{:?}", estimates.iter().map(Vec::len).collect::<Vec<_>>()),
        });
    }
    let refs: Vec<&[f32]> = example.sources.iter().map(|s| &s[..len.min(s.len())]).collect();
    let ests: Vec<&[f32]> = estimates.iter().map(|e| &e[..len]).collect();
    let silent = |x: &[f32]| x.iter().map(|v| v.abs()).sum::<f32>() <= SILENCE_L1;
    if refs.iter().chain(&ests).any(|x| silent(x)) {
        return Ok(None);
    }
    let mixture = mixer.reconstruct_mixture(&example.input.spectra)?;
    let r = bss_eval_with_mixture(&refs, &ests, &mixture[..len], &BssEvalOptions::default())?;
    Ok(Some(PairScores {
        origin: origin.clone(),
        sdr: r.estimates.sdr,
        sir: r.estimates.sir,
        sar: r.estimates.sar,
        sdr_mix: r.mixture.sdr,
    }))
}

/// Evaluates a method on prepared test mixtures: `estimate` returns the estimated sources of one
/// mixture (called sequentially, in order, so it may hold a model); BSS-Eval then runs in
/// parallel.
///
/// # Errors
/// [`SeparationError::Shape`] when `origins` and `examples` differ in length; the first error
/// of `estimate` or of [`score_mixture`].
pub fn evaluate<F>(
    mixer: &Mixer,
    method: &str,
    origins: &[MixOrigin],
    examples: &[MixExample],
    mut estimate: F,
) -> Result<SeparationReport>
where
    F: FnMut(&MixExample) -> Result<Vec<Vec<f32>>>,
{
    if origins.len() != examples.len() {
        return Err(SeparationError::Shape {
            op: "evaluate",
            expected: format!("{} origins (one per example)", examples.len()),
            actual: format!("{}", origins.len()),
        });
    }
    let estimates: Vec<Vec<Vec<f32>>> = examples.iter().map(&mut estimate).collect::<Result<_>>()?;
    let scores: Vec<(MixOrigin, Option<PairScores>)> = origins
        .par_iter()
        .zip(examples)
        .zip(&estimates)
        .map(|((o, ex), est)| Ok((o.clone(), score_mixture(mixer, o, ex, est)?)))
        .collect::<Result<_>>()?;
    Ok(SeparationReport::from_scores(method, scores))
}

/// Estimates from the ideal masks (the targets of the example: ideal binary or ratio masks on
/// the warped grid) through the full resynthesis path: an upper bound of any mask-based model
/// on this data path.
///
/// # Errors
/// As [`crate::Mixer::reconstruct`].
pub fn oracle_estimates(mixer: &Mixer, example: &MixExample) -> Result<Vec<Vec<f32>>> {
    masks_to_sources(mixer, &example.input, &example.targets)
}
