//! The scene generator: a pure function of `(config, asset pack, split, index)`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::bench::assets::AssetPack;
use crate::bench::augment::{
    add_noise, augment_frame, eq, hum, restyle_sprite, reverb, rms, rotate_rgba, time_shift,
};
use crate::bench::compose::{Placed, composite, place};
use crate::bench::config::BenchConfig;
use crate::bench::melody::{compose, render};
use crate::bench::notes::NoteBank;
use crate::bench::scene::{Scene, SceneAudio, SceneObject, Stem};
use crate::bench::sprites::split_variants;
use crate::classes::Instrument;
use crate::error::{DataError, Result};
use crate::rng::SplitMix64;
use crate::split::Split;

/// Stream tags, so that the scene layout, the background view and each source's melody use
/// independent random streams.
const TAG_SCENE: u64 = 0x5CE4E;
const TAG_MELODY: u64 = 0xA0D10;
/// Streams of the choices that the first benchmark did not make (picture family, SoundFont,
/// augmentation): separate, so that a legacy configuration draws exactly what it drew before.
const TAG_FAMILY: u64 = 0xFA3117;
const TAG_FONT: u64 = 0xF0_4E7;
const TAG_AUGMENT: u64 = 0xA06_3E47;
/// Stream of the clips that hold no instrument of the vocabulary ([`Generator::no_class_clip`]).
const TAG_NO_CLASS: u64 = 0x40C_1A55;
/// Stream of the clutter painted onto training backgrounds
/// ([`crate::bench::config::Augment::clutter`]).
const TAG_CLUTTER: u64 = 0xC1_0773;
/// Placement attempts before giving up (each retry after the 4th shrinks the sprites by 10 %).
const MAX_ATTEMPTS: i32 = 24;

/// Generates benchmark scenes.
///
/// ```no_run
/// use std::sync::Arc;
/// use av_data::bench::{AssetPack, BenchConfig, Generator};
/// use av_data::Split;
///
/// let assets = Arc::new(AssetPack::load_default()?);
/// let generator = Generator::new(assets, BenchConfig::localization(7))?;
/// let scene = generator.scene(Split::Test, 0)?;
/// assert_eq!(scene.image.dimensions(), (256, 256));
/// # Ok::<(), av_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Generator {
    assets: Arc<AssetPack>,
    config: BenchConfig,
    banks: Arc<BTreeMap<String, NoteBank>>,
    /// A training-only photo group the pack lacks (training scenes are refused; validation and
    /// test scenes do not need it).
    missing_train_group: Option<String>,
    /// A training-only SoundFont neither the pack nor the cache has (likewise).
    missing_train_font: Option<String>,
}

impl Generator {
    /// A generator; resamples the selected note banks once when the clip rate differs from
    /// theirs.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] for a bad configuration, [`DataError::Asset`] when the
    /// pack lacks a selected family, font or photo group, [`DataError::Audio`] if resampling
    /// fails.
    pub fn new(assets: Arc<AssetPack>, config: BenchConfig) -> Result<Generator> {
        config.validate()?;
        assets.check_selection(&config.assets)?;
        if config.augment.clutter > 0.0 && assets.clutter.is_empty() {
            return Err(DataError::Asset {
                name: "clutter/".into(),
                detail: "the plan asks for clutter (augment.clutter > 0) but the asset pack has no clutter pictures"
                    .into(),
            });
        }
        // The note banks at the clip rate: every selected font, and the training-only ones the
        // pack or the cache has (a missing one is refused when a training scene needs it).
        let at_rate = |bank: &NoteBank| -> Result<NoteBank> {
            if config.clip.sample_rate == bank.sample_rate {
                Ok(bank.clone())
            } else {
                bank.resampled(config.clip.sample_rate)
            }
        };
        let mut banks = BTreeMap::new();
        for font in &config.assets.soundfonts {
            banks.insert(font.clone(), at_rate(assets.font(font)?)?);
        }
        let mut missing_train_font = None;
        for font in &config.assets.train_soundfonts {
            match assets.fonts.get(font) {
                Some(bank) => {
                    banks.insert(font.clone(), at_rate(bank)?);
                }
                None => missing_train_font = missing_train_font.or(Some(font.clone())),
            }
        }
        let missing_train_group = config
            .assets
            .train_background_groups
            .iter()
            .find(|g| assets.backgrounds.check_group(g).is_err())
            .cloned();
        Ok(Generator { assets, config, banks: Arc::new(banks), missing_train_group, missing_train_font })
    }

