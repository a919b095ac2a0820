//! Melodies and drum patterns, and the sequencer that plays them with the note bank.
//!
//! A melody is a repeated, varied motif in a random scale and tempo inside the instrument's
//! two-octave range ([`Instrument::melody_range`]); plucked and keyboard instruments add thirds
//! below some notes. The drum kit plays a random 16-step groove with fills. Notes are the bank's
//! nearest rendered note pitch-shifted by resampling (at most 4 semitones, linear interpolation),
//! with vibrato for bowed strings and an initial glide for the erhu.

use serde::{Deserialize, Serialize};

use crate::bench::notes::InstrumentNotes;
use crate::classes::{DRUM_KEYS, Instrument};
use crate::rng::{SplitMix64, hash_words};

/// A scale, as semitone offsets from the tonic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Ionian.
    Major,
    /// Aeolian.
    NaturalMinor,
    /// Dorian.
    Dorian,
    /// Major pentatonic.
    MajorPentatonic,
    /// Minor pentatonic.
    MinorPentatonic,
}

impl Scale {
    const ALL: [Scale; 5] =
        [Scale::Major, Scale::NaturalMinor, Scale::Dorian, Scale::MajorPentatonic, Scale::MinorPentatonic];

    fn steps(self) -> &'static [u8] {
        match self {
            Scale::Major => &[0, 2, 4, 5, 7, 9, 11],
            Scale::NaturalMinor => &[0, 2, 3, 5, 7, 8, 10],
            Scale::Dorian => &[0, 2, 3, 5, 7, 9, 10],
            Scale::MajorPentatonic => &[0, 2, 4, 7, 9],
            Scale::MinorPentatonic => &[0, 3, 5, 7, 10],
        }
    }
}

/// One note.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoteEvent {
    /// Start, seconds from the clip start.
    pub onset_s: f32,
    /// Held duration, seconds (a release follows).
    pub duration_s: f32,
    /// MIDI key.
    pub key: u8,
    /// Gain in (0, 1].
    pub velocity: f32,
}

/// What one source plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Melody {
    /// Tempo in beats per minute.
    pub tempo_bpm: f32,
    /// Scale (ignored for drums).
    pub scale: Scale,
    /// Tonic pitch class 0..12 (ignored for drums).
    pub tonic: u8,
    /// The notes, sorted by onset.
    pub events: Vec<NoteEvent>,
}

impl Melody {
    /// A hash of the note sequence (keys and onsets/durations rounded to 10 ms), used to check
    /// that held-out melodies differ from training ones.
    pub fn fingerprint(&self) -> u64 {
        let words: Vec<u64> = self
            .events
            .iter()
            .flat_map(|e| {
                [u64::from(e.key), (e.onset_s * 100.0).round() as u64, (e.duration_s * 100.0).round() as u64]
            })
            .collect();
        hash_words(&words)
    }
}

/// Composes `seconds` of music for `inst`.
pub fn compose(inst: Instrument, rng: &mut SplitMix64, seconds: f32) -> Melody {
    match inst.melody_range() {
        Some((lo, hi)) => compose_melody(inst, rng, seconds, lo, hi),
        None => compose_drums(rng, seconds),
    }
}

