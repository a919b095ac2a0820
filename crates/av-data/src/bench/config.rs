//! The generator's configuration.

use serde::{Deserialize, Serialize};

use crate::classes::Vocabulary;
use crate::error::{DataError, Result};

/// Sample rate and length of the generated audio clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipSpec {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Samples per clip.
    pub len: usize,
}

impl ClipSpec {
    /// Localization clips: 22 050 Hz, 5 s (110 250 samples), as the paper's log-mel input.
    pub const LOCALIZATION: ClipSpec = ClipSpec { sample_rate: 22_050, len: 110_250 };
    /// Separation clips: 11 025 Hz, 65 535 samples, as Sound-of-Pixels.
    pub const SEPARATION: ClipSpec = ClipSpec { sample_rate: 11_025, len: 65_535 };

    /// Clip duration in seconds.
    pub fn seconds(&self) -> f32 {
        self.len as f32 / self.sample_rate as f32
    }
}

/// How scenes are generated. Every scene is a pure function of this configuration, the asset
/// pack, the split and the scene index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Master seed.
    pub seed: u64,
    /// Class list the scenes draw instruments from and are labelled with.
    pub vocabulary: Vocabulary,
    /// Frame side in pixels (256).
    pub image_size: u32,
    /// Audio clip format.
    pub clip: ClipSpec,
    /// Difficulty levels (numbers of sounding sources, 1..=3), drawn uniformly per scene.
    pub levels: Vec<u8>,
    /// Probability that a scene also shows silent distractor objects.
    pub distractor_prob: f64,
    /// Most distractors in one scene (1.. when `distractor_prob > 0`).
    pub max_distractors: u8,
    /// Largest IoU allowed between two sprites' rectangles when placing them.
    pub max_overlap_iou: f64,
    /// Smallest fraction of an object's own opaque pixels that must stay visible after
    /// occlusion.
    pub min_visible_fraction: f64,
    /// RMS level of every stem before mixing (then scaled by a random gain in [0.7, 1]).
    pub stem_rms: f32,
    /// Which picture families, SoundFonts and background groups the scenes draw from. Absent
    /// from older plans, which read as [`AssetSelection::legacy`].
    #[serde(default = "AssetSelection::legacy")]
    pub assets: AssetSelection,
    /// The out-of-family test set's assets (picture families, SoundFonts and backgrounds never
    /// used by `assets`), if the benchmark has one.
    #[serde(default)]
    pub out_of_family: Option<AssetSelection>,
    /// Training-split augmentation (off by default and in older plans).
    #[serde(default)]
    pub augment: Augment,
}

/// A choice of assets from the pack: names of `sprites/<family>/`, `notes/<font>/` and groups
/// of `backgrounds/index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetSelection {
    /// Picture families; each object is drawn in one of those that picture its instrument.
    pub sprite_families: Vec<String>,
    /// SoundFonts; each source plays one of them, drawn per source.
    pub soundfonts: Vec<String>,
    /// Background groups of every split; [`LEGACY_GROUP`] is the first benchmark's 12 photos.
    pub background_groups: Vec<String>,
    /// More background groups for the training split only: photos fetched by
    /// `tools/assets/fetch_backgrounds.sh` (never committed), so that validation and test
    /// scenes stay the same on machines without them.
    #[serde(default)]
    pub train_background_groups: Vec<String>,
    /// More SoundFonts for the training split only, drawn like `soundfonts`: note banks
    /// rendered by `tools/assets/fetch_soundfonts.sh` into the cache (GPL / CC-BY-SA, never
    /// committed), so that validation and test scenes stay the same on machines without them.
    #[serde(default)]
    pub train_soundfonts: Vec<String>,
    /// More picture families for the training split only, drawn like `sprite_families`
    /// (committed in the pack), so that adding them leaves validation and test scenes as they
    /// were.
    #[serde(default)]
    pub train_sprite_families: Vec<String>,
}

/// The background group that stands for the first benchmark's 12 scikit-image photos.
pub const LEGACY_GROUP: &str = "legacy";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

impl AssetSelection {
    /// The first benchmark's assets: one picture per instrument (Twemoji or our own drawing),
    /// FluidR3_GM, 12 photos. Scenes are identical to those generated before families existed.
    pub fn legacy() -> Self {
        Self {
            sprite_families: names(&["twemoji", "own"]),
            soundfonts: names(&["fluidr3_gm"]),
            background_groups: names(&[LEGACY_GROUP]),
            train_background_groups: Vec::new(),
            train_soundfonts: Vec::new(),
            train_sprite_families: Vec::new(),
        }
    }

