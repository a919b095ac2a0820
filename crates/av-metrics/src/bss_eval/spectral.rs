//! FFT helpers of the BSS-Eval projections: cached real-FFT plans, zero-padded spectra and
//! circular cross-correlations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{MetricsError, Result};

const OP: &str = "bss_eval_sources";

/// A half spectrum of a real signal of length `n_fft` (`n_fft / 2 + 1` bins).
pub(crate) type Spectrum = Vec<Complex<f64>>;

/// Forward and inverse real FFTs of one length, planned once per process and length (planning
/// a 131 072-point transform costs milliseconds, as much as several transforms).
pub(crate) struct FftPair {
    n_fft: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
}

impl FftPair {
    /// The shared plans of length `n_fft` (planned on first use).
    pub(crate) fn shared(n_fft: usize) -> Arc<Self> {
        static PLANS: OnceLock<Mutex<HashMap<usize, Arc<FftPair>>>> = OnceLock::new();
        let plans = PLANS.get_or_init(|| Mutex::new(HashMap::new()));
        // A poisoned lock only means another thread panicked while planning; the map is intact.
        let mut map = plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(n_fft).or_insert_with(|| Arc::new(Self::new(n_fft))))
    }

    /// Plans forward and inverse real FFTs of length `n_fft`.
    pub(crate) fn new(n_fft: usize) -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        Self { n_fft, forward: planner.plan_fft_forward(n_fft), inverse: planner.plan_fft_inverse(n_fft) }
    }

    /// The transform length.
    pub(crate) fn len(&self) -> usize {
        self.n_fft
    }

    /// Spectrum of `signal` zero-padded to `n_fft` samples (`scipy.fftpack.fft(x, n=n_fft)`
    /// keeps the same values; only the half spectrum is stored).
    pub(crate) fn forward(&self, signal: &[f64]) -> Result<Spectrum> {
        let mut input = self.forward.make_input_vec();
        let n = signal.len().min(self.n_fft);
        input[..n].copy_from_slice(&signal[..n]);
        let mut output = self.forward.make_output_vec();
        let mut scratch = self.forward.make_scratch_vec();
        self.forward
            .process_with_scratch(&mut input, &mut output, &mut scratch)
            .map_err(|e| MetricsError::Fft { op: OP, detail: e.to_string() })?;
        Ok(output)
    }

    /// Real part of the inverse DFT of the Hermitian spectrum `spectrum`, normalised by
    /// `1 / n_fft` like `np.real(scipy.fftpack.ifft(.))`.
    pub(crate) fn inverse(&self, mut spectrum: Spectrum) -> Result<Vec<f64>> {
        // The imaginary parts of the DC (and Nyquist) bins of a product `a * conj(b)` of two
        // real-signal spectra are zero in exact arithmetic; realfft insists on exact zeros.
        if let Some(first) = spectrum.first_mut() {
            first.im = 0.0;
        }
        if self.n_fft.is_multiple_of(2)
            && let Some(last) = spectrum.last_mut()
        {
            last.im = 0.0;
        }
        let mut output = self.inverse.make_output_vec();
        let mut scratch = self.inverse.make_scratch_vec();
        self.inverse
            .process_with_scratch(&mut spectrum, &mut output, &mut scratch)
            .map_err(|e| MetricsError::Fft { op: OP, detail: e.to_string() })?;
        let scale = 1.0 / self.n_fft as f64;
        output.iter_mut().for_each(|v| *v *= scale);
        Ok(output)
    }

    /// Circular cross-correlation `r[k] = Σ_n a[n + k] · b[n]` (indices mod `n_fft`) of the
    /// signals whose spectra are `a` and `b`: `np.real(ifft(fft(a) * conj(fft(b))))`
    /// (mir_eval `separation.py:713-714`, `:722-723`).
    pub(crate) fn cross_correlation(&self, a: &[Complex<f64>], b: &[Complex<f64>]) -> Result<Vec<f64>> {
        let product = a.iter().zip(b).map(|(x, y)| x * y.conj()).collect();
        self.inverse(product)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_matches_direct_sums() {
        let a: Vec<f64> = (0..37).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.3).collect();
        let b: Vec<f64> = (0..37).map(|i| ((i * 5 % 13) as f64 - 6.0) * 0.2).collect();
        for n_fft in [128usize, 75] {
            let fft = FftPair::new(n_fft);
            let fa = fft.forward(&a).expect("fft");
            let fb = fft.forward(&b).expect("fft");
            let r = fft.cross_correlation(&fa, &fb).expect("ifft");
            for k in [0usize, 1, 5, n_fft - 1, n_fft - 3] {
                let mut direct = 0.0;
                for n in 0..n_fft {
                    let x = a.get((n + k) % n_fft).copied().unwrap_or(0.0);
                    let y = b.get(n).copied().unwrap_or(0.0);
                    direct += x * y;
                }
                assert!((r[k] - direct).abs() < 1e-12, "n_fft {n_fft} lag {k}");
            }
        }
    }
}