    /// The generator of this benchmark's out-of-family test set (its `out_of_family` assets).
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] when the configuration has none; as [`Generator::new`].
    pub fn out_of_family(&self) -> Result<Generator> {
        let config = self.config.out_of_family_config().ok_or_else(|| {
            DataError::InvalidConfig("this benchmark configuration has no out-of-family assets".into())
        })?;
        Generator::new(self.assets.clone(), config)
    }

    /// The selected picture families of `split` that picture `inst`: `sprite_families`, and for
    /// training also `train_sprite_families`.
    fn families_of(&self, inst: Instrument, split: Split) -> Vec<&str> {
        let a = &self.config.assets;
        let extra = if split == Split::Train { a.train_sprite_families.as_slice() } else { &[] };
        a.sprite_families
            .iter()
            .chain(extra)
            .filter(|f| self.assets.sprites.has(f, inst))
            .map(String::as_str)
            .collect()
    }

    /// The configuration.
    pub fn config(&self) -> &BenchConfig {
        &self.config
    }

    /// The asset pack.
    pub fn assets(&self) -> &AssetPack {
        &self.assets
    }

    /// Scene `index` of `split`.
    ///
    /// # Errors
    /// [`DataError::Asset`] for an inconsistent asset pack; [`DataError::InvalidConfig`] if the
    /// objects cannot be placed visibly (not observed with the default configurations).
    pub fn scene(&self, split: Split, index: u64) -> Result<Scene> {
        let cfg = &self.config;
        let size = cfg.image_size;
        let mut rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, TAG_SCENE]);
        let level = cfg.levels[rng.below(cfg.levels.len())];
        let vocab = cfg.vocabulary.classes();
        let mut order: Vec<usize> = (0..vocab.len()).collect();
        rng.shuffle(&mut order);
        // Only classes that a selected family pictures (all of them in the legacy selection).
        order.retain(|&c| !self.families_of(vocab[c], split).is_empty());
        let n_distractors = if cfg.max_distractors > 0 && rng.chance(cfg.distractor_prob) {
            1 + rng.below(usize::from(cfg.max_distractors))
        } else {
            0
        };
        let needed = usize::from(level) + n_distractors;
        if order.len() < needed {
            return Err(DataError::InvalidConfig(format!(
                "{split} scene {index} needs {needed} classes but the picture families {:?} show only {}",
                cfg.assets.sprite_families,
                order.len()
            )));
        }
        let classes = &order[..needed];
        let mut groups = cfg.assets.background_groups.clone();
        if split == Split::Train {
            if let Some(g) = &self.missing_train_group {
                self.assets.backgrounds.check_group(g)?;
            }
            self.check_train_fonts(split)?;
            groups.extend(cfg.assets.train_background_groups.iter().cloned());
        }
        let (background_name, mut background) =
            self.assets.backgrounds.sample(split, &groups, &mut rng.fork(1), size)?;
        let augmenting = cfg.augment.enabled && split == Split::Train;
        if augmenting && cfg.augment.clutter > 0.0 {
            background = self.paint_clutter(background, split, index)?;
        }
        let mut aug_rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, TAG_AUGMENT]);
        let mut family_rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, TAG_FAMILY]);
        let families: Vec<String> = classes
            .iter()
            .map(|&c| {
                let options = self.families_of(vocab[c], split);
                let pick = if options.len() == 1 { 0 } else { family_rng.below(options.len()) };
                options[pick].to_string()
            })
            .collect();

        // Scale range of the longer sprite side, as a fraction of the frame, by object count.
        let (lo, hi) = match classes.len() {
            1 => (0.38, 0.62),
            2 => (0.30, 0.50),
            3 => (0.26, 0.42),
            _ => (0.22, 0.36),
        };
        let mut layout_rng = rng.fork(2);
        let variants = split_variants(split);
        let mut accepted = None;
        for attempt in 0..MAX_ATTEMPTS {
            let shrink = 0.9f32.powi((attempt - 3).max(0));
            let mut specs = Vec::with_capacity(classes.len());
            for (&c, family) in classes.iter().zip(&families) {
                let inst = vocab[c];
                let variant = *layout_rng.choose(variants).unwrap_or(&0);
                let flip = layout_rng.chance(0.5);
                let long = (layout_rng.range_f32(lo, hi) * shrink * size as f32).round().max(8.0) as u32;
                let mut sprite = self.assets.sprites.render(family, inst, variant, long, flip)?;
                if augmenting && cfg.augment.sprite_style > 0.0 && aug_rng.chance(cfg.augment.sprite_style) {
                    restyle_sprite(&mut sprite, &mut aug_rng);
                }
                if augmenting && cfg.augment.rotate_deg > 0.0 {
                    let r = cfg.augment.rotate_deg;
                    sprite = rotate_rgba(&sprite, aug_rng.range_f32(-r, r));
                }
                specs.push((c, inst, variant, flip, sprite));
            }
            let mut paint: Vec<usize> = (0..specs.len()).collect();
            layout_rng.shuffle(&mut paint);
            let sizes: Vec<(u32, u32)> = paint.iter().map(|&k| specs[k].4.dimensions()).collect();
            let positions = place(&sizes, size, cfg.max_overlap_iou, &mut layout_rng);
            let placed: Vec<Placed> = paint
                .iter()
                .zip(&positions)
                .map(|(&k, &(x, y))| Placed { sprite: specs[k].4.clone(), x, y })
                .collect();
            let (image, masks) = composite(&background, &placed);
            let visible = masks.iter().all(|(m, own)| {
                m.count() >= 16 && m.count() as f64 >= cfg.min_visible_fraction * *own as f64
            });
            if visible {
                accepted = Some((specs, paint, image, masks));
                break;
            }
        }
        let (specs, paint, mut image, masks) = accepted.ok_or_else(|| {
            DataError::InvalidConfig(format!(
                "could not place {} objects visibly in {split} scene {index}",
                classes.len()
            ))
        })?;

        if augmenting {
            augment_frame(&mut image, &cfg.augment, &mut aug_rng);
        }
        let level_n = usize::from(level);
        let mut objects = Vec::with_capacity(specs.len());
        for (k, (c, inst, variant, flipped, _)) in specs.into_iter().enumerate() {
            let depth = paint.iter().position(|&p| p == k).unwrap_or(0);
            let mask = masks[depth].0.clone();
            let bbox = mask.bbox().ok_or_else(|| DataError::InvalidConfig("empty mask".into()))?;
            let sounding = k < level_n;
            objects.push(SceneObject {
                instrument: inst,
                class: c,
                sounding,
                source: sounding.then_some(k),
                bbox,
                mask,
                variant,
                flipped,
                depth,
                family: families[k].clone(),
            });
        }

        let stems = objects
            .iter()
            .filter(|o| o.sounding)
            .enumerate()
            .map(|(k, o)| self.stem(split, index, k as u64, o.instrument, augmenting))
            .collect::<Result<Vec<_>>>()?;
        let n = stems.len() as f32;
        let mut mix = vec![0.0f32; cfg.clip.len];
        for s in &stems {
            for (m, x) in mix.iter_mut().zip(&s.waveform) {
                *m += x / n;
            }
        }
        if augmenting {
            self.augment_mix(&mut mix, split, index, &mut aug_rng)?;
        }
        Ok(Scene {
            id: format!("{split}_{index:06}"),
            split,
            index,
            level,
            background: background_name,
            image,
            objects,
            audio: SceneAudio { sample_rate: cfg.clip.sample_rate, mix, stems },
        })
    }

    /// With probability `augment.clutter`, one or two clutter pictures (silent things that are
    /// not instruments) painted onto a training scene's background, each 22-45 % of the frame
    /// on its longer side, mirrored or rotated like the instruments, anywhere in the frame. Its
    /// own random stream, so the rest of the scene is the same as without clutter.
    fn paint_clutter(
        &self,
        background: image::RgbImage,
        split: Split,
        index: u64,
    ) -> Result<image::RgbImage> {
        let cfg = &self.config;
        let bank = &self.assets.clutter;
        let mut rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, TAG_CLUTTER]);
        if !rng.chance(cfg.augment.clutter) {
            return Ok(background);
        }
        let size = cfg.image_size;
        let count = 1 + rng.below(2);
        let mut placed = Vec::with_capacity(count);
        for _ in 0..count {
            let k = rng.below(bank.len());
            let long = (rng.range_f32(0.22, 0.45) * size as f32).round().max(8.0) as u32;
            let flip = rng.chance(0.5);
            let mut picture = bank.render(k, long, flip).ok_or_else(|| DataError::Asset {
                name: "clutter/".into(),
                detail: format!("no clutter picture {k}"),
            })?;
            if cfg.augment.rotate_deg > 0.0 {
                let r = cfg.augment.rotate_deg;
                picture = rotate_rgba(&picture, rng.range_f32(-r, r));
            }
            let (w, h) = picture.dimensions();
            let x = rng.below((size.saturating_sub(w) + 1) as usize) as u32;
            let y = rng.below((size.saturating_sub(h) + 1) as usize) as u32;
            placed.push(Placed { sprite: picture, x, y });
        }
        Ok(composite(&background, &placed).0)
    }

    /// The `k`-th source of a scene: a melody from the split's own stream (so validation and
    /// test melodies are never training melodies), rendered and normalised to
    /// `stem_rms * U(0.7, 1)` RMS with the peak kept below 0.99.
    ///
    /// With `augmenting`, the melody may be transposed and the rendered source equalised,
    /// reverberated and shifted in time before the normalisation.
    fn stem(&self, split: Split, index: u64, k: u64, inst: Instrument, augmenting: bool) -> Result<Stem> {
        let cfg = &self.config;
        let mut rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, k, TAG_MELODY]);
        let mut melody = compose(inst, &mut rng, cfg.clip.seconds());
        let fonts = self.fonts_of(split);
        let font = if fonts.len() == 1 {
            fonts[0]
        } else {
            let mut font_rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, k, TAG_FONT]);
            fonts[font_rng.below(fonts.len())]
        };
        let bank = self.bank(font)?;
        let mut aug = SplitMix64::from_words(&[cfg.seed, split.index(), index, k, TAG_AUGMENT]);
        let a = &cfg.augment;
        if augmenting && inst.melody_range().is_some() && aug.chance(a.pitch) {
            let shift = (1 + aug.below(3)) as i32 * if aug.chance(0.5) { 1 } else { -1 };
            for e in &mut melody.events {
                e.key = (i32::from(e.key) + shift).clamp(0, 127) as u8;
            }
        }
        let mut waveform = render(bank.get(inst)?, inst, &melody, cfg.clip.sample_rate, cfg.clip.len);
        if augmenting {
            if aug.chance(a.eq) {
                eq(&mut waveform, cfg.clip.sample_rate, &mut aug);
            }
            if aug.chance(a.reverb) {
                reverb(&mut waveform, cfg.clip.sample_rate, &mut aug);
            }
            if aug.chance(a.time_shift) {
                time_shift(&mut waveform, &mut aug);
            }
        }
        // Sum of squares in f32 blocks of 1024, accumulated in f64.
        let energy: f64 =
            waveform.chunks(1024).map(|c| f64::from(c.iter().map(|x| x * x).sum::<f32>())).sum();
        let rms = (energy / waveform.len() as f64).sqrt() as f32;
        let peak = waveform.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if rms > 0.0 {
            let mut gain = cfg.stem_rms * rng.range_f32(0.7, 1.0) / rms;
            if peak * gain > 0.99 {
                gain = 0.99 / peak;
            }
            waveform.iter_mut().for_each(|x| *x *= gain);
        }
        Ok(Stem { instrument: inst, melody, font: font.clone(), waveform })
    }

    /// A typed error for a training scene or clip when a training-only SoundFont is missing.
    fn check_train_fonts(&self, split: Split) -> Result<()> {
        match (&self.missing_train_font, split) {
            (Some(f), Split::Train) => Err(DataError::Asset {
                name: format!("notes/{f}"),
                detail: format!(
                    "a training-only SoundFont that is not in the pack or in {}: fetch it with \
                     `bash tools/assets/fetch_soundfonts.sh`",
                    crate::bench::assets::cache_dir().join("notes").display()
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The SoundFonts sources of `split` play: `soundfonts`, and for training also
    /// `train_soundfonts`.
    fn fonts_of(&self, split: Split) -> Vec<&String> {
        let a = &self.config.assets;
        let extra = if split == Split::Train { a.train_soundfonts.as_slice() } else { &[] };
        a.soundfonts.iter().chain(extra).collect()
    }

    fn bank(&self, font: &str) -> Result<&NoteBank> {
        self.banks.get(font).ok_or_else(|| DataError::Asset {
            name: format!("notes/{font}"),
            detail: "not a selected SoundFont".into(),
        })
    }

    /// Mixture augmentation: a sound that belongs to no class (an instrument outside the
    /// vocabulary, or mains hum) at 0.2-0.6 of the sources' level, then white noise; the result
    /// is clipped to [-1, 1].
    fn augment_mix(&self, mix: &mut [f32], split: Split, index: u64, rng: &mut SplitMix64) -> Result<()> {
        let cfg = &self.config;
        let a = &cfg.augment;
        if rng.chance(a.background_sound) {
            let level = cfg.stem_rms * rng.range_f32(0.2, 0.6);
            let outside: Vec<Instrument> =
                Instrument::ALL.into_iter().filter(|i| cfg.vocabulary.index_of(*i).is_none()).collect();
            let sound = match rng.choose(&outside).copied() {
                Some(inst) if rng.chance(0.7) => {
                    let mut mrng = SplitMix64::from_words(&[cfg.seed, split.index(), index, 99, TAG_MELODY]);
                    let melody = compose(inst, &mut mrng, cfg.clip.seconds());
                    let fonts = self.fonts_of(split);
                    let font = fonts[rng.below(fonts.len())];
                    let mut w = render(
                        self.bank(font)?.get(inst)?,
                        inst,
                        &melody,
                        cfg.clip.sample_rate,
                        cfg.clip.len,
                    );
                    let r = rms(&w);
                    if r > 0.0 {
                        w.iter_mut().for_each(|v| *v *= level / r);
                    }
                    w
                }
                _ => hum(mix.len(), cfg.clip.sample_rate, level, rng),
            };
            mix.iter_mut().zip(&sound).for_each(|(m, s)| *m += s);
        }
        if rng.chance(a.mix_noise) {
            add_noise(mix, rng);
        }
        mix.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        Ok(())
    }

    /// Scenes `range` of `split`, generated in parallel (rayon), in index order.
    ///
    /// # Errors
    /// The first error of [`Generator::scene`].
    pub fn scenes(&self, split: Split, range: Range<u64>) -> Result<Vec<Scene>> {
        range.into_par_iter().map(|i| self.scene(split, i)).collect()
    }

    /// A clip that holds **no instrument of the vocabulary** (`clip.len` samples at
    /// `clip.sample_rate`), a training negative for "silence is an answer": with equal chances
    /// an instrument outside the vocabulary playing a melody (from a selected SoundFont; a hum
    /// when every instrument is in the vocabulary), a mains hum, white noise, or low-passed
    /// (one-pole, 0.97) noise; at 0.1-1.5 times the stems' RMS, with white noise added in half of
    /// them; clipped to [-1, 1]. A pure function of `(seed, split, index)`, independent of the
    /// scene `index` of the same split.
    ///
    /// # Errors
    /// [`DataError::Asset`] when the SoundFont lacks the outside instrument's notes.
    pub fn no_class_clip(&self, split: Split, index: u64) -> Result<Vec<f32>> {
        self.check_train_fonts(split)?;
        let cfg = &self.config;
        let (rate, len) = (cfg.clip.sample_rate, cfg.clip.len);
        let mut rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, TAG_NO_CLASS]);
        let level = cfg.stem_rms * rng.range_f32(0.1, 1.5);
        let outside: Vec<Instrument> =
            Instrument::ALL.into_iter().filter(|i| cfg.vocabulary.index_of(*i).is_none()).collect();
        let scaled = |mut w: Vec<f32>| {
            let r = rms(&w);
            if r > 0.0 {
                w.iter_mut().for_each(|v| *v *= level / r);
            }
            w
        };
        let mut clip = match (rng.below(4), rng.choose(&outside).copied()) {
            (0, Some(inst)) => {
                let melody = compose(inst, &mut rng, cfg.clip.seconds());
                let fonts = self.fonts_of(split);
                let font = fonts[rng.below(fonts.len())];
                scaled(render(self.bank(font)?.get(inst)?, inst, &melody, rate, len))
            }
            (0 | 1, _) => hum(len, rate, level, &mut rng),
            (2, _) => scaled((0..len).map(|_| rng.range_f32(-1.0, 1.0)).collect()),
            _ => {
                let mut y = 0.0f32;
                scaled(
                    (0..len)
                        .map(|_| {
                            y = 0.97 * y + rng.range_f32(-1.0, 1.0);
                            y
                        })
                        .collect(),
                )
            }
        };
        if rng.chance(0.5) {
            add_noise(&mut clip, &mut rng);
        }
        clip.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
        Ok(clip)
    }
}
