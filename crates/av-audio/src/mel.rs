//! Mel filterbanks exactly as `librosa.filters.mel` builds them (Slaney or HTK mel scale,
//! Slaney area normalisation or none), stored sparsely (each filter covers a few FFT bins).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result};

/// Which Hz <-> mel formula to use (`htk=False` / `htk=True` in librosa).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MelScale {
    /// Slaney's Auditory Toolbox scale: linear below 1 kHz, logarithmic above (librosa default).
    #[default]
    Slaney,
    /// HTK: `mel = 2595 log10(1 + f / 700)`.
    Htk,
}

/// How each triangular filter is normalised (`norm` in librosa).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MelNorm {
    /// Divide each triangle by its width in Hz (`norm='slaney'`, constant energy per channel;
    /// librosa default and the paper's).
    #[default]
    Slaney,
    /// Peak-1 triangles (`norm=None`).
    None,
}

/// Converts frequencies in Hz to mels (`librosa.hz_to_mel`).
pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if hz >= min_log_hz { min_log_mel + (hz / min_log_hz).ln() / logstep } else { hz / f_sp }
        }
    }
}

/// Converts mels to Hz (`librosa.mel_to_hz`).
pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if mel >= min_log_mel { min_log_hz * (logstep * (mel - min_log_mel)).exp() } else { f_sp * mel }
        }
    }
}

/// Filterbank parameters (`librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// FFT size the filters apply to (`n_fft / 2 + 1` bins).
    pub n_fft: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest band edge in Hz.
    pub fmin: f64,
    /// Highest band edge in Hz (`None`: `sample_rate / 2`).
    pub fmax: Option<f64>,
    /// Mel formula.
    pub scale: MelScale,
    /// Filter normalisation.
    pub norm: MelNorm,
}

impl MelConfig {
    /// The paper's filterbank: 22 050 Hz, n_fft 882, 64 Slaney mels with area normalisation,
    /// 0 Hz to Nyquist (docs/reference_implementation.md §1.1).
    pub fn paper() -> Self {
        Self {
            sample_rate: 22_050,
            n_fft: 882,
            n_mels: 64,
            fmin: 0.0,
            fmax: None,
            scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
        }
    }
}

/// One triangle: its first non-zero FFT bin and its weights from there on.
#[derive(Debug, Clone, PartialEq)]
struct Band {
    first_bin: usize,
    weights: Vec<f64>,
}

/// A mel filterbank of `n_mels` bands over `n_fft / 2 + 1` FFT bins.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    config: MelConfig,
    bands: Vec<Band>,
}

impl MelFilterbank {
    /// Builds the filters (in `f64`; librosa builds in `f64` and stores `float32`).
    ///
    /// # Errors
    /// [`AudioError::InvalidSampleRate`] for rate 0, [`AudioError::InvalidConfig`] for
    /// `n_fft < 2`, `n_mels == 0`, or `fmin >= fmax` / `fmax > sr / 2`.
    pub fn new(config: MelConfig) -> Result<Self> {
        if config.sample_rate == 0 {
            return Err(AudioError::InvalidSampleRate { op: "MelFilterbank::new", rate: 0 });
        }
        let sr = f64::from(config.sample_rate);
        let fmax = config.fmax.unwrap_or(sr / 2.0);
        if config.n_fft < 2 || config.n_mels == 0 {
            return Err(AudioError::InvalidConfig(format!(
                "mel filterbank needs n_fft >= 2 and n_mels >= 1, got {} and {}",
                config.n_fft, config.n_mels
            )));
        }
        if !(config.fmin >= 0.0 && config.fmin < fmax && fmax <= sr / 2.0 + 1e-9) {
            return Err(AudioError::InvalidConfig(format!(
                "mel filterbank needs 0 <= fmin < fmax <= sr/2, got fmin {} fmax {fmax} sr {sr}",
                config.fmin
            )));
        }
        let n_freqs = config.n_fft / 2 + 1;
        // np.fft.rfftfreq(n_fft, 1/sr)
        let fftfreqs: Vec<f64> = (0..n_freqs).map(|k| k as f64 * sr / config.n_fft as f64).collect();
        // mel_frequencies(n_mels + 2, fmin, fmax): linspace in mel, back to Hz.
        let (lo, hi) = (hz_to_mel(config.fmin, config.scale), hz_to_mel(fmax, config.scale));
        let n_pts = config.n_mels + 2;
        let mel_f: Vec<f64> =
            (0..n_pts).map(|i| mel_to_hz(linspace_at(lo, hi, n_pts, i), config.scale)).collect();
        let bands = (0..config.n_mels)
            .map(|m| {
                let (f0, f1, f2) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
                let enorm = match config.norm {
                    MelNorm::Slaney => 2.0 / (f2 - f0),
                    MelNorm::None => 1.0,
                };
                let full: Vec<f64> = fftfreqs
                    .iter()
                    .map(|&f| {
                        let lower = -(f0 - f) / (f1 - f0);
                        let upper = (f2 - f) / (f2 - f1);
                        lower.min(upper).max(0.0) * enorm
                    })
                    .collect();
                let first = full.iter().position(|&w| w > 0.0).unwrap_or(0);
                let last = full.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
                Band { first_bin: first, weights: full[first..last.max(first)].to_vec() }
            })
            .collect();
        Ok(Self { config, bands })
    }

