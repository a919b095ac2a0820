//! Class vocabularies: the 19 instruments the benchmark can render, MUSIC's 11 and AudioSet's 15
//! classes in the orders of the reference code, and the 7 SoundNet-Flickr pseudo-label categories.

use serde::{Deserialize, Serialize};

/// An instrument the offline benchmark can draw and play: the union of MUSIC's 11 and the
/// AudioSet-instrument subset's 15 classes ("Guitar" and "acoustic_guitar" are one instrument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Instrument {
    /// Accordion (GM 21).
    Accordion,
    /// Acoustic (steel-string) guitar (GM 25); AudioSet's "Guitar".
    AcousticGuitar,
    /// Banjo (GM 105).
    Banjo,
    /// Cello (GM 42).
    Cello,
    /// Clarinet (GM 71).
    Clarinet,
    /// Drum kit (GM percussion bank 128, MIDI channel 10).
    Drum,
    /// Erhu. No GM patch exists: "Fiddle" (GM 110) with glides and vibrato is the closest.
    Erhu,
    /// Flute (GM 73).
    Flute,
    /// Harmonica (GM 22).
    Harmonica,
    /// Orchestral harp (GM 46).
    Harp,
    /// French horn (GM 60); AudioSet's "Horn".
    Horn,
    /// Oboe (GM 68).
    Oboe,
    /// Acoustic grand piano (GM 0).
    Piano,
    /// Alto saxophone (GM 65).
    Saxophone,
    /// Trombone (GM 57).
    Trombone,
    /// Trumpet (GM 56).
    Trumpet,
    /// Tuba (GM 58).
    Tuba,
    /// Violin (GM 40).
    Violin,
    /// Xylophone (GM 13).
    Xylophone,
}

/// A General-MIDI patch: bank 0 melodic programs, or the percussion kit (bank 128).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GmPatch {
    /// MIDI bank (0 for melodic programs, 128 for the percussion kit).
    pub bank: u8,
    /// 0-based GM program number.
    pub program: u8,
}

/// MIDI keys of the drum-kit pieces the note bank holds (GM percussion map): kick, snare, closed
/// hi-hat, open hi-hat, low tom, high tom, crash, ride.
pub const DRUM_KEYS: [u8; 8] = [36, 38, 42, 46, 45, 48, 49, 51];

impl Instrument {
    /// Every instrument, in the (alphabetical) order of this enum.
    pub const ALL: [Instrument; 19] = [
        Instrument::Accordion,
        Instrument::AcousticGuitar,
        Instrument::Banjo,
        Instrument::Cello,
        Instrument::Clarinet,
        Instrument::Drum,
        Instrument::Erhu,
        Instrument::Flute,
        Instrument::Harmonica,
        Instrument::Harp,
        Instrument::Horn,
        Instrument::Oboe,
        Instrument::Piano,
        Instrument::Saxophone,
        Instrument::Trombone,
        Instrument::Trumpet,
        Instrument::Tuba,
        Instrument::Violin,
        Instrument::Xylophone,
    ];

