//! Inverse STFT with librosa's semantics (`librosa.istft`): windowed overlap-add normalised by
//! the window sum-square, centre trimming, and an optional exact output `length`.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner};

use crate::error::{AudioError, Result};
use crate::stft::{Spectrogram, StftConfig};
use crate::window::hann_padded;

/// A planned inverse STFT for one [`StftConfig`].
#[derive(Clone)]
pub struct Istft {
    config: StftConfig,
    ifft: Arc<dyn ComplexToReal<f64>>,
    window: Vec<f64>,
}

impl std::fmt::Debug for Istft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Istft").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Istft {
    /// Plans the inverse transform.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] for a bad configuration.
    pub fn new(config: StftConfig) -> Result<Self> {
        config.validate()?;
        let ifft = RealFftPlanner::<f64>::new().plan_fft_inverse(config.n_fft);
        Ok(Self { config, ifft, window: hann_padded(config.win_length, config.n_fft) })
    }

    /// Reconstructs a signal from `spec`.
    ///
    /// Without `length` the output has `n_fft + hop * (T - 1)` samples, less `2 * (n_fft / 2)`
    /// when centred (65 280 for Sound-of-Pixels' 256 frames); with `length` it is zero-padded or
    /// cut to exactly that many samples, using only the frames that reach it (as librosa).
    /// The imaginary parts of the DC (and, for even `n_fft`, Nyquist) bins are ignored, as
    /// numpy's `irfft` does.
    ///
    /// # Errors
    /// [`AudioError::Shape`] if `spec` was made with another configuration or has no frames.
    pub fn inverse(&self, spec: &Spectrogram, length: Option<usize>) -> Result<Vec<f32>> {
        let cfg = self.config;
        if spec.config.n_fft != cfg.n_fft || spec.data.nrows() != cfg.n_freqs() || spec.n_frames() == 0 {
            return Err(AudioError::Shape {
                op: "istft",
                expected: format!("({}, T >= 1) from n_fft = {}", cfg.n_freqs(), cfg.n_fft),
                actual: format!("{:?} from n_fft = {}", spec.data.dim(), spec.config.n_fft),
            });
        }
        let (n_fft, hop) = (cfg.n_fft, cfg.hop_length);
        let half = if cfg.center { n_fft / 2 } else { 0 };
        let n_frames = match length {
            Some(len) => spec.n_frames().min((len + 2 * half).div_ceil(hop)),
            None => spec.n_frames(),
        };
        let full_len = n_fft + hop * n_frames.saturating_sub(1);
        let out_len = length.unwrap_or(full_len - 2 * half);

        let mut y = vec![0.0f64; full_len];
        let mut wss = vec![0.0f64; full_len];
        let mut bins = self.ifft.make_input_vec();
        let mut frame = self.ifft.make_output_vec();
        let mut scratch = self.ifft.make_scratch_vec();
        let scale = 1.0 / n_fft as f64;
        let last = bins.len() - 1;
        // Frame-major copy so that each frame's bins are contiguous.
        let by_frame = spec.data.t().as_standard_layout().into_owned();
        for (t, column) in by_frame.rows().into_iter().take(n_frames).enumerate() {
            for (dst, src) in bins.iter_mut().zip(column) {
                *dst = Complex::new(f64::from(src.re), f64::from(src.im));
            }
            bins[0].im = 0.0;
            if n_fft % 2 == 0 {
                bins[last].im = 0.0;
            }
            self.ifft
                .process_with_scratch(&mut bins, &mut frame, &mut scratch)
                .map_err(|e| AudioError::InvalidConfig(format!("inverse FFT failed: {e}")))?;
            let offset = t * hop;
            for (i, (&x, &w)) in frame.iter().zip(&self.window).enumerate() {
                y[offset + i] += x * scale * w;
                wss[offset + i] += w * w;
            }
        }
        Ok((0..out_len)
            .map(|i| match (y.get(half + i), wss.get(half + i)) {
                (Some(&v), Some(&w)) if w > f64::MIN_POSITIVE => (v / w) as f32,
                (Some(&v), _) => v as f32,
                _ => 0.0,
            })
            .collect())
    }
}
