//! # av-audio — the audio frontend of av-align
//!
//! Turns sound files into exactly the spectrograms the paper's models consume, with librosa's
//! numerics and no tensor library:
//!
//! * [`load_mono`]: decode WAV, FLAC, OGG/Vorbis, MP3, MP4/AAC (symphonia), mixed to mono;
//!   [`resample`] (rubato, high quality); [`fit_clip`] (crop / pad / tile as the reference
//!   loaders) and [`peak_normalize`].
//! * [`Stft`] / [`Istft`]: any `n_fft`, hop, periodic Hann, `center` with reflect padding,
//!   librosa's window-sum-square normalisation and `length`; plans made once and reused.
//! * [`MelFilterbank`] (Slaney or HTK scale, Slaney area normalisation or none) and the paper's
//!   [`LogMelExtractor`]: 22 050 Hz, n_fft 882, hop 441, 64 mels, power 2,
//!   `ln(S + 2.220446e-16)`, shape `(T, 64)`, `T = 251` for 5 s.
//! * [`FreqWarp`]: Sound-of-Pixels' log-frequency warp (512 -> 256 bins) and its inverse.
//! * [`logmel_batch`] / [`prepare_files`]: many clips in parallel.
//!
//! ```
//! use av_audio::{LogMelConfig, LogMelExtractor, Stft, StftConfig, Istft};
//!
//! // The paper's log-mel of 5 s of noise-like signal.
//! let x: Vec<f32> = (0..110_250).map(|n| ((n * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
//! let logmel = LogMelExtractor::new(LogMelConfig::paper())?.compute(&x)?;
//! assert_eq!(logmel.dim(), (251, 64));
//!
//! // Sound-of-Pixels STFT (512 x 256) and back (65 280 samples).
//! let y = &x[..65_535];
//! let spec = Stft::new(StftConfig::sound_of_pixels())?.forward(y)?;
//! assert_eq!(spec.data.dim(), (512, 256));
//! let back = Istft::new(StftConfig::sound_of_pixels())?.inverse(&spec, None)?;
//! assert_eq!(back.len(), 65_280);
//! # Ok::<(), av_audio::AudioError>(())
//! ```

mod batch;
mod clip;
mod decode;
mod error;
mod istft;
mod logmel;
mod mel;
mod resample;
mod stft;
mod warp;
pub mod window;

pub use batch::{PreparedClip, logmel_batch, logmel_many, prepare_files};
pub use clip::{ClipPolicy, fit_clip, peak_normalize};
pub use decode::{Audio, load_mono, write_wav_f32};
pub use error::{AudioError, Result};
pub use istft::Istft;
pub use logmel::{LOG_EPS, LogMelConfig, LogMelExtractor};
pub use mel::{MelConfig, MelFilterbank, MelNorm, MelScale, hz_to_mel, mel_to_hz};
pub use realfft::num_complex::Complex;
pub use resample::{resample, resample_audio};
pub use stft::{PadMode, Spectrogram, Stft, StftConfig};
pub use warp::{FreqWarp, WarpDirection};
