//! The benchmark generator: determinism under a seed and ground-truth invariants.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use av_data::bench::backgrounds::BACKGROUNDS;
use av_data::bench::sprites::split_variants;
use av_data::bench::{AssetPack, BenchConfig, ClipSpec, Generator, Scene};
use av_data::{Split, Vocabulary};

fn assets() -> Arc<AssetPack> {
    static PACK: OnceLock<Arc<AssetPack>> = OnceLock::new();
    PACK.get_or_init(|| Arc::new(AssetPack::load_default().unwrap())).clone()
}

fn generator(config: BenchConfig) -> Generator {
    Generator::new(assets(), config).unwrap()
}

fn check_invariants(scene: &Scene, config: &BenchConfig) {
    let size = config.image_size;
    assert_eq!(scene.image.dimensions(), (size, size));
    let sounding: Vec<_> = scene.sounding().collect();
    assert_eq!(sounding.len(), usize::from(scene.level), "{}: level = number of sounding objects", scene.id);
    assert_eq!(scene.audio.stems.len(), sounding.len());
    assert!(config.levels.contains(&scene.level));
    let mut classes = HashSet::new();
    for (k, o) in scene.objects.iter().enumerate() {
        assert!(classes.insert(o.class), "{}: classes are distinct", scene.id);
        assert_eq!(config.vocabulary.classes()[o.class], o.instrument);
        assert_eq!(o.source, if o.sounding { Some(k) } else { None }, "sounding objects come first");
        assert!(
            o.bbox.is_valid() && o.bbox.is_inside(size, size, 0.0),
            "{}: box {:?} inside",
            scene.id,
            o.bbox
        );
        assert_eq!(o.bbox.x0.fract() + o.bbox.x1.fract() + o.bbox.y0.fract() + o.bbox.y1.fract(), 0.0);
        // The mask lies inside its box, and the box is tight around it.
        let mut count = 0;
        for y in 0..size {
            for x in 0..size {
                if o.mask.get(x, y) {
                    count += 1;
                    assert!(
                        o.bbox.contains_pixel(x, y),
                        "{}: mask pixel ({x},{y}) outside {:?}",
                        scene.id,
                        o.bbox
                    );
                }
            }
        }
        assert!(count >= 16);
        assert_eq!(o.mask.bbox(), Some(o.bbox));
        assert!(split_variants(scene.split).contains(&o.variant));
    }
    // Visible masks of different objects never overlap (each pixel shows one front-most object).
    for (i, a) in scene.objects.iter().enumerate() {
        for b in &scene.objects[i + 1..] {
            let mut both = 0;
            for y in a.bbox.y0 as u32..a.bbox.y1 as u32 {
                for x in a.bbox.x0 as u32..a.bbox.x1 as u32 {
                    both += usize::from(a.mask.get(x, y) && b.mask.get(x, y));
                }
            }
            assert_eq!(both, 0, "{}", scene.id);
        }
    }
    // The mix is the sum of the stems divided by their number.
    let n = scene.audio.stems.len() as f32;
    assert_eq!(scene.audio.mix.len(), config.clip.len);
    assert_eq!(scene.audio.sample_rate, config.clip.sample_rate);
    for (i, m) in scene.audio.mix.iter().enumerate() {
        let sum: f32 = scene.audio.stems.iter().map(|s| s.waveform[i]).sum();
        assert!((m - sum / n).abs() <= 1e-6, "{}: sample {i}", scene.id);
    }
    for s in &scene.audio.stems {
        assert_eq!(s.waveform.len(), config.clip.len);
        let peak = s.waveform.iter().fold(0.0f32, |a, x| a.max(x.abs()));
        let rms = (s.waveform.iter().map(|x| x * x).sum::<f32>() / s.waveform.len() as f32).sqrt();
        assert!(peak <= 0.99 + 1e-6 && rms > 0.01, "{}: {} peak {peak} rms {rms}", scene.id, s.instrument);
    }
    let bg = BACKGROUNDS.iter().find(|b| b.0 == scene.background).unwrap();
    assert_eq!(bg.1, scene.split, "backgrounds are held out per split");
}

#[test]
fn scenes_satisfy_the_ground_truth_invariants() {
    let config = BenchConfig::localization(11);
    let g = generator(config.clone());
    let mut levels = [0usize; 4];
    let mut distractors = 0;
    for split in Split::ALL {
        for scene in g.scenes(split, 0..12).unwrap() {
            check_invariants(&scene, &config);
            levels[usize::from(scene.level)] += 1;
            distractors += scene.objects.iter().filter(|o| !o.sounding).count();
        }
    }
    assert!(levels[1] > 0 && levels[2] > 0 && levels[3] > 0, "{levels:?}");
    assert!(distractors > 0);
}

#[test]
fn levels_can_be_fixed() {
    for level in 1..=3u8 {
        let config =
            BenchConfig { levels: vec![level], distractor_prob: 1.0, ..BenchConfig::localization(3) };
        let g = generator(config.clone());
        for scene in g.scenes(Split::Val, 0..4).unwrap() {
            assert_eq!(scene.level, level);
            assert_eq!(scene.objects.len(), usize::from(level) + 1, "one silent distractor");
            check_invariants(&scene, &config);
        }
    }
}

#[test]
fn separation_clips_follow_sound_of_pixels() {
    let config = BenchConfig::separation(5);
    assert_eq!(config.clip, ClipSpec { sample_rate: 11_025, len: 65_535 });
    assert_eq!(config.vocabulary, Vocabulary::Music11);
    let g = generator(config.clone());
    for scene in g.scenes(Split::Train, 0..6).unwrap() {
        check_invariants(&scene, &config);
        assert!(scene.level <= 2);
    }
}

#[test]
fn same_seed_same_scene_different_seed_different_scene() {
    let a = generator(BenchConfig::localization(42));
    let b = generator(BenchConfig::localization(42));
    let c = generator(BenchConfig::localization(43));
    for i in 0..3 {
        let (sa, sb, sc) = (
            a.scene(Split::Test, i).unwrap(),
            b.scene(Split::Test, i).unwrap(),
            c.scene(Split::Test, i).unwrap(),
        );
        assert_eq!(sa, sb);
        assert_ne!(sa.image, sc.image);
        assert_ne!(sa.audio.mix, sc.audio.mix);
    }
    // Generation order and parallelism do not matter.
    let batch = a.scenes(Split::Test, 0..3).unwrap();
    assert_eq!(batch[2], a.scene(Split::Test, 2).unwrap());
}

#[test]
fn validation_and_test_melodies_are_held_out() {
    let g = generator(BenchConfig::localization(9));
    let fingerprints = |split: Split| -> HashSet<u64> {
        g.scenes(split, 0..20)
            .unwrap()
            .iter()
            .flat_map(|s| s.audio.stems.iter().map(|st| st.melody.fingerprint()).collect::<Vec<_>>())
            .collect()
    };
    let train = fingerprints(Split::Train);
    for split in [Split::Val, Split::Test] {
        assert!(fingerprints(split).is_disjoint(&train), "{split}");
    }
}
