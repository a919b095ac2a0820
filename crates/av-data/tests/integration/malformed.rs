//! Malformed and missing inputs give typed errors that name the offending file, or, with
//! `SkipPolicy::Skip`, are left out and counted in the report.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use av_data::layouts::audioset::AudioSetLayout;
use av_data::layouts::ave::{AveLayout, read_ave_annotations};
use av_data::layouts::flickr::{FlickrTestLayout, FlickrTrainLayout};
use av_data::manifest::read_manifest;
use av_data::{DataError, SkipPolicy, SkipReason};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    av_testkit::tmp_dir(&format!("av-data-malformed-{name}"))
}

/// Copies a fixture directory tree into a scratch directory.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The Flickr test layout restricted to one id.
fn flickr_one(id: &str) -> Result<usize, DataError> {
    let dir = scratch(id);
    let list = dir.join("ids.txt");
    std::fs::write(&list, format!("{id}\n")).unwrap();
    let mut layout = FlickrTestLayout::new(fixture("flickr_test"));
    layout.id_list = Some(list);
    layout.load(SkipPolicy::Error).map(|(items, _)| items.len())
}

#[test]
fn bad_xml_is_an_xml_error_naming_the_file() {
    let e = flickr_one("bad_xml").unwrap_err();
    assert!(matches!(&e, DataError::Xml { path, .. } if path.ends_with("Annotations/bad_xml.xml")), "{e}");
    assert!(e.to_string().contains("bad_xml.xml"));
}

#[test]
fn box_outside_the_image_is_reported_with_the_box() {
    let e = flickr_one("outside").unwrap_err();
    match &e {
        DataError::BoxOutsideImage { path, bbox, width, height } => {
            assert!(path.ends_with("Annotations/outside.xml"));
            assert_eq!((*bbox, *width, *height), ([100.0, 100.0, 300.0, 200.0], 256, 256));
        }
        other => panic!("expected BoxOutsideImage, got {other}"),
    }
}

#[test]
fn missing_audio_names_the_expected_file() {
    let e = flickr_one("no_audio").unwrap_err();
    assert!(
        matches!(&e, DataError::Missing { what: "audio", path } if path.ends_with("audio/no_audio.wav")),
        "{e}"
    );
}

#[test]
fn unreadable_image_names_the_frame() {
    let e = flickr_one("bad_image").unwrap_err();
    assert!(matches!(&e, DataError::Image { path, .. } if path.ends_with("frames/bad_image.jpg")), "{e}");
}

#[test]
fn skip_policy_counts_every_bad_item() {
    let mut layout = FlickrTestLayout::new(fixture("flickr_test"));
    layout.id_list = None; // every XML file, good and bad
    assert!(layout.load(SkipPolicy::Error).is_err());
    let (items, report) = layout.load(SkipPolicy::Skip).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(report.loaded, 2);
    let c = report.counts();
    assert_eq!(c.get(&SkipReason::MalformedAnnotation), Some(&1));
    assert_eq!(c.get(&SkipReason::BoxOutsideImage), Some(&1));
    assert_eq!(c.get(&SkipReason::MissingFile), Some(&1));
    assert_eq!(c.get(&SkipReason::UnreadableImage), Some(&1));
    for s in &report.skipped {
        assert!(s.path.is_some(), "{s:?}");
        assert!(s.message.contains(&s.item), "{s:?}");
    }
    assert_eq!(
        report.summary(),
        "flickr-test: 2 loaded, 4 skipped (MissingFile: 1, MalformedAnnotation: 1, BoxOutsideImage: 1, UnreadableImage: 1)"
    );
}

#[test]
fn bad_json_names_the_file_and_position() {
    let dir = scratch("json");
    copy_tree(&fixture("flickr_train"), &dir);
    std::fs::write(dir.join("pseudo_labels.json"), "{\"classes\": [\"a\"], \"labels\": {").unwrap();
    let e = FlickrTrainLayout::new(&dir).load(SkipPolicy::Skip).unwrap_err();
    assert!(
        matches!(&e, DataError::Json { path, detail } if path.ends_with("pseudo_labels.json") && detail.contains("line 1")),
        "{e}"
    );

    // Labels of the wrong length are a JSON error too.
    std::fs::write(
        dir.join("pseudo_labels.json"),
        r#"{"classes": ["a", "b"], "labels": {"1001": {"audio": [1], "visual": [0, 1]}}}"#,
    )
    .unwrap();
    let e = FlickrTrainLayout::new(&dir).load(SkipPolicy::Skip).unwrap_err();
    assert!(e.to_string().contains("expected 2"), "{e}");

    // An id without labels is an item error: skipped and counted.
    std::fs::write(
        dir.join("pseudo_labels.json"),
        r#"{"classes": ["a"], "labels": {"1001": {"audio": [1], "visual": [0]}}}"#,
    )
    .unwrap();
    let (set, report) = FlickrTrainLayout::new(&dir).load(SkipPolicy::Skip).unwrap();
    assert_eq!((set.pairs.len(), report.skipped.len()), (1, 2));
}

#[test]
fn audioset_bad_tags_and_boxes() {
    let dir = scratch("audioset");
    copy_tree(&fixture("audioset"), &dir);
    std::fs::write(dir.join("val_audio.json"), "[not json").unwrap();
    let e = AudioSetLayout::official_val(&dir).load(SkipPolicy::Error).unwrap_err();
    assert!(matches!(&e, DataError::Json { path, .. } if path.ends_with("val_audio.json")), "{e}");

    copy_tree(&fixture("audioset"), &dir);
    let text = std::fs::read_to_string(dir.join("normav.json")).unwrap();
    std::fs::write(dir.join("normav.json"), text.replace("[0.25, 0.25, 0.5, 0.5]", "[0.75, 0.25, 0.5, 0.5]"))
        .unwrap();
    let e = AudioSetLayout::official_val(&dir).load(SkipPolicy::Error).unwrap_err();
    assert!(matches!(&e, DataError::BoxOutsideImage { path, .. } if path.ends_with("normav.json")), "{e}");
    let (split, report) = AudioSetLayout::official_val(&dir).load(SkipPolicy::Skip).unwrap();
    assert_eq!(split.frames.len(), 2);
    assert_eq!(report.skipped[0].item, "frame 11");

    // A clip whose audio is missing.
    std::fs::remove_file(dir.join("val/audio/BBBBBBBBBBB.wav")).unwrap();
    let e = AudioSetLayout::official_val(&dir).load(SkipPolicy::Error).unwrap_err();
    assert!(matches!(&e, DataError::Missing { what: "audio", .. }), "{e}");
}

#[test]
fn ave_malformed_lines_name_file_and_line() {
    let dir = scratch("ave");
    let p = dir.join("Annotations.txt");
    std::fs::write(&p, "Category&VideoID&Quality&StartTime&EndTime\nDog&abc&good&0&4\nDog&def&good&7&3\n")
        .unwrap();
    let e = read_ave_annotations(&p).unwrap_err();
    assert!(matches!(&e, DataError::Text { path, line: 3, .. } if path == &p), "{e}");
    std::fs::write(&p, "Dog&abc&good&0\n").unwrap();
    assert!(matches!(AveLayout::new(&dir).load(SkipPolicy::Skip), Err(DataError::Text { line: 1, .. })));
}

#[test]
fn missing_roots_and_manifests() {
    let nowhere = fixture("does_not_exist");
    assert!(matches!(FlickrTestLayout::new(&nowhere).load(SkipPolicy::Skip), Err(DataError::Missing { .. })));
    assert!(matches!(read_manifest(&nowhere.join("manifest.json")), Err(DataError::Missing { .. })));
}
