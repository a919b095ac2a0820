//! Generate -> write -> load, for each layout: the loaders of the real datasets read the
//! generated data and recover its ground truth. Also: identical bytes on disk for the same seed.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use av_data::bench::{
    AssetPack, BenchConfig, DatasetWriter, Generator, Layout, Scene, WriteOptions, load_mask,
    read_benchmark_gt,
};
use av_data::layouts::audioset::AudioSetLayout;
use av_data::layouts::flickr::{FlickrTestLayout, FlickrTrainLayout};
use av_data::layouts::music::{MusicKind, MusicLayout};
use av_data::manifest::{DatasetKind, Manifest, verify_manifest};
use av_data::{SkipPolicy, Split};

fn assets() -> Arc<AssetPack> {
    static PACK: OnceLock<Arc<AssetPack>> = OnceLock::new();
    PACK.get_or_init(|| Arc::new(AssetPack::load_default().unwrap())).clone()
}

/// A fresh (empty) scratch directory.
fn scratch(name: &str) -> PathBuf {
    av_testkit::tmp_dir(&format!("av-data-roundtrip-{name}"))
}

/// Generates `counts` scenes per split and writes them; returns the scenes and the manifest.
fn write(
    root: &PathBuf,
    layout: Layout,
    config: BenchConfig,
    options: WriteOptions,
    counts: [u64; 3],
) -> (Vec<Scene>, Manifest) {
    let g = Generator::new(assets(), config.clone()).unwrap();
    let writer = DatasetWriter::new(root, layout, config, options).unwrap();
    let mut scenes = Vec::new();
    for (split, n) in Split::ALL.into_iter().zip(counts) {
        scenes.extend(g.scenes(split, 0..n).unwrap());
    }
    let records = scenes.iter().map(|s| writer.write_scene(s).unwrap()).collect();
    let manifest = writer.finish(records, g.assets().fingerprint()).unwrap();
    (scenes, manifest)
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let s: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    s as f64 / a.as_raw().len() as f64
}

