//! The loaders on small hand-written fixtures in each real layout (`tests/fixtures/`: text files
//! written by hand, 16x16 frames and 50 ms tones from `bash tests/fixtures/make_media.sh`).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use av_data::bbox::BBox;
use av_data::classes::FLICKR_CATEGORIES;
use av_data::layouts::audioset::AudioSetLayout;
use av_data::layouts::ave::AveLayout;
use av_data::layouts::flickr::{FLICKR_CLIP_LEN, FlickrTestLayout, FlickrTrainLayout, PseudoLabelSource};
use av_data::layouts::music::{MusicKind, MusicLayout};
use av_data::{DataError, Instrument, SkipPolicy, SkipReason, Split};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

#[test]
fn flickr_training_pairs_with_json_labels() {
    let layout = FlickrTrainLayout::new(fixture("flickr_train"));
    assert!(matches!(layout.labels, PseudoLabelSource::Json(_)));
    let (set, report) = layout.load(SkipPolicy::Error).unwrap();
    assert_eq!(report.summary(), "flickr-train: 3 loaded, 0 skipped");
    assert_eq!(set.classes, FLICKR_CATEGORIES);
    let ids: Vec<&str> = set.pairs.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1001", "1002", "1003"]);
    let labels = set.pairs[1].labels.as_ref().unwrap();
    assert_eq!(labels.audio[4], 0.82);
    assert_eq!(labels.visual[0], 1.0);
    let frame = set.pairs[0].load_frame().unwrap();
    assert_eq!(frame.dimensions(), (256, 256), "16x16 fixture resized as cv2 would");
    let audio = set.pairs[0].load_audio().unwrap();
    assert_eq!(audio.len(), FLICKR_CLIP_LEN);
    assert!(audio[..1000].iter().any(|x| x.abs() > 0.1) && audio[2000..].iter().all(|&x| x == 0.0));
}

