//! Which clips are mixed: deterministic pairs of solo clips of different classes (the
//! mix-and-separate training pairs, and the Sound-of-Pixels / Co-Separation test protocol) and
//! multi-source scenes taken as they are (duets), from the offline benchmark or any list of
//! clips.
//!
//! SoP's loader (`dataset/music.py`) draws the second video uniformly at random, possibly of the
//! same class; we follow the brief of the paper's Table 3 protocol (Co-Separation) and always mix
//! two different classes. Every pair is a pure function of `(seed, pair index)`.

use std::collections::BTreeSet;
use std::ops::Range;

use av_data::Split;
use av_data::bench::{Generator, Scene};
use av_data::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SeparationError};

/// Stream tag of the pair sampler.
const TAG_PAIRS: u64 = 0x005E_9A12;

/// One single-source clip.
#[derive(Debug, Clone, PartialEq)]
pub struct SoloClip {
    /// Identifier (a benchmark scene id such as `"train_000012"`, or a video key).
    pub id: String,
    /// Class index in the vocabulary (MUSIC's 11 instruments for the benchmark).
    pub class: usize,
    /// The waveform (`clip_len` samples at the pipeline rate, unscaled).
    pub waveform: Vec<f32>,
}

/// A list of sources to be mixed by [`crate::Mixer::mix`] (which divides each by `N`).
#[derive(Debug, Clone, PartialEq)]
pub struct MixSpec {
    /// Identifier: the clip ids joined by `+`, or the scene id of a duet.
    pub id: String,
    /// Class of each source.
    pub classes: Vec<usize>,
    /// The sources, unscaled (`clip_len` samples each).
    pub sources: Vec<Vec<f32>>,
}

impl MixSpec {
    /// Two solo clips mixed together.
    pub fn pair(a: &SoloClip, b: &SoloClip) -> Self {
        Self {
            id: format!("{}+{}", a.id, b.id),
            classes: vec![a.class, b.class],
            sources: vec![a.waveform.clone(), b.waveform.clone()],
        }
    }

    /// Number of sources.
    pub fn num_sources(&self) -> usize {
        self.sources.len()
    }
}

/// `count` pairs `(i, j)` of indices into `classes` with `classes[i] != classes[j]`; pair `p`
/// depends only on `(seed, p)` and `classes`: `i` uniform over all clips, `j` uniform over the
/// clips of the other classes.
///
/// # Errors
/// [`SeparationError::NoPairs`] when fewer than two classes are present.
pub fn pair_different_classes(classes: &[usize], count: usize, seed: u64) -> Result<Vec<(usize, usize)>> {
    let distinct: BTreeSet<usize> = classes.iter().copied().collect();
    if distinct.len() < 2 {
        return Err(SeparationError::NoPairs(format!(
            "{} clips of {} class(es); at least two classes are needed",
            classes.len(),
            distinct.len()
        )));
    }
    Ok((0..count)
        .map(|p| {
            let mut rng = SplitMix64::from_words(&[seed, p as u64, TAG_PAIRS]);
            let i = rng.below(classes.len());
            let others = classes.iter().filter(|&&c| c != classes[i]).count();
            let k = rng.below(others);
            // The k-th clip of another class (exists: at least two classes are present).
            let j =
                classes.iter().enumerate().filter(|&(_, &c)| c != classes[i]).nth(k).map_or(i, |(j, _)| j);
            (i, j)
        })
        .collect())
}

/// Pairs of solo clips of different classes, mixed: [`pair_different_classes`] applied to
/// `solos`.
///
/// # Errors
/// [`SeparationError::NoPairs`].
pub fn solo_pairs(solos: &[SoloClip], count: usize, seed: u64) -> Result<Vec<MixSpec>> {
    let classes: Vec<usize> = solos.iter().map(|c| c.class).collect();
    Ok(pair_different_classes(&classes, count, seed)?
        .into_iter()
        .map(|(i, j)| MixSpec::pair(&solos[i], &solos[j]))
        .collect())
}