#[test]
fn flickr_layout_round_trip() {
    let root = scratch("flickr");
    let config = BenchConfig::localization(21);
    let (scenes, manifest) = write(&root, Layout::Flickr, config.clone(), WriteOptions::default(), [4, 2, 3]);
    assert_eq!(manifest.kind, DatasetKind::Flickr);
    assert_eq!(manifest.generator.as_ref().map(|g| g.seed), Some(21));
    assert!(verify_manifest(&root).unwrap().is_clean());

    let (train, report) = FlickrTrainLayout::new(root.join("train")).load(SkipPolicy::Error).unwrap();
    assert_eq!(report.loaded, 4);
    assert_eq!(train.classes.len(), 15);
    for (pair, scene) in train.pairs.iter().zip(scenes.iter().filter(|s| s.split == Split::Train)) {
        assert_eq!(pair.id, scene.id);
        let labels = pair.labels.as_ref().unwrap();
        assert_eq!(labels.audio, scene.audio_labels(15));
        assert_eq!(labels.visual, scene.visual_labels(15));
        assert!(close(&pair.load_audio().unwrap(), &scene.audio.mix, 1e-6), "float WAV is exact");
        assert!(mean_abs_diff(&pair.load_frame().unwrap(), &scene.image) < 3.0, "JPEG q95");
    }

    let (test, _) = FlickrTestLayout::new(root.join("test")).load(SkipPolicy::Error).unwrap();
    let test_scenes: Vec<&Scene> = scenes.iter().filter(|s| s.split == Split::Test).collect();
    assert_eq!(test.len(), 3);
    for (item, scene) in test.iter().zip(&test_scenes) {
        assert_eq!(item.id, scene.id);
        assert_eq!(item.boxes.len(), 2 * usize::from(scene.level), "two agreeing annotators per object");
        for (pair, o) in item.boxes.chunks(2).zip(scene.sounding()) {
            assert_eq!(pair[0].bbox, o.bbox);
            assert_eq!(pair[1].bbox, o.bbox);
            assert_eq!(pair[0].label.as_deref(), config.vocabulary.name(o.class));
        }
    }

    let gt = read_benchmark_gt(&root).unwrap();
    assert_eq!(gt.scenes.len(), scenes.len());
    for (rec, scene) in gt.scenes.iter().zip(&scenes) {
        assert_eq!(rec.id, scene.id);
        for (ro, so) in rec.objects.iter().zip(&scene.objects) {
            assert_eq!(load_mask(&root, ro).unwrap(), so.mask);
            if let (Some(stem), Some(k)) = (&ro.stem, so.source) {
                let wav = av_audio::load_mono(root.join(stem)).unwrap();
                assert!(close(&wav.samples, &scene.audio.stems[k].waveform, 0.0));
            }
        }
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn audioset_layout_round_trip() {
    let root = scratch("audioset");
    let options = WriteOptions { frames_per_clip: 2, stems: false, ..WriteOptions::default() };
    let (scenes, _) = write(&root, Layout::AudioSet, BenchConfig::localization(22), options, [2, 0, 3]);
    let (split, report) = AudioSetLayout::split(&root, "test").load(SkipPolicy::Error).unwrap();
    assert_eq!(report.skipped.len(), 0);
    assert_eq!(split.classes[3], "Guitar");
    let test: Vec<&Scene> = scenes.iter().filter(|s| s.split == Split::Test).collect();
    assert_eq!(split.clips.len(), 3);
    assert_eq!(split.frames.len(), 6, "2 frames per clip, all annotated");
    for (clip, scene) in split.clips.iter().zip(&test) {
        assert_eq!(clip.ytid, scene.id);
        let tags: Vec<u8> = scene.audio_labels(15).iter().map(|&x| x as u8).collect();
        assert_eq!(clip.tags, tags);
        assert_eq!(clip.frames.len(), 2);
        assert!(close(&clip.load_audio(0, 5).unwrap(), &scene.audio.mix, 1e-6));
        for frame in split.frames.iter().filter(|f| f.clip == clip.index) {
            assert_eq!(frame.level(), usize::from(scene.level));
            for (b, o) in frame.boxes.iter().zip(scene.sounding()) {
                assert_eq!(b.class, o.class);
                for (x, y) in [
                    (b.bbox.x0, o.bbox.x0),
                    (b.bbox.y0, o.bbox.y0),
                    (b.bbox.x1, o.bbox.x1),
                    (b.bbox.y1, o.bbox.y1),
                ] {
                    assert!((x - y).abs() < 1e-9);
                }
            }
        }
    }
    // The training split has no boxes file only if it was not written; here it was.
    assert_eq!(AudioSetLayout::split(&root, "train").load(SkipPolicy::Error).unwrap().0.clips.len(), 2);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn music_layout_round_trip() {
    let root = scratch("music");
    let (scenes, _) =
        write(&root, Layout::Music, BenchConfig::separation(23), WriteOptions::default(), [4, 2, 2]);
    let (videos, report) = MusicLayout::new(&root).load(SkipPolicy::Error).unwrap();
    assert_eq!(report.loaded, scenes.len());
    for scene in &scenes {
        let v = videos.iter().find(|v| v.id == scene.id).unwrap();
        assert_eq!(v.split, scene.split, "{}", scene.id);
        assert_eq!(v.kind, if scene.level == 1 { MusicKind::Solo } else { MusicKind::Duet });
        let mut expected: Vec<_> = scene.sounding().map(|o| o.instrument).collect();
        expected.sort_by_key(|i| av_data::classes::MUSIC_CLASSES.iter().position(|m| m == i));
        assert_eq!(v.instruments, expected);
        assert_eq!(v.n_frames, 1);
        assert!(close(&v.load_audio().unwrap(), &scene.audio.mix, 1e-6));
    }
    // Level-3 scenes cannot be written as MUSIC.
    let bad = BenchConfig { levels: vec![3], ..BenchConfig::separation(1) };
    assert!(DatasetWriter::new(scratch("music-bad"), Layout::Music, bad, WriteOptions::default()).is_err());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn same_seed_writes_identical_bytes() {
    let files = |seed: u64, name: &str| {
        let root = scratch(name);
        let (_, m) =
            write(&root, Layout::Flickr, BenchConfig::localization(seed), WriteOptions::default(), [2, 1, 1]);
        std::fs::remove_dir_all(&root).unwrap();
        m.files
    };
    let a = files(5, "det-a");
    let b = files(5, "det-b");
    let c = files(6, "det-c");
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed: every file has the same size and SHA-256");
    let differing = a.iter().zip(&c).filter(|(x, y)| x.sha256 != y.sha256).count();
    assert!(differing > a.len() / 2, "different seed: {differing} of {} files differ", a.len());
}
