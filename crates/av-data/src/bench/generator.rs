//! The scene generator: a pure function of `(config, asset pack, split, index)`.

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use crate::bench::assets::AssetPack;
use crate::bench::compose::{Placed, composite, place};
use crate::bench::config::BenchConfig;
use crate::bench::melody::{compose, render};
use crate::bench::notes::NoteBank;
use crate::bench::scene::{Scene, SceneAudio, SceneObject, Stem};
use crate::bench::sprites::split_variants;
use crate::error::{DataError, Result};
use crate::rng::SplitMix64;
use crate::split::Split;

/// Stream tags, so that the scene layout, the background view and each source's melody use
/// independent random streams.
const TAG_SCENE: u64 = 0x5CE4E;
const TAG_MELODY: u64 = 0xA0D10;
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
    bank: Arc<NoteBank>,
}

impl Generator {
    /// A generator; resamples the note bank once when the clip rate differs from 22 050 Hz.
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] for a bad configuration, [`DataError::Audio`] if
    /// resampling fails.
    pub fn new(assets: Arc<AssetPack>, config: BenchConfig) -> Result<Generator> {
        config.validate()?;
        let bank = if config.clip.sample_rate == assets.notes.sample_rate {
            Arc::new(assets.notes.clone())
        } else {
            Arc::new(assets.notes.resampled(config.clip.sample_rate)?)
        };
        Ok(Generator { assets, config, bank })
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
        let n_distractors = if cfg.max_distractors > 0 && rng.chance(cfg.distractor_prob) {
            1 + rng.below(usize::from(cfg.max_distractors))
        } else {
            0
        };
        let classes = &order[..usize::from(level) + n_distractors];
        let (background_name, background) = self.assets.backgrounds.sample(split, &mut rng.fork(1), size)?;

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
            for &c in classes {
                let inst = vocab[c];
                let variant = *layout_rng.choose(variants).unwrap_or(&0);
                let flip = layout_rng.chance(0.5);
                let long = (layout_rng.range_f32(lo, hi) * shrink * size as f32).round().max(8.0) as u32;
                specs.push((c, inst, variant, flip, self.assets.sprites.render(inst, variant, long, flip)?));
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
        let (specs, paint, image, masks) = accepted.ok_or_else(|| {
            DataError::InvalidConfig(format!(
                "could not place {} objects visibly in {split} scene {index}",
                classes.len()
            ))
        })?;

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
            });
        }

        let stems = objects
            .iter()
            .filter(|o| o.sounding)
            .enumerate()
            .map(|(k, o)| self.stem(split, index, k as u64, o.instrument))
            .collect::<Result<Vec<_>>>()?;
        let n = stems.len() as f32;
        let mut mix = vec![0.0f32; cfg.clip.len];
        for s in &stems {
            for (m, x) in mix.iter_mut().zip(&s.waveform) {
                *m += x / n;
            }
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

    /// The `k`-th source of a scene: a melody from the split's own stream (so validation and
    /// test melodies are never training melodies), rendered and normalised to
    /// `stem_rms * U(0.7, 1)` RMS with the peak kept below 0.99.
    fn stem(&self, split: Split, index: u64, k: u64, inst: crate::classes::Instrument) -> Result<Stem> {
        let cfg = &self.config;
        let mut rng = SplitMix64::from_words(&[cfg.seed, split.index(), index, k, TAG_MELODY]);
        let melody = compose(inst, &mut rng, cfg.clip.seconds());
        let mut waveform = render(self.bank.get(inst)?, inst, &melody, cfg.clip.sample_rate, cfg.clip.len);
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
        Ok(Stem { instrument: inst, melody, waveform })
    }

    /// Scenes `range` of `split`, generated in parallel (rayon), in index order.
    ///
    /// # Errors
    /// The first error of [`Generator::scene`].
    pub fn scenes(&self, split: Split, range: Range<u64>) -> Result<Vec<Scene>> {
        range.into_par_iter().map(|i| self.scene(split, i)).collect()
    }
}