#[test]
fn flickr_training_pairs_with_official_npy_labels() {
    let root = fixture("flickr_train");
    let mut layout = FlickrTrainLayout::new(&root);
    layout.labels =
        PseudoLabelSource::Npy { audio: root.join("labels_a.npy"), visual: root.join("labels_v.npy") };
    let (set, _) = layout.load(SkipPolicy::Error).unwrap();
    assert_eq!(set.classes.len(), 7);
    let l = set.pairs[1].labels.as_ref().unwrap();
    assert_eq!(l.audio, vec![0.5, 0.0, 0.0, 0.0, 0.7, 0.0, 0.0]);
    assert_eq!(l.visual, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    // Without an id list the frames directory is listed.
    layout.id_list = None;
    assert_eq!(layout.load(SkipPolicy::Error).unwrap().0.pairs.len(), 3);
}

#[test]
fn flickr_test_set_boxes() {
    let (items, report) = FlickrTestLayout::new(fixture("flickr_test")).load(SkipPolicy::Error).unwrap();
    assert_eq!(report.loaded, 2);
    assert_eq!(items[0].id, "2001");
    // LVS style: first child skipped, 1-based inclusive -> pixel edges.
    assert_eq!(items[0].boxes.len(), 3);
    assert_eq!(items[0].boxes[0].bbox, BBox::new(10.0, 20.0, 120.0, 256.0));
    assert_eq!(items[0].boxes[2].bbox, BBox::new(139.0, 0.0, 256.0, 90.0));
    // Named children in any order, annotator attributes, label from the parent <object>.
    let b = &items[1].boxes;
    assert_eq!(b[0].bbox, BBox::new(99.0, 49.0, 200.0, 150.0));
    assert_eq!((b[0].annotator, b[1].annotator), (Some(1), Some(2)));
    assert_eq!(b[1].label.as_deref(), Some("guitar"));
    assert_eq!((items[1].width, items[1].height), (256, 256));
    assert_eq!(items[0].load_audio().unwrap().len(), 1103, "whole 50 ms file at 22 050 Hz");
}

#[test]
fn audioset_clips_boxes_and_levels() {
    let (split, report) = AudioSetLayout::official_val(fixture("audioset")).load(SkipPolicy::Error).unwrap();
    assert!(report.skipped.is_empty());
    assert_eq!(split.classes.len(), 15);
    assert_eq!(split.classes[3], "Guitar");
    // Clip index = position in the sorted keys.
    assert_eq!(split.clips[0].ytid, "AAAAAAAAAAA");
    assert_eq!(split.clips[0].tags[3], 1);
    assert_eq!(split.clips[0].tags[11], 1);
    assert_eq!(split.clips[0].frames.len(), 2);
    let ids: Vec<u64> = split.frames.iter().map(|f| f.image_id).collect();
    assert_eq!(ids, [0, 1, 11]);
    let f0 = &split.frames[0];
    assert_eq!((f0.clip, f0.frame, f0.level()), (0, 0, 2));
    assert_eq!(f0.boxes[0].bbox, BBox::new(32.0, 128.0, 96.0, 224.0));
    assert_eq!(f0.evaluated, Some(true));
    let f11 = &split.frames[2];
    assert_eq!((f11.clip, f11.frame, f11.boxes[0].class, f11.evaluated), (1, 1, 7, Some(true)));
    assert!(f11.path.ends_with("val/BBBBBBBBBBB/0001.jpg"));
    assert_eq!(split.frames[1].evaluated, Some(true));
    assert_eq!(f0.load_frame().unwrap().dimensions(), (256, 256));
    assert_eq!(split.clips[0].load_audio(0, 4).unwrap().len(), 4 * 22_050);
}

#[test]
fn music_first_and_second_videos_are_val_and_test() {
    let layout = MusicLayout::new(fixture("music"));
    // The JSON lists a video that is not on disk: an error by default ...
    let err = layout.load(SkipPolicy::Error).unwrap_err();
    assert!(
        matches!(&err, DataError::Missing { what: "audio", path } if path.ends_with("vid_removed_from_youtube.mp3"))
    );
    // ... or skipped and counted.
    let (videos, report) = layout.load(SkipPolicy::Skip).unwrap();
    assert_eq!(report.loaded, 4);
    assert_eq!(report.counts().get(&SkipReason::MissingFile), Some(&1));
    assert_eq!(report.skipped[0].item, "solo/violin/vid_removed_from_youtube");
    let split_of = |id: &str| videos.iter().find(|v| v.id == id).map(|v| v.split);
    assert_eq!(split_of("vid_b"), Some(Split::Val));
    assert_eq!(split_of("vid_a"), Some(Split::Test));
    assert_eq!(split_of("vid_c"), Some(Split::Train));
    let duet = videos.iter().find(|v| v.kind == MusicKind::Duet).unwrap();
    assert_eq!(duet.instruments, [Instrument::AcousticGuitar, Instrument::Violin]);
    assert_eq!((duet.split, duet.n_frames), (Split::Val, 1));
    let solo = videos.iter().find(|v| v.id == "vid_a").unwrap();
    assert_eq!(solo.n_frames, 2);
    assert!(solo.frame_path(2).is_file());
    assert_eq!(solo.load_audio().unwrap().len(), 552, "50 ms at 11 025 Hz");
}

#[test]
fn ave_annotations_and_splits() {
    let (ave, report) = AveLayout::new(fixture("ave")).load(SkipPolicy::Error).unwrap();
    assert_eq!(report.loaded, 5);
    assert_eq!(ave.events.len(), 5);
    assert_eq!(ave.categories, ["Acoustic guitar", "Church bell", "Dog", "Male speech, man speaking"]);
    assert_eq!((ave.train.len(), ave.val.len(), ave.test.len()), (3, 1, 1));
    let e = ave.split(Split::Test).next().unwrap();
    assert_eq!((e.video_id.as_str(), e.start_s, e.end_s, e.duration_s()), ("zz7aaxxP2WY", 5, 9, 4));
    assert_eq!(ave.class_of(e), Some(2));
    // Media check: only one video has frames and audio in the fixture.
    let mut layout = AveLayout::new(fixture("ave"));
    layout.check_media = true;
    let (ave, report) = layout.load(SkipPolicy::Skip).unwrap();
    assert_eq!(ave.events.len(), 1);
    assert_eq!(report.counts().get(&SkipReason::MissingFile), Some(&4));
    assert_eq!(ave.train, [0], "split entries of skipped videos are reported, not kept");
}
