//! Analysis windows.

/// Periodic ("fftbins=True") Hann window of `len` samples, as `scipy.signal.get_window('hann',
/// len, fftbins=True)`: `w[n] = 0.5 - 0.5 cos(2 pi n / len)`. `len == 1` gives `[1.0]`.
pub fn hann_periodic(len: usize) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let step = 2.0 * std::f64::consts::PI / len as f64;
    (0..len).map(|n| 0.5 - 0.5 * (step * n as f64).cos()).collect()
}

/// A periodic Hann window of `win_length` zero-padded (centred) to `n_fft`, as
/// `librosa.util.pad_center(get_window('hann', win_length), size=n_fft)`.
///
/// Requires `win_length <= n_fft` (checked by the callers' configs).
pub fn hann_padded(win_length: usize, n_fft: usize) -> Vec<f64> {
    let mut out = vec![0.0; n_fft];
    let lpad = (n_fft - win_length) / 2;
    out[lpad..lpad + win_length].copy_from_slice(&hann_periodic(win_length));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_hann_matches_closed_form() {
        let w = hann_periodic(4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
    }

    #[test]
    fn padded_window_is_centred() {
        let w = hann_padded(4, 8);
        assert_eq!(w.len(), 8);
        assert_eq!(&w[..2], &[0.0, 0.0]);
        assert!((w[4] - 1.0).abs() < 1e-15);
        assert_eq!(&w[6..], &[0.0, 0.0]);
    }
}