    /// Snake-case name, used for file names and JSON (`"acoustic_guitar"`); equals MUSIC's
    /// category names for MUSIC's 11 instruments.
    pub fn slug(self) -> &'static str {
        match self {
            Instrument::Accordion => "accordion",
            Instrument::AcousticGuitar => "acoustic_guitar",
            Instrument::Banjo => "banjo",
            Instrument::Cello => "cello",
            Instrument::Clarinet => "clarinet",
            Instrument::Drum => "drum",
            Instrument::Erhu => "erhu",
            Instrument::Flute => "flute",
            Instrument::Harmonica => "harmonica",
            Instrument::Harp => "harp",
            Instrument::Horn => "horn",
            Instrument::Oboe => "oboe",
            Instrument::Piano => "piano",
            Instrument::Saxophone => "saxophone",
            Instrument::Trombone => "trombone",
            Instrument::Trumpet => "trumpet",
            Instrument::Tuba => "tuba",
            Instrument::Violin => "violin",
            Instrument::Xylophone => "xylophone",
        }
    }

    /// Parses a slug (see [`Instrument::slug`]) or an AudioSet display name (`"Guitar"`, `"Horn"`),
    /// case-insensitively; spaces count as underscores.
    pub fn from_name(name: &str) -> Option<Instrument> {
        let norm = name.trim().to_ascii_lowercase().replace(' ', "_");
        match norm.as_str() {
            "guitar" => return Some(Instrument::AcousticGuitar),
            "french_horn" => return Some(Instrument::Horn),
            "drums" | "drum_kit" => return Some(Instrument::Drum),
            _ => {}
        }
        Instrument::ALL.into_iter().find(|i| i.slug() == norm)
    }

    /// The General-MIDI patch whose timbre the note bank was rendered with.
    pub fn gm_patch(self) -> GmPatch {
        let program = match self {
            Instrument::Accordion => 21,
            Instrument::AcousticGuitar => 25,
            Instrument::Banjo => 105,
            Instrument::Cello => 42,
            Instrument::Clarinet => 71,
            Instrument::Drum => 0,
            Instrument::Erhu => 110,
            Instrument::Flute => 73,
            Instrument::Harmonica => 22,
            Instrument::Harp => 46,
            Instrument::Horn => 60,
            Instrument::Oboe => 68,
            Instrument::Piano => 0,
            Instrument::Saxophone => 65,
            Instrument::Trombone => 57,
            Instrument::Trumpet => 56,
            Instrument::Tuba => 58,
            Instrument::Violin => 40,
            Instrument::Xylophone => 13,
        };
        GmPatch { bank: if self == Instrument::Drum { 128 } else { 0 }, program }
    }

    /// Lowest and highest MIDI key of the melodies (inclusive, 24 semitones apart); `None` for the
    /// drum kit, which plays [`DRUM_KEYS`].
    pub fn melody_range(self) -> Option<(u8, u8)> {
        let lo = match self {
            Instrument::Drum => return None,
            Instrument::Accordion => 53,
            Instrument::AcousticGuitar => 45,
            Instrument::Banjo => 50,
            Instrument::Cello => 40,
            Instrument::Clarinet => 55,
            Instrument::Erhu => 62,
            Instrument::Flute => 67,
            Instrument::Harmonica => 60,
            Instrument::Harp => 55,
            Instrument::Horn => 45,
            Instrument::Oboe => 62,
            Instrument::Piano => 48,
            Instrument::Saxophone => 52,
            Instrument::Trombone => 40,
            Instrument::Trumpet => 58,
            Instrument::Tuba => 29,
            Instrument::Violin => 62,
            Instrument::Xylophone => 65,
        };
        Some((lo, lo + 24))
    }

    /// MIDI keys rendered into the note bank: every 8 semitones across the melody range (so no
    /// note is pitch-shifted by more than 4 semitones), or the drum-kit pieces.
    pub fn anchor_keys(self) -> Vec<u8> {
        match self.melody_range() {
            Some((lo, _)) => vec![lo + 4, lo + 12, lo + 20],
            None => DRUM_KEYS.to_vec(),
        }
    }

    /// Whether the instrument rings after a note ends (plucked or struck): such notes get a long
    /// release instead of a short fade.
    pub fn is_struck(self) -> bool {
        matches!(
            self,
            Instrument::AcousticGuitar
                | Instrument::Banjo
                | Instrument::Harp
                | Instrument::Piano
                | Instrument::Xylophone
                | Instrument::Drum
        )
    }

    /// Whether melodies may contain two-note chords (dyads).
    pub fn is_polyphonic(self) -> bool {
        matches!(
            self,
            Instrument::Accordion
                | Instrument::AcousticGuitar
                | Instrument::Banjo
                | Instrument::Harp
                | Instrument::Piano
                | Instrument::Harmonica
        )
    }

    /// Vibrato depth in semitones used by the sequencer (bowed strings, erhu), 0 for none.
    pub fn vibrato_depth(self) -> f32 {
        match self {
            Instrument::Erhu => 0.35,
            Instrument::Violin | Instrument::Cello => 0.15,
            Instrument::Flute | Instrument::Oboe | Instrument::Saxophone => 0.06,
            _ => 0.0,
        }
    }
}

impl std::fmt::Display for Instrument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// MUSIC's 11 categories in the order of the dataset's JSON files and Sound-of-Pixels.
pub const MUSIC_CLASSES: [Instrument; 11] = [
    Instrument::Accordion,
    Instrument::AcousticGuitar,
    Instrument::Cello,
    Instrument::Clarinet,
    Instrument::Erhu,
    Instrument::Flute,
    Instrument::Saxophone,
    Instrument::Trumpet,
    Instrument::Tuba,
    Instrument::Violin,
    Instrument::Xylophone,
];

