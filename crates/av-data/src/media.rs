//! Loading one item's audio the way the reference code does, on top of `av-audio`.

use std::path::Path;

use av_audio::{ClipPolicy, fit_clip, load_mono, resample};

use crate::error::Result;

/// Decodes an audio file to mono, resamples it to `rate` Hz and, when `len` is given, keeps the
/// first `len` samples, zero-padding a shorter file (the SoundNet-Flickr 5 s clips:
/// `len = 5 * rate`). With `len = None` the whole file is returned (MSSL's test loader).
///
/// # Errors
/// [`crate::DataError::Audio`] (missing, unsupported or corrupt file; the inner error names it).
pub fn load_audio(path: &Path, rate: u32, len: Option<usize>) -> Result<Vec<f32>> {
    let audio = load_mono(path)?;
    let samples = resample(&audio.samples, audio.sample_rate, rate)?;
    Ok(match len {
        Some(n) => fit_clip(&samples, n, ClipPolicy::default())?,
        None => samples,
    })
}
