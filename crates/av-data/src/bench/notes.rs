//! The note bank: a few real notes per instrument, rendered once from the MIT FluidR3_GM
//! SoundFont (see `tools/assets/`), decoded from the committed FLAC files with `av-audio` and
//! kept in memory, resampled once per output rate.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::classes::Instrument;
use crate::error::{DataError, Result};
use crate::files::read_json;

#[derive(Deserialize)]
struct IndexFile {
    sample_rate: u32,
    instruments: BTreeMap<String, IndexInstrument>,
}

#[derive(Deserialize)]
struct IndexInstrument {
    file: String,
    hold_s: f64,
    notes: Vec<IndexNote>,
}

#[derive(Deserialize)]
struct IndexNote {
    key: u8,
    offset: usize,
    len: usize,
}

/// The rendered notes of one instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentNotes {
    /// Seconds each note was held before note-off (the rest is the release tail).
    pub hold_s: f32,
    /// `(MIDI key, mono samples)` sorted by key.
    pub notes: Vec<(u8, Vec<f32>)>,
}

impl InstrumentNotes {
    /// The rendered note closest in pitch to `key`: `(its key, samples)`.
    pub fn nearest(&self, key: u8) -> Option<(u8, &[f32])> {
        self.notes
            .iter()
            .min_by_key(|(k, _)| (i32::from(*k) - i32::from(key)).abs())
            .map(|(k, s)| (*k, s.as_slice()))
    }
}

/// All instruments' notes at one sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct NoteBank {
    /// Sample rate of every note (Hz).
    pub sample_rate: u32,
    /// Notes by instrument (every [`Instrument`] is present).
    pub instruments: BTreeMap<Instrument, InstrumentNotes>,
}

impl NoteBank {
    /// Reads `notes/index.json` and the FLAC files next to it.
    ///
    /// # Errors
    /// [`DataError::Missing`] / [`DataError::Json`] / [`DataError::Audio`] for unreadable files,
    /// [`DataError::Asset`] when an instrument is missing or an offset is out of range.
    pub fn load(dir: &Path) -> Result<NoteBank> {
        let index: IndexFile = read_json(&dir.join("index.json"), "note bank index")?;
        let mut instruments = BTreeMap::new();
        for inst in Instrument::ALL {
            let asset = |detail: String| DataError::Asset { name: format!("notes/{}", inst.slug()), detail };
            let entry =
                index.instruments.get(inst.slug()).ok_or_else(|| asset("not in index.json".into()))?;
            let audio = av_audio::load_mono(dir.join(&entry.file))?;
            if audio.sample_rate != index.sample_rate {
                return Err(asset(format!("rate {} != index rate {}", audio.sample_rate, index.sample_rate)));
            }
            let mut notes = Vec::with_capacity(entry.notes.len());
            for n in &entry.notes {
                let samples = audio
                    .samples
                    .get(n.offset..n.offset + n.len)
                    .ok_or_else(|| asset(format!("note {} runs past the end of {}", n.key, entry.file)))?;
                notes.push((n.key, samples.to_vec()));
            }
            notes.sort_by_key(|(k, _)| *k);
            if notes.is_empty() {
                return Err(asset("no notes".into()));
            }
            instruments.insert(inst, InstrumentNotes { hold_s: entry.hold_s as f32, notes });
        }
        Ok(NoteBank { sample_rate: index.sample_rate, instruments })
    }

    /// The same notes at another rate (`av_audio::resample`, band-limited).
    ///
    /// # Errors
    /// [`DataError::Audio`] if resampling fails.
    pub fn resampled(&self, rate: u32) -> Result<NoteBank> {
        let mut instruments = BTreeMap::new();
        for (inst, notes) in &self.instruments {
            let mut out = Vec::with_capacity(notes.notes.len());
            for (k, s) in &notes.notes {
                out.push((*k, av_audio::resample(s, self.sample_rate, rate)?));
            }
            instruments.insert(*inst, InstrumentNotes { hold_s: notes.hold_s, notes: out });
        }
        Ok(NoteBank { sample_rate: rate, instruments })
    }

    /// One instrument's notes.
    ///
    /// # Errors
    /// [`DataError::Asset`] if the bank lacks it (cannot happen for a bank from [`NoteBank::load`]).
    pub fn get(&self, inst: Instrument) -> Result<&InstrumentNotes> {
        self.instruments
            .get(&inst)
            .ok_or_else(|| DataError::Asset { name: format!("notes/{inst}"), detail: "missing".into() })
    }
}