/// The 15 AudioSet-instrument classes in the order of the official code (`utils/normav.json`
/// category ids 0..14).
pub const AUDIOSET_CLASSES: [Instrument; 15] = [
    Instrument::Banjo,
    Instrument::Cello,
    Instrument::Drum,
    Instrument::AcousticGuitar,
    Instrument::Harp,
    Instrument::Harmonica,
    Instrument::Oboe,
    Instrument::Piano,
    Instrument::Saxophone,
    Instrument::Trombone,
    Instrument::Trumpet,
    Instrument::Violin,
    Instrument::Flute,
    Instrument::Accordion,
    Instrument::Horn,
];

/// The display names of [`AUDIOSET_CLASSES`] exactly as in `normav.json`.
pub const AUDIOSET_NAMES: [&str; 15] = [
    "Banjo",
    "Cello",
    "Drum",
    "Guitar",
    "Harp",
    "Harmonica",
    "Oboe",
    "Piano",
    "Saxophone",
    "Trombone",
    "Trumpet",
    "Violin",
    "Flute",
    "Accordion",
    "Horn",
];

/// The 7 SoundNet-Flickr / AVE pseudo-label categories (AudioSet level-1 labels) in the order
/// of the official `cluster_a.npy` rows (docs/reference_implementation.md §4.1).
pub const FLICKR_CATEGORIES: [&str; 7] = [
    "Human sounds",
    "Source-ambiguous sounds",
    "Animal",
    "Sounds of things",
    "Music",
    "Natural sounds",
    "Channel, environment and background",
];

/// A class list the benchmark labels scenes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vocabulary {
    /// MUSIC's 11 instruments ([`MUSIC_CLASSES`]).
    Music11,
    /// AudioSet-instrument's 15 classes ([`AUDIOSET_CLASSES`]).
    AudioSet15,
}

impl Vocabulary {
    /// The instruments, index = class id.
    pub fn classes(self) -> &'static [Instrument] {
        match self {
            Vocabulary::Music11 => &MUSIC_CLASSES,
            Vocabulary::AudioSet15 => &AUDIOSET_CLASSES,
        }
    }

    /// Number of classes C.
    pub fn len(self) -> usize {
        self.classes().len()
    }

    /// Always false (no vocabulary is empty); present for API symmetry with [`Vocabulary::len`].
    pub fn is_empty(self) -> bool {
        false
    }

    /// Class id of an instrument, `None` if it is not in this vocabulary.
    pub fn index_of(self, instrument: Instrument) -> Option<usize> {
        self.classes().iter().position(|&i| i == instrument)
    }

    /// Display name of class `index` as the dataset files spell it (`"Guitar"` for AudioSet,
    /// `"acoustic_guitar"` for MUSIC); `None` when out of range.
    pub fn name(self, index: usize) -> Option<&'static str> {
        match self {
            Vocabulary::Music11 => MUSIC_CLASSES.get(index).map(|i| i.slug()),
            Vocabulary::AudioSet15 => AUDIOSET_NAMES.get(index).copied(),
        }
    }

    /// All display names, index = class id.
    pub fn names(self) -> Vec<&'static str> {
        (0..self.len()).filter_map(|i| self.name(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for inst in Instrument::ALL {
            assert_eq!(Instrument::from_name(inst.slug()), Some(inst));
        }
        for (i, name) in AUDIOSET_NAMES.iter().enumerate() {
            assert_eq!(Instrument::from_name(name), Some(AUDIOSET_CLASSES[i]));
            assert_eq!(Vocabulary::AudioSet15.index_of(AUDIOSET_CLASSES[i]), Some(i));
        }
        assert_eq!(Instrument::from_name("Acoustic Guitar"), Some(Instrument::AcousticGuitar));
        assert_eq!(Instrument::from_name("kazoo"), None);
    }

    #[test]
    fn anchors_cover_the_range_within_four_semitones() {
        for inst in Instrument::ALL {
            let anchors = inst.anchor_keys();
            if let Some((lo, hi)) = inst.melody_range() {
                for key in lo..=hi {
                    let d = anchors.iter().map(|&a| (i32::from(a) - i32::from(key)).abs()).min();
                    assert!(d.is_some_and(|d| d <= 4), "{inst} key {key}");
                }
            }
        }
    }
}
