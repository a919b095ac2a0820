//! The broad benchmark: picture families, SoundFonts and photo groups per split, the
//! out-of-family test set, and training augmentation.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use av_data::bench::{AssetPack, AssetSelection, BenchConfig, Generator};
use av_data::{DataError, Split};

fn assets() -> Arc<AssetPack> {
    static PACK: OnceLock<Arc<AssetPack>> = OnceLock::new();
    PACK.get_or_init(|| Arc::new(AssetPack::load_default().unwrap())).clone()
}

/// The broad configuration without the fetched training photos (absent on a fresh clone).
fn broad() -> BenchConfig {
    let mut config = BenchConfig::broad_localization(5);
    config.assets.train_background_groups.clear();
    config
}

#[test]
fn every_class_is_pictured_in_family_and_out_of_family() {
    let pack = assets();
    for selection in [AssetSelection::in_family(), AssetSelection::held_out()] {
        pack.check_selection(&selection).unwrap();
        for &inst in broad().vocabulary.classes() {
            assert!(
                selection.sprite_families.iter().any(|f| pack.sprites.has(f, inst)),
                "{inst} has no picture in {:?}",
                selection.sprite_families
            );
        }
    }
    let (a, b) = (AssetSelection::in_family(), AssetSelection::held_out());
    assert!(a.sprite_families.iter().all(|f| !b.sprite_families.contains(f)));
    assert!(a.soundfonts.iter().all(|f| !b.soundfonts.contains(f)));
    let groups: Vec<&String> = a.background_groups.iter().chain(&a.train_background_groups).collect();
    assert!(groups.iter().all(|g| !b.background_groups.contains(g)));
}

#[test]
fn scenes_draw_only_from_their_selection() {
    let config = broad();
    let g = Generator::new(assets(), config.clone()).unwrap();
    let out = g.out_of_family().unwrap();
    let held = AssetSelection::held_out();
    let backgrounds: Vec<_> = assets().backgrounds.infos().cloned().collect();
    let group_of = |name: &str| backgrounds.iter().find(|b| b.name == name).unwrap().group.clone();
    let (mut families, mut fonts) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for i in 0..24 {
        let s = g.scene(Split::Train, i).unwrap();
        assert!(config.assets.background_groups.contains(&group_of(&s.background)), "{}", s.background);
        for o in &s.objects {
            assert!(config.assets.sprite_families.contains(&o.family), "{}", o.family);
            families.insert(o.family.clone());
        }
        for st in &s.audio.stems {
            assert!(config.assets.soundfonts.contains(&st.font));
            fonts.insert(st.font.clone());
        }
        let t = out.scene(Split::Test, i).unwrap();
        assert_eq!(group_of(&t.background), "held_out");
        assert!(t.objects.iter().all(|o| held.sprite_families.contains(&o.family)));
        assert!(t.audio.stems.iter().all(|st| st.font == "csound_gmbank"));
    }
    assert!(families.len() >= 5, "families drawn: {families:?}");
    assert_eq!(fonts.len(), 2, "fonts drawn: {fonts:?}");
}

