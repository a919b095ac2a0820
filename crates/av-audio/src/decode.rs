//! Decoding audio files (WAV, FLAC, OGG/Vorbis, MP3, MP4/AAC, ...) with symphonia, mixed down to
//! mono as `librosa.load(mono=True)` does (mean over channels).

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::{AudioError, Result, ensure_finite};

/// A mono signal with its sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples in [-1, 1] for decoded integer formats (float files are passed through).
    pub samples: Vec<f32>,
    /// Sample rate in Hz (> 0).
    pub sample_rate: u32,
}

impl Audio {
    /// Wraps samples, checking the rate and that every sample is finite.
    ///
    /// # Errors
    /// [`AudioError::InvalidSampleRate`] for a zero rate, [`AudioError::NonFinite`] for NaN/inf.
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Result<Self> {
        if sample_rate == 0 {
            return Err(AudioError::InvalidSampleRate { op: "Audio::new", rate: 0 });
        }
        ensure_finite("Audio::new", &samples)?;
        Ok(Self { samples, sample_rate })
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Decodes the default audio track of a file and mixes it down to mono (channel mean).
///
/// The format is detected from the content (the file extension is only a hint).
///
/// # Errors
/// [`AudioError::Io`] (missing file), [`AudioError::Unsupported`] (not audio, unknown codec),
/// [`AudioError::Corrupt`] (malformed or truncated stream that yields nothing usable),
/// [`AudioError::Empty`] (no samples), [`AudioError::NonFinite`] (NaN/inf in a float file),
/// [`AudioError::InvalidSampleRate`]. A file that makes the demuxer or decoder panic is
/// reported as [`AudioError::Corrupt`] too.
pub fn load_mono(path: impl AsRef<Path>) -> Result<Audio> {
    let path = path.as_ref();
    // The demuxers and decoders are third-party code that a malformed file can still drive into
    // a panic (e.g. symphonia's WAVE reader shifts by a channel count of 65535 in a
    // WAVE_FORMAT_EXTENSIBLE header, an overflow panic in builds with overflow checks). Everything
    // they touch is local to this call, so a panic is reported as a corrupt file instead.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_mono(path))).unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(AudioError::Corrupt { path: path.to_path_buf(), detail: format!("the decoder failed: {detail}") })
    })
}

fn decode_mono(path: &Path) -> Result<Audio> {
    let file = File::open(path).map_err(|error| AudioError::Io { path: path.to_path_buf(), error })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let unsupported = |detail: String| AudioError::Unsupported { path: path.to_path_buf(), detail };
    let corrupt = |detail: String| AudioError::Corrupt { path: path.to_path_buf(), detail };
    let classify = |e: SymError| match e {
        SymError::Unsupported(m) => unsupported(m.to_string()),
        SymError::IoError(io) => corrupt(format!("truncated or unreadable stream: {io}")),
        other => corrupt(other.to_string()),
    };

    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) => {
                corrupt(format!("file is empty or truncated before the audio starts ({io})"))
            }
            other => classify(other),
        })?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let declared_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unsupported("track has no audio codec parameters".into()))?;
    let declared_rate = params.sample_rate;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(classify)?;

    let mut mono: Vec<f32> = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = None;
    let mut decode_errors = 0usize;
    let mut last_error = String::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // Symphonia 0.6 ends a complete stream with `Ok(None)`; an I/O error here means the
            // file stops in the middle of a packet.
            Err(SymError::IoError(e)) => return Err(corrupt(format!("truncated stream: {e}"))),
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(classify(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let channels = buf.spec().channels().count().max(1);
                rate.get_or_insert(buf.spec().rate());
                buf.copy_to_vec_interleaved(&mut interleaved);
                let scale = 1.0 / channels as f32;
                mono.extend(
                    interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() * scale),
                );
            }
            // Malformed packets are skipped, as decoders conventionally do; if nothing decodes
            // at all, the file is reported as corrupt below.
            Err(SymError::DecodeError(m)) => {
                decode_errors += 1;
                last_error = m.to_string();
            }
            Err(e) => return Err(classify(e)),
        }
    }
    // A stream that ends early without an I/O error (some demuxers just stop) is caught by
    // comparing with the frame count the container declares.
    if let Some(declared) = declared_frames
        && (mono.len() as u64) < declared
    {
        return Err(corrupt(format!(
            "truncated: decoded {} of the {declared} frames the header declares",
            mono.len()
        )));
    }
    if mono.is_empty() {
        if decode_errors > 0 {
            return Err(corrupt(format!("{decode_errors} packets failed to decode: {last_error}")));
        }
        return Err(AudioError::Empty { path: path.to_path_buf() });
    }
    let sample_rate = rate.or(declared_rate).unwrap_or(0);
    if sample_rate == 0 {
        return Err(AudioError::InvalidSampleRate { op: "load_mono", rate: 0 });
    }
    ensure_finite("load_mono", &mono)?;
    Ok(Audio { samples: mono, sample_rate })
}

/// Writes a mono signal as a 32-bit float WAV file (hound).
///
/// # Errors
/// [`AudioError::Io`] when the file cannot be written; [`AudioError::NonFinite`].
pub fn write_wav_f32(path: impl AsRef<Path>, audio: &Audio) -> Result<()> {
    let path = path.as_ref();
    ensure_finite("write_wav_f32", &audio.samples)?;
    let io = |e: hound::Error| AudioError::Io {
        path: path.to_path_buf(),
        error: match e {
            hound::Error::IoError(io) => io,
            other => std::io::Error::other(other.to_string()),
        },
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: audio.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(io)?;
    for &s in &audio.samples {
        writer.write_sample(s).map_err(io)?;
    }
    writer.finalize().map_err(io)
}