fn compose_melody(inst: Instrument, rng: &mut SplitMix64, seconds: f32, lo: u8, hi: u8) -> Melody {
    let tempo_bpm = rng.range_f32(84.0, 150.0);
    let beat = 60.0 / tempo_bpm;
    let scale = *rng.choose(&Scale::ALL).unwrap_or(&Scale::Major);
    let tonic = rng.below(12) as u8;
    let keys: Vec<u8> = (lo..=hi).filter(|k| scale.steps().contains(&((k + 12 - tonic) % 12))).collect();
    let n = keys.len() as i32;
    // A motif of 3..6 (step, beats) pairs, repeated from shifted degrees, sometimes mutated.
    let step_weights = [0.03, 0.06, 0.13, 0.22, 0.04, 0.22, 0.13, 0.1, 0.07];
    let beat_choices = [0.5f32, 1.0, 1.5, 2.0];
    let beat_weights = [0.35, 0.35, 0.1, 0.2];
    let mut motif: Vec<(i32, f32)> = (0..3 + rng.below(4))
        .map(|_| (rng.weighted(&step_weights) as i32 - 4, beat_choices[rng.weighted(&beat_weights)]))
        .collect();
    let mut pos = n / 2 + rng.below(5) as i32 - 2;
    let mut t = rng.range_f32(0.0, 0.4);
    let mut events = Vec::new();
    let legato = rng.range_f32(0.75, 0.98);
    while t < seconds {
        if rng.chance(0.3) && !motif.is_empty() {
            let i = rng.below(motif.len());
            motif[i].0 = rng.weighted(&step_weights) as i32 - 4;
        }
        for (step, beats) in motif.clone() {
            if t >= seconds {
                break;
            }
            pos = reflect(pos + step, n);
            let key = keys[pos as usize];
            let velocity = rng.range_f32(0.7, 1.0);
            let duration_s = (beats * beat * legato).min(0.85);
            events.push(NoteEvent { onset_s: t, duration_s, key, velocity });
            if inst.is_polyphonic() && pos >= 2 && rng.chance(0.25) {
                events.push(NoteEvent {
                    onset_s: t,
                    duration_s,
                    key: keys[pos as usize - 2],
                    velocity: velocity * 0.8,
                });
            }
            t += beats * beat;
        }
        if rng.chance(0.35) {
            t += beat * beat_choices[rng.below(2)];
        }
        pos = reflect(pos + [-2, -1, 1, 2, 3][rng.below(5)], n);
    }
    Melody { tempo_bpm, scale, tonic, events }
}

fn compose_drums(rng: &mut SplitMix64, seconds: f32) -> Melody {
    let [kick, snare, closed, open, low_tom, high_tom, crash, ride] = DRUM_KEYS;
    let tempo_bpm = rng.range_f32(88.0, 140.0);
    let step = 60.0 / tempo_bpm / 4.0;
    let hat = if rng.chance(0.25) { ride } else { closed };
    let busy = rng.chance(0.3);
    // One bar groove, reused with variations.
    let mut groove: Vec<(usize, u8)> = vec![(0, kick), (8, kick), (4, snare), (12, snare)];
    for s in [3, 6, 10, 11, 14] {
        if rng.chance(0.3) {
            groove.push((s, kick));
        }
    }
    for s in (0..16).step_by(if busy { 1 } else { 2 }) {
        groove.push((s, if s == 14 && rng.chance(0.4) { open } else { hat }));
    }
    let bar = 16.0 * step;
    let mut events = Vec::new();
    let mut t0 = 0.0;
    let mut bar_index = 0;
    while t0 < seconds {
        let fill = bar_index % 4 == 3 && rng.chance(0.6);
        for &(s, key) in &groove {
            if fill && s >= 12 {
                continue;
            }
            let velocity = if key == hat { rng.range_f32(0.45, 0.7) } else { rng.range_f32(0.8, 1.0) };
            events.push(NoteEvent { onset_s: t0 + s as f32 * step, duration_s: 0.6, key, velocity });
        }
        if fill {
            for s in 12..16 {
                let key = if s < 14 { high_tom } else { low_tom };
                events.push(NoteEvent { onset_s: t0 + s as f32 * step, duration_s: 0.6, key, velocity: 0.9 });
            }
        }
        if bar_index % 4 == 0 && rng.chance(0.5) {
            events.push(NoteEvent { onset_s: t0, duration_s: 0.6, key: crash, velocity: 0.8 });
        }
        t0 += bar;
        bar_index += 1;
    }
    events.retain(|e| e.onset_s < seconds);
    events.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    Melody { tempo_bpm, scale: Scale::Major, tonic: 0, events }
}

/// Reflects an index into `0..n`.
fn reflect(i: i32, n: i32) -> i32 {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    if m < n { m } else { period - m }
}