    /// The configuration.
    pub fn config(&self) -> &MelConfig {
        &self.config
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Number of FFT bins the filters expect (`n_fft / 2 + 1`).
    pub fn n_freqs(&self) -> usize {
        self.config.n_fft / 2 + 1
    }

    /// The dense filter matrix, shape `(n_mels, n_fft / 2 + 1)`, as `librosa.filters.mel`.
    pub fn to_dense(&self) -> Array2<f64> {
        let mut out = Array2::zeros((self.n_mels(), self.n_freqs()));
        for (m, band) in self.bands.iter().enumerate() {
            for (k, &w) in band.weights.iter().enumerate() {
                out[[m, band.first_bin + k]] = w;
            }
        }
        out
    }

    /// Applies the filters to one frame's spectrum: `out[m] = sum_k W[m, k] * spectrum[k]`.
    ///
    /// `spectrum` has `n_fft / 2 + 1` values and `out` `n_mels`; both lengths are the
    /// caller's responsibility (checked in debug builds).
    pub fn apply_frame(&self, spectrum: &[f64], out: &mut [f64]) {
        debug_assert_eq!(spectrum.len(), self.n_freqs());
        debug_assert_eq!(out.len(), self.n_mels());
        for (o, band) in out.iter_mut().zip(&self.bands) {
            let bins = &spectrum[band.first_bin..band.first_bin + band.weights.len()];
            *o = bins.iter().zip(&band.weights).map(|(s, w)| s * w).sum();
        }
    }

    /// Applies the filters to a `(n_fft / 2 + 1, T)` power or magnitude spectrogram, giving
    /// `(n_mels, T)` (librosa's `mel_basis @ S`).
    ///
    /// # Errors
    /// [`AudioError::Shape`] if the row count is not `n_fft / 2 + 1`.
    pub fn apply(&self, spectrogram: &Array2<f32>) -> Result<Array2<f32>> {
        if spectrogram.nrows() != self.n_freqs() {
            return Err(AudioError::Shape {
                op: "MelFilterbank::apply",
                expected: format!("({}, T)", self.n_freqs()),
                actual: format!("{:?}", spectrogram.dim()),
            });
        }
        let n_frames = spectrogram.ncols();
        let mut out = Array2::zeros((self.n_mels(), n_frames));
        let mut column = vec![0.0f64; self.n_freqs()];
        let mut mel = vec![0.0f64; self.n_mels()];
        for t in 0..n_frames {
            for (c, &v) in column.iter_mut().zip(spectrogram.column(t)) {
                *c = f64::from(v);
            }
            self.apply_frame(&column, &mut mel);
            for (m, &v) in mel.iter().enumerate() {
                out[[m, t]] = v as f32;
            }
        }
        Ok(out)
    }
}

/// `np.linspace(lo, hi, n)[i]` (numpy computes `lo + i * step` and pins the last point to `hi`).
fn linspace_at(lo: f64, hi: f64, n: usize, i: usize) -> f64 {
    if n < 2 {
        return lo;
    }
    if i == n - 1 {
        return hi;
    }
    lo + i as f64 * ((hi - lo) / (n - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_round_trip() {
        for scale in [MelScale::Slaney, MelScale::Htk] {
            for hz in [0.0, 100.0, 999.0, 1000.0, 4321.0, 11_025.0] {
                let back = mel_to_hz(hz_to_mel(hz, scale), scale);
                assert!((back - hz).abs() < 1e-9 * hz.max(1.0), "{scale:?} {hz} -> {back}");
            }
        }
        // Slaney is linear below 1 kHz: 200/3 Hz per mel.
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn slaney_filters_have_unit_area_in_hz() {
        // With area normalisation each triangle integrates (in Hz) to ~1; check on a fine grid.
        let fb = MelFilterbank::new(MelConfig { n_fft: 8192, ..MelConfig::paper() }).unwrap();
        let df = 22_050.0 / 8192.0;
        let dense = fb.to_dense();
        for m in 10..64 {
            let area: f64 = dense.row(m).sum() * df;
            assert!((area - 1.0).abs() < 0.02, "band {m}: {area}");
        }
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(MelFilterbank::new(MelConfig { sample_rate: 0, ..MelConfig::paper() }).is_err());
        assert!(MelFilterbank::new(MelConfig { n_mels: 0, ..MelConfig::paper() }).is_err());
        assert!(MelFilterbank::new(MelConfig { fmax: Some(20_000.0), ..MelConfig::paper() }).is_err());
    }
}