/// The separation clips of a benchmark split: single-source scenes as [`SoloClip`]s and
/// multi-source scenes (duets) as [`MixSpec`]s of their stems.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchClips {
    /// Sample rate of every waveform (Hz).
    pub sample_rate: u32,
    /// Single-source scenes.
    pub solos: Vec<SoloClip>,
    /// Multi-source scenes, their stems in source order (unscaled, so that
    /// [`crate::Mixer::mix`] reproduces the scene's own mixture `Σ stems / N`).
    pub duets: Vec<MixSpec>,
}

impl BenchClips {
    /// Generates scenes `range` of `split` (use a generator made with
    /// `BenchConfig::separation(seed)`: MUSIC's 11 classes, 11 025 Hz, 65 535 samples) and keeps
    /// their audio.
    ///
    /// # Errors
    /// [`SeparationError::Data`] from the generator.
    pub fn generate(generator: &Generator, split: Split, range: Range<u64>) -> Result<Self> {
        let scenes = generator.scenes(split, range)?;
        Self::from_scenes(scenes, generator.config().clip.sample_rate)
    }

    /// The same from scenes already generated (e.g. when the caller also needs their frames:
    /// take the images out first, the audio is moved out of the scenes here).
    ///
    /// # Errors
    /// [`SeparationError::Shape`] for a scene whose stems do not match its sounding objects.
    pub fn from_scenes(scenes: Vec<Scene>, sample_rate: u32) -> Result<Self> {
        let mut solos = Vec::new();
        let mut duets = Vec::new();
        for scene in scenes {
            let classes: Vec<usize> = scene.sounding().map(|o| o.class).collect();
            let mut stems: Vec<Vec<f32>> = scene.audio.stems.into_iter().map(|s| s.waveform).collect();
            match (classes.as_slice(), stems.len()) {
                ([class], 1) => {
                    solos.push(SoloClip { id: scene.id, class: *class, waveform: stems.remove(0) })
                }
                (_, n) if n >= 2 && classes.len() == n => {
                    duets.push(MixSpec { id: scene.id, classes, sources: stems });
                }
                _ => {
                    return Err(SeparationError::Shape {
                        op: "BenchClips::generate",
                        expected: "one stem per sounding object".into(),
                        actual: format!(
                            "{} sounding objects and {} stems in {}",
                            classes.len(),
                            stems.len(),
                            scene.id
                        ),
                    });
                }
            }
        }
        Ok(Self { sample_rate, solos, duets })
    }

    /// Training mixtures: `solo_pairs` pairs of solos of different classes, followed by every
    /// duet as given when `with_duets` (the paper's "multi-source" training of Table 3).
    ///
    /// # Errors
    /// [`SeparationError::NoPairs`] when `solo_pairs > 0` and the solos hold fewer than two
    /// classes.
    pub fn training_mixes(&self, solo_pairs: usize, with_duets: bool, seed: u64) -> Result<Vec<MixSpec>> {
        let mut mixes = if solo_pairs > 0 {
            crate::pairs::solo_pairs(&self.solos, solo_pairs, seed)?
        } else {
            Vec::new()
        };
        if with_duets {
            mixes.extend(self.duets.iter().cloned());
        }
        Ok(mixes)
    }

    /// Test mixtures of the Sound-of-Pixels / Co-Separation protocol: `count` pairs of solos of
    /// different classes.
    ///
    /// # Errors
    /// [`SeparationError::NoPairs`].
    pub fn test_pairs(&self, count: usize, seed: u64) -> Result<Vec<MixSpec>> {
        solo_pairs(&self.solos, count, seed)
    }
}

/// A serialisable summary of which clips a mixture came from (for reports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixOrigin {
    /// [`MixSpec::id`].
    pub id: String,
    /// [`MixSpec::classes`].
    pub classes: Vec<usize>,
}

impl From<&MixSpec> for MixOrigin {
    fn from(spec: &MixSpec) -> Self {
        Self { id: spec.id.clone(), classes: spec.classes.clone() }
    }
}