    /// Training and in-family test assets of the broad benchmark: 11 picture families, 2
    /// SoundFonts, the committed photos but the held-out group, and for training the fetched
    /// photo groups (`mate-backgrounds`, `plasma-workspace-wallpapers`).
    pub fn in_family() -> Self {
        Self {
            sprite_families: names(&[
                "twemoji",
                "own",
                "own_flat",
                "own_cartoon",
                "noto",
                "noto_v1",
                "fluent_flat",
                "fluent_color",
                "fluent_hc",
                "emojione",
                "mdi",
            ]),
            soundfonts: names(&["fluidr3_gm", "musescore_general"]),
            background_groups: names(&["skimage", "matplotlib", "sklearn", "scipy"]),
            train_background_groups: names(&["mate-backgrounds", "plasma-workspace-wallpapers"]),
            train_soundfonts: Vec::new(),
            train_sprite_families: Vec::new(),
        }
    }

    /// The out-of-family test assets, never used by [`AssetSelection::in_family`]: line art,
    /// gradient emoji and silhouettes (`own_line`, `fxemoji`, `game_icons`), the public-domain
    /// csound GM bank, and the `held_out` photos.
    pub fn held_out() -> Self {
        Self {
            sprite_families: names(&["own_line", "fxemoji", "game_icons"]),
            soundfonts: names(&["csound_gmbank"]),
            background_groups: names(&["held_out"]),
            train_background_groups: Vec::new(),
            train_soundfonts: Vec::new(),
            train_sprite_families: Vec::new(),
        }
    }
    fn validate(&self, what: &str) -> Result<()> {
        if self.sprite_families.is_empty() || self.soundfonts.is_empty() || self.background_groups.is_empty()
        {
            return Err(DataError::InvalidConfig(format!(
                "{what}: needs at least one picture family, SoundFont and background group"
            )));
        }
        Ok(())
    }
}

/// Training-split augmentation. Validation and test scenes are never augmented. Each setting is
/// a probability per scene (visual) or per source (audio) unless it says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Master switch.
    pub enabled: bool,
    /// Largest sprite rotation in degrees (uniform in `[-max, max]`).
    pub rotate_deg: f32,
    /// Brightness, contrast and saturation jitter of the whole frame (each factor in `[1-j, 1+j]`).
    pub color_jitter: f32,
    /// Probability of a greyscale frame.
    pub greyscale: f64,
    /// Probability of a Gaussian blur (sigma 0.5-1.5 px).
    pub blur: f64,
    /// Probability of additive pixel noise (sigma 3-12 grey levels).
    pub pixel_noise: f64,
    /// Probability of a JPEG round trip (quality 25-85).
    pub jpeg: f64,
    /// Probability of an EQ (random low- and high-shelf gains within ±9 dB).
    pub eq: f64,
    /// Probability of reverb (Schroeder, decay 0.2-1.2 s, wet 10-40 %).
    pub reverb: f64,
    /// Probability of a transposition by ±1-3 semitones (within the instrument's range).
    pub pitch: f64,
    /// Probability of a circular time shift of a source.
    pub time_shift: f64,
    /// Probability of a background sound that belongs to no class (an out-of-vocabulary
    /// instrument or hum), at 0.2-0.6 of the sources' level.
    pub background_sound: f64,
    /// Probability of noise in the mixture (SNR 10-40 dB).
    pub mix_noise: f64,
    /// Probability per sprite of a restyle: a one-colour silhouette, an outline drawing, or
    /// flat colours in permuted hues (one of the three, uniformly), so that training sees
    /// drawing styles beyond its picture families. 0 (the default, and when absent from a
    /// stored plan) draws nothing from the random stream, so older plans make the same scenes.
    #[serde(default)]
    pub sprite_style: f64,
    /// Probability of clutter: one or two pictures of silent things that are not instruments
    /// (the pack's `clutter/`: animals, people, furniture, tools), painted onto the background
    /// under the instruments at 22-45 % of the frame, unlabelled. 0 (the default, and when
    /// absent from a stored plan) draws nothing from any random stream, so older plans make
    /// the same scenes.
    #[serde(default)]
    pub clutter: f64,
}

impl Default for Augment {
    fn default() -> Self {
        Self::off()
    }
}

impl Augment {
    /// No augmentation.
    pub fn off() -> Self {
        Self {
            enabled: false,
            rotate_deg: 0.0,
            color_jitter: 0.0,
            greyscale: 0.0,
            blur: 0.0,
            pixel_noise: 0.0,
            jpeg: 0.0,
            eq: 0.0,
            reverb: 0.0,
            pitch: 0.0,
            time_shift: 0.0,
            background_sound: 0.0,
            mix_noise: 0.0,
            sprite_style: 0.0,
            clutter: 0.0,
        }
    }

