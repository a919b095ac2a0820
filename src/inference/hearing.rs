//! Whether a clip holds a sound at all: silence (and sounds the model does not know) is an
//! answer, not a map.

use serde::{Deserialize, Serialize};

/// When a clip counts as holding no sounding object; stored in a model folder's
/// `inputs.json` (`"silence"`).
///
/// Two gates, both must pass for "sounding":
/// * the level of the waveform the model hears (RMS in dBFS, full scale = 1.0) must reach
///   [`Self::min_level_dbfs`]: digital silence and near-silence need no model;
/// * the model's confidence, the highest audio class probability `max_c σ(logit_a^c)`, must
///   reach [`Self::min_confidence`], a threshold chosen on validation clips (sounding benchmark
///   scenes against silence and noise: `flickr_localize calibrate-silence`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SilenceRule {
    /// RMS level below which a clip is silent, in dBFS (default -60: a clip 1000x quieter
    /// than full scale).
    pub min_level_dbfs: f32,
    /// Highest audio class probability below which nothing the model knows sounds (default 0:
    /// only the level gate, until a threshold is calibrated).
    pub min_confidence: f32,
}

impl Default for SilenceRule {
    fn default() -> Self {
        Self { min_level_dbfs: -60.0, min_confidence: 0.0 }
    }
}

impl SilenceRule {
    /// The verdict for a clip of `level_dbfs` (`None` when only a log-mel was given) on which
    /// the model's highest audio class probability is `confidence`.
    pub fn judge(&self, confidence: f32, level_dbfs: Option<f32>) -> Hearing {
        let loud_enough = level_dbfs.is_none_or(|l| l >= self.min_level_dbfs);
        Hearing { sounding: loud_enough && confidence >= self.min_confidence, confidence, level_dbfs }
    }
}

/// What the model heard in a clip.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hearing {
    /// Whether a sounding object was found; when false, the maps mean nothing and should not
    /// be drawn.
    pub sounding: bool,
    /// The highest audio class probability, `max_c σ(logit_a^c)`.
    pub confidence: f32,
    /// RMS level of the waveform the model heard, in dBFS (`None` when only a log-mel was
    /// given).
    pub level_dbfs: Option<f32>,
}

/// RMS level of `samples` in dBFS (full scale = 1.0); `-inf` for digital silence.
pub fn level_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return f32::NEG_INFINITY;
    }
    let mean_square =
        samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / samples.len() as f64;
    (10.0 * mean_square.log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_verdicts() {
        assert_eq!(level_dbfs(&[0.0; 10]), f32::NEG_INFINITY);
        assert!((level_dbfs(&[1.0, -1.0]) - 0.0).abs() < 1e-6);
        assert!((level_dbfs(&[0.1; 8]) + 20.0).abs() < 1e-4);
        let rule = SilenceRule { min_level_dbfs: -60.0, min_confidence: 0.4 };
        assert!(rule.judge(0.9, Some(-20.0)).sounding);
        assert!(!rule.judge(0.9, Some(-70.0)).sounding, "too quiet");
        assert!(!rule.judge(0.2, Some(-20.0)).sounding, "not confident");
        assert!(rule.judge(0.5, None).sounding, "no level: the confidence decides");
        assert!(SilenceRule::default().judge(0.0, Some(-59.0)).sounding);
    }
}