#[test]
fn augmentation_touches_training_scenes_only_and_is_deterministic() {
    let on = broad();
    let mut off = broad();
    off.augment.enabled = false;
    let (a, b) = (Generator::new(assets(), on).unwrap(), Generator::new(assets(), off).unwrap());
    for split in [Split::Val, Split::Test] {
        let (x, y) = (a.scene(split, 3).unwrap(), b.scene(split, 3).unwrap());
        assert_eq!(x.image, y.image, "{split} scenes are never augmented");
        assert_eq!(x.audio.mix, y.audio.mix);
    }
    let mut changed = 0;
    for i in 0..8 {
        let (x, y) = (a.scene(Split::Train, i).unwrap(), b.scene(Split::Train, i).unwrap());
        assert_eq!(x.image, a.scene(Split::Train, i).unwrap().image, "deterministic");
        assert_eq!(x.level, y.level);
        assert!(x.audio.mix.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
        changed += usize::from(x.image != y.image || x.audio.mix != y.audio.mix);
    }
    assert!(changed >= 6, "augmentation changed {changed} of 8 training scenes");
}

#[test]
fn a_missing_fetched_photo_group_is_a_typed_error_that_says_how_to_fetch_it() {
    let mut config = broad();
    config.assets.train_background_groups = vec!["no-such-group".into()];
    let g = Generator::new(assets(), config).unwrap();
    let err = g.scene(Split::Train, 0).unwrap_err();
    assert!(matches!(err, DataError::Asset { .. }), "{err:?}");
    assert!(err.to_string().contains("fetch_backgrounds.sh"), "{err}");
    // Validation and test scenes do not need the fetched photos.
    assert!(g.scene(Split::Val, 0).is_ok());
    let mut unknown = broad();
    unknown.assets.sprite_families.push("no-such-family".into());
    assert!(matches!(Generator::new(assets(), unknown), Err(DataError::Asset { .. })));
}

/// Training-only SoundFonts play in training scenes only; validation and test scenes are the
/// same as without them, and a missing one is a typed error for training scenes alone.
#[test]
fn training_only_soundfonts_play_in_training_scenes_only() {
    let mut base = broad();
    base.assets.soundfonts = vec!["fluidr3_gm".into()];
    let mut extra = base.clone();
    extra.assets.train_soundfonts = vec!["musescore_general".into()];
    let (a, b) = (Generator::new(assets(), base).unwrap(), Generator::new(assets(), extra).unwrap());
    let mut train_fonts = Vec::new();
    for i in 0..12 {
        let s = b.scene(Split::Train, i).unwrap();
        train_fonts.extend(s.audio.stems.iter().map(|st| st.font.clone()));
        let (v, w) = (a.scene(Split::Val, i).unwrap(), b.scene(Split::Val, i).unwrap());
        assert_eq!(v.audio.mix, w.audio.mix, "validation scene {i} changed");
        assert!(w.audio.stems.iter().all(|st| st.font == "fluidr3_gm"));
    }
    assert!(train_fonts.iter().any(|f| f == "musescore_general"), "{train_fonts:?}");
    assert!(train_fonts.iter().any(|f| f == "fluidr3_gm"), "{train_fonts:?}");

    let mut missing = broad();
    missing.assets.train_soundfonts = vec!["no-such-font".into()];
    let g = Generator::new(assets(), missing).unwrap();
    for err in [g.scene(Split::Train, 0).unwrap_err(), g.no_class_clip(Split::Train, 0).unwrap_err()] {
        assert!(matches!(err, DataError::Asset { .. }), "{err:?}");
        assert!(err.to_string().contains("fetch_soundfonts.sh"), "{err}");
    }
    assert!(g.scene(Split::Test, 0).is_ok());
}

/// Training-only picture families appear in training scenes alone: validation and test scenes
/// are the same as without them (same frames), and an unknown family is a typed error.
#[test]
fn training_only_picture_families_appear_in_training_scenes_only() {
    let base = broad();
    let mut extra = base.clone();
    let train_only = ["iconoven", "qlementine", "dinkie", "iconmind", "emojione_mono", "streamline_emojis"];
    extra.assets.train_sprite_families = train_only.iter().map(|f| (*f).to_string()).collect();
    for f in &extra.assets.train_sprite_families {
        assert!(!AssetSelection::held_out().sprite_families.contains(f), "{f} is held out");
        assert!(!base.assets.sprite_families.contains(f), "{f} is already in-family");
    }
    let (a, b) = (Generator::new(assets(), base).unwrap(), Generator::new(assets(), extra).unwrap());
    let mut drawn = std::collections::BTreeSet::new();
    for i in 0..48 {
        let s = b.scene(Split::Train, i).unwrap();
        drawn.extend(s.objects.iter().map(|o| o.family.clone()));
        for split in [Split::Val, Split::Test] {
            let (v, w) = (a.scene(split, i).unwrap(), b.scene(split, i).unwrap());
            assert_eq!(v.image, w.image, "{split} scene {i} changed");
            assert!(w.objects.iter().all(|o| !train_only.contains(&o.family.as_str())), "{split} {i}");
        }
    }
    let train_drawn = drawn.iter().filter(|f| train_only.contains(&f.as_str())).count();
    assert!(train_drawn >= 3, "training-only families drawn: {drawn:?}");

    let mut unknown = broad();
    unknown.assets.train_sprite_families = vec!["no-such-family".into()];
    let err = Generator::new(assets(), unknown).unwrap_err();
    assert!(matches!(err, DataError::Asset { .. }), "{err:?}");
}

/// Clutter (silent non-instrument pictures on the background) touches training frames alone:
/// the objects, their boxes and masks and the audio are those of the same scene without it,
/// some frames change, it is deterministic, and validation scenes never have it.
#[test]
fn clutter_paints_training_backgrounds_only() {
    assert!(assets().clutter.len() >= 50, "clutter pictures: {}", assets().clutter.len());
    let base = broad();
    let mut with = base.clone();
    with.augment.clutter = 1.0;
    let (a, b) = (Generator::new(assets(), base).unwrap(), Generator::new(assets(), with).unwrap());
    let mut changed = 0;
    for i in 0..12 {
        let (s, t) = (a.scene(Split::Train, i).unwrap(), b.scene(Split::Train, i).unwrap());
        assert_eq!(s.audio.mix, t.audio.mix, "training scene {i}: audio changed");
        assert_eq!(s.objects.len(), t.objects.len());
        for (o, p) in s.objects.iter().zip(&t.objects) {
            assert_eq!((o.class, o.bbox, &o.family), (p.class, p.bbox, &p.family), "scene {i}");
            assert_eq!(o.mask, p.mask, "scene {i}: a mask changed");
        }
        changed += usize::from(s.image != t.image);
        assert_eq!(t.image, b.scene(Split::Train, i).unwrap().image, "not deterministic");
        assert_eq!(a.scene(Split::Val, i).unwrap().image, b.scene(Split::Val, i).unwrap().image);
    }
    assert_eq!(changed, 12, "clutter 1.0 must change every training frame");

    let mut bad = broad();
    bad.augment.clutter = 1.5;
    assert!(matches!(Generator::new(assets(), bad).unwrap_err(), DataError::InvalidConfig(_)));
}

/// A no-class clip (a training negative) is audible, of the clip length, clipped to [-1, 1], a
/// pure function of (seed, split, index), and differs between indices; with the AudioSet
/// vocabulary some of them are instruments outside it, never silence.
#[test]
fn no_class_clips_are_audible_reproducible_and_varied() {
    let generator = Generator::new(assets(), broad()).unwrap();
    let len = broad().clip.len;
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    let clips: Vec<Vec<f32>> = (0..12).map(|i| generator.no_class_clip(Split::Train, i).unwrap()).collect();
    for (i, clip) in clips.iter().enumerate() {
        assert_eq!(clip.len(), len, "clip {i}");
        assert!(clip.iter().all(|v| v.is_finite() && v.abs() <= 1.0), "clip {i}");
        assert!(rms(clip) > 1e-3, "clip {i} is audible: rms {}", rms(clip));
    }
    assert_eq!(clips[3], generator.no_class_clip(Split::Train, 3).unwrap());
    assert_ne!(clips[3], generator.no_class_clip(Split::Val, 3).unwrap());
    for i in 1..clips.len() {
        assert_ne!(clips[i], clips[0], "clip {i}");
    }
}
