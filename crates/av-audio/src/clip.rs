//! Fitting signals to a clip length as the reference loaders do, and peak normalisation.
//!
//! * SoundNet-Flickr (MSSL): 5 s clips, first 5 s kept, zero-padded when shorter (docs/reference_implementation.md §1.1).
//! * AudioSet (MSSL `utils/audioset_data.py:66-79`): `frame` seconds from an integer start
//!   second, zero-padded.
//! * Sound-of-Pixels (`dataset/base.py:141-180`): tile a short file until it is long enough,
//!   then crop `len` samples centred on a time, zero-filling outside the signal.

use serde::{Deserialize, Serialize};

use crate::error::{AudioError, Result, ensure_signal};

/// How to bring a signal to exactly `len` samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ClipPolicy {
    /// Take `len` samples from `start` (may be negative or run past the end); zeros outside.
    Window {
        /// First sample (negative values start inside the leading zeros).
        start: i64,
    },
    /// Take `len` samples centred on sample `center` (`start = center - len / 2`); zeros outside.
    Centered {
        /// Centre sample.
        center: i64,
    },
    /// Repeat the signal until it is at least `len` long (SoP: `np.tile(x, len / n + 1)`),
    /// then take `len` samples from `start`.
    TileThenWindow {
        /// First sample of the tiled signal (>= 0).
        start: usize,
    },
}

impl Default for ClipPolicy {
    /// Keep the beginning, zero-pad the end (the 5 s SoundNet-Flickr clips).
    fn default() -> Self {
        ClipPolicy::Window { start: 0 }
    }
}

/// Returns exactly `len` samples of `samples` according to `policy`.
///
/// # Errors
/// [`AudioError::EmptySignal`] / [`AudioError::NonFinite`] for bad input,
/// [`AudioError::InvalidConfig`] for `len == 0`.
pub fn fit_clip(samples: &[f32], len: usize, policy: ClipPolicy) -> Result<Vec<f32>> {
    ensure_signal("fit_clip", samples)?;
    if len == 0 {
        return Err(AudioError::InvalidConfig("clip length must be >= 1 sample".into()));
    }
    Ok(match policy {
        ClipPolicy::Window { start } => window(samples, start, len),
        ClipPolicy::Centered { center } => window(samples, center - (len / 2) as i64, len),
        ClipPolicy::TileThenWindow { start } => {
            let repeats = len / samples.len() + 1;
            let tiled: Vec<f32> = samples.iter().copied().cycle().take(samples.len() * repeats).collect();
            window(&tiled, start as i64, len)
        }
    })
}

/// `len` samples from `start`, zero outside `samples`.
fn window(samples: &[f32], start: i64, len: usize) -> Vec<f32> {
    (0..len as i64)
        .map(|i| {
            let idx = start + i;
            if (0..samples.len() as i64).contains(&idx) { samples[idx as usize] } else { 0.0 }
        })
        .collect()
}

/// Divides by `max(|x|) + eps` in place (MSSL's test loaders: `audio / max(abs(audio) + eps)`,
/// `new/testdata.py:61`). A silent signal stays silent. Returns the divisor used.
///
/// # Errors
/// [`AudioError::EmptySignal`] / [`AudioError::NonFinite`].
pub fn peak_normalize(samples: &mut [f32], eps: f32) -> Result<f32> {
    ensure_signal("peak_normalize", samples)?;
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs())) + eps;
    if peak > 0.0 {
        samples.iter_mut().for_each(|s| *s /= peak);
    }
    Ok(peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_pads_and_crops() {
        let x = [1.0, 2.0, 3.0];
        assert_eq!(fit_clip(&x, 5, ClipPolicy::default()).unwrap(), vec![1.0, 2.0, 3.0, 0.0, 0.0]);
        assert_eq!(fit_clip(&x, 2, ClipPolicy::Window { start: 1 }).unwrap(), vec![2.0, 3.0]);
        assert_eq!(fit_clip(&x, 3, ClipPolicy::Window { start: -1 }).unwrap(), vec![0.0, 1.0, 2.0]);
        assert_eq!(fit_clip(&x, 2, ClipPolicy::Centered { center: 0 }).unwrap(), vec![0.0, 1.0]);
    }

    #[test]
    fn tiling_repeats_short_signals() {
        let x = [1.0, 2.0];
        assert_eq!(
            fit_clip(&x, 5, ClipPolicy::TileThenWindow { start: 1 }).unwrap(),
            vec![2.0, 1.0, 2.0, 1.0, 2.0]
        );
    }

    #[test]
    fn bad_clip_requests_are_errors() {
        assert!(matches!(fit_clip(&[], 3, ClipPolicy::default()), Err(AudioError::EmptySignal { .. })));
        assert!(fit_clip(&[1.0], 0, ClipPolicy::default()).is_err());
        assert!(matches!(fit_clip(&[f32::NAN], 3, ClipPolicy::default()), Err(AudioError::NonFinite { .. })));
    }

    #[test]
    fn peak_normalisation() {
        let mut x = [0.5, -2.0, 1.0];
        peak_normalize(&mut x, 0.0).unwrap();
        assert_eq!(x, [0.25, -1.0, 0.5]);
        let mut silent = [0.0; 4];
        peak_normalize(&mut silent, 1e-8).unwrap();
        assert_eq!(silent, [0.0; 4]);
    }
}