/// Samples over which the pitch-shift ratio is held constant (vibrato and glides change it
/// between blocks, about every 1.5 ms at 22 050 Hz).
const RATIO_BLOCK: usize = 32;

/// Plays `melody` on `inst` into `len` samples at `rate` Hz (the rate of `notes`).
pub fn render(notes: &InstrumentNotes, inst: Instrument, melody: &Melody, rate: u32, len: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; len];
    let rate_f = rate as f32;
    let release_s = if inst.is_struck() { 0.35 } else { 0.08 };
    let depth = inst.vibrato_depth();
    for ev in &melody.events {
        let Some((anchor, src)) = notes.nearest(ev.key) else { continue };
        let start = (ev.onset_s * rate_f).round() as usize;
        if start >= len || src.len() < 2 {
            continue;
        }
        let base = ((f32::from(ev.key) - f32::from(anchor)) / 12.0).exp2();
        let play = (ev.duration_s * rate_f) as usize;
        let release = ((release_s * rate_f) as usize).max(1);
        let total = (play + release).min(len - start);
        let inv_release = 1.0 / release as f32;
        let last = (src.len() - 1) as f32;
        let dst = &mut out[start..start + total];
        let mut pos = 0.0f32;
        for (b, block) in dst.chunks_mut(RATIO_BLOCK).enumerate() {
            let i0 = b * RATIO_BLOCK;
            let t = i0 as f32 / rate_f;
            let mut semis = 0.0;
            if depth > 0.0 && t > 0.12 {
                semis += depth * (std::f32::consts::TAU * 5.5 * t).sin();
            }
            if inst == Instrument::Erhu && t < 0.08 {
                semis -= 1.0 - t / 0.08;
            }
            let ratio = if semis == 0.0 { base } else { base * (semis / 12.0).exp2() };
            // Samples of this block that still read inside the note.
            let valid = (((last - pos) / ratio).ceil().max(0.0) as usize).min(block.len());
            for (j, o) in block[..valid].iter_mut().enumerate() {
                // 1 while held, then a linear fade over the release.
                let env = ((play + release - (i0 + j)) as f32 * inv_release).min(1.0);
                let p = pos + j as f32 * ratio;
                let k = (p as usize).min(src.len() - 2);
                let frac = p - k as f32;
                *o += ev.velocity * env * (src[k] + (src[k + 1] - src[k]) * frac);
            }
            pos += block.len() as f32 * ratio;
            if valid < block.len() {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn melodies_stay_in_range_and_clip() {
        for inst in Instrument::ALL {
            let mut rng = SplitMix64::new(3);
            let m = compose(inst, &mut rng, 5.0);
            assert!(!m.events.is_empty(), "{inst}");
            for e in &m.events {
                assert!(e.onset_s >= 0.0 && e.onset_s < 5.0);
                match inst.melody_range() {
                    Some((lo, hi)) => assert!((lo..=hi).contains(&e.key), "{inst} {}", e.key),
                    None => assert!(DRUM_KEYS.contains(&e.key)),
                }
            }
        }
        assert_eq!(reflect(5, 4), 1);
        assert_eq!(reflect(-1, 4), 1);
    }

    #[test]
    fn render_pitch_shifts_by_resampling() {
        // A 100 Hz sine rendered one octave up must contain 200 Hz (zero crossings double).
        let rate = 8000;
        let sine: Vec<f32> =
            (0..8000).map(|i| (std::f32::consts::TAU * 100.0 * i as f32 / 8000.0).sin()).collect();
        let notes = InstrumentNotes { hold_s: 1.0, notes: vec![(60, sine)] };
        let m = Melody {
            tempo_bpm: 120.0,
            scale: Scale::Major,
            tonic: 0,
            events: vec![NoteEvent { onset_s: 0.0, duration_s: 0.4, key: 64, velocity: 1.0 }],
        };
        let out = render(&notes, Instrument::Trumpet, &m, rate, 8000);
        let crossings = out[..3200].windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
        // +4 semitones: 126 Hz -> about 50 crossings in 0.4 s.
        assert!((48..=52).contains(&crossings), "{crossings}");
    }
}