    /// The broad benchmark's training augmentation.
    pub fn standard() -> Self {
        Self {
            enabled: true,
            rotate_deg: 20.0,
            color_jitter: 0.3,
            greyscale: 0.1,
            blur: 0.2,
            pixel_noise: 0.2,
            jpeg: 0.3,
            eq: 0.5,
            reverb: 0.4,
            pitch: 0.3,
            time_shift: 0.5,
            background_sound: 0.3,
            mix_noise: 0.4,
            sprite_style: 0.0,
            clutter: 0.0,
        }
    }
}

impl BenchConfig {
    /// Localization benchmark: AudioSet's 15 classes, 22 050 Hz 5-s clips, levels 1-3, silent
    /// distractors in 30 % of the scenes.
    pub fn localization(seed: u64) -> Self {
        Self {
            seed,
            vocabulary: Vocabulary::AudioSet15,
            image_size: 256,
            clip: ClipSpec::LOCALIZATION,
            levels: vec![1, 2, 3],
            distractor_prob: 0.3,
            max_distractors: 1,
            max_overlap_iou: 0.15,
            min_visible_fraction: 0.6,
            stem_rms: 0.08,
            assets: AssetSelection::legacy(),
            out_of_family: None,
            augment: Augment::off(),
        }
    }

    /// The broad benchmark: [`BenchConfig::localization`] over every in-family picture family,
    /// SoundFont and photo group, with [`Augment::standard`] on the training split and the
    /// [`AssetSelection::held_out`] assets as its out-of-family test set.
    pub fn broad_localization(seed: u64) -> Self {
        Self {
            assets: AssetSelection::in_family(),
            out_of_family: Some(AssetSelection::held_out()),
            augment: Augment::standard(),
            ..Self::localization(seed)
        }
    }

    /// The same benchmark drawing from its out-of-family assets, `None` without them.
    pub fn out_of_family_config(&self) -> Option<BenchConfig> {
        self.out_of_family.clone().map(|assets| BenchConfig { assets, out_of_family: None, ..self.clone() })
    }

    /// Separation benchmark: MUSIC's 11 instruments, 11 025 Hz 65 535-sample clips, solos and
    /// duets (levels 1 and 2).
    pub fn separation(seed: u64) -> Self {
        Self {
            vocabulary: crate::classes::Vocabulary::Music11,
            clip: ClipSpec::SEPARATION,
            levels: vec![1, 2],
            ..Self::localization(seed)
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DataError::InvalidConfig(m));
        if self.levels.is_empty() || self.levels.iter().any(|&l| !(1..=3).contains(&l)) {
            return bad(format!("levels must be non-empty and within 1..=3, got {:?}", self.levels));
        }
        if self.image_size < 64 {
            return bad(format!("image_size {} < 64", self.image_size));
        }
        if self.clip.sample_rate == 0 || self.clip.len == 0 {
            return bad(format!("clip {:?}", self.clip));
        }
        if !(0.0..=1.0).contains(&self.distractor_prob) || !(0.0..=1.0).contains(&self.max_overlap_iou) {
            return bad("probabilities must lie in [0, 1]".into());
        }
        if !(0.0..1.0).contains(&self.min_visible_fraction) {
            return bad("min_visible_fraction must lie in [0, 1)".into());
        }
        let max_objects =
            usize::from(*self.levels.iter().max().unwrap_or(&1)) + usize::from(self.max_distractors);
        if max_objects > self.vocabulary.len() {
            return bad(format!("{max_objects} objects need more classes than {:?} has", self.vocabulary));
        }
        if !(self.stem_rms > 0.0 && self.stem_rms < 0.5) {
            return bad(format!("stem_rms {} outside (0, 0.5)", self.stem_rms));
        }
        self.assets.validate("assets")?;
        if let Some(o) = &self.out_of_family {
            o.validate("out_of_family")?;
        }
        let a = &self.augment;
        let probs = [a.greyscale, a.blur, a.pixel_noise, a.jpeg, a.eq, a.reverb, a.pitch, a.time_shift];
        if probs
            .iter()
            .chain([a.background_sound, a.mix_noise, a.sprite_style, a.clutter].iter())
            .any(|p| !(0.0..=1.0).contains(p))
            || !(0.0..=90.0).contains(&a.rotate_deg)
            || !(0.0..1.0).contains(&a.color_jitter)
        {
            return bad(format!("augmentation settings out of range: {a:?}"));
        }
        Ok(())
    }
}
