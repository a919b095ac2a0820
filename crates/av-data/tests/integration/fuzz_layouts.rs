//! Fuzzing on stable Rust: property tests over byte inputs for every file format av-data parses
//! (`.npy`, the SoundNet-Flickr XML annotations, the AudioSet COCO box JSON, the AVE annotation
//! file, the MUSIC video lists and split files). Each input is arbitrary bytes or a
//! structure-aware mutation of a valid seed file (bit flips, inserted / deleted / overwritten
//! bytes, truncation, header fields set to huge values). Property: the parser returns `Ok` or a
//! typed `DataError` — never a panic, never a hang (each case must finish in 2 s), never a
//! huge allocation (no single request of 256 MiB or more); see `av_testkit::fuzz`.
//!
//! CI runs a fixed-seed, small budget; `AV_FUZZ_CASES=5000 cargo test -p av-data --test
//! fuzz_layouts` runs longer (and `AV_FUZZ_SEED=<u64>` explores other inputs).
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use av_data::layouts::audioset::AudioSetLayout;
use av_data::layouts::ave::read_ave_annotations;
use av_data::layouts::coco::CocoFile;
use av_data::layouts::flickr_xml::{AnnotatedBox, flickr_xml, parse_flickr_xml, read_flickr_xml};
use av_data::layouts::music::{MusicLayout, parse_category};
use av_data::npy::{read_npy, write_npy_f32};
use av_data::{BBox, DataError, SkipPolicy};
use av_testkit::fuzz::{bounded, config, input, scratch};
use proptest::prelude::*;

// --- seeds ---------------------------------------------------------------------------------------

fn npy_seeds() -> Vec<Vec<u8>> {
    let dir = scratch("fuzz-npy-seed");
    let mut seeds = Vec::new();
    for (shape, n) in [(vec![2usize, 3], 6usize), (vec![4], 4), (vec![1, 7], 7)] {
        let p = dir.join("seed.npy");
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25).collect();
        write_npy_f32(&p, &shape, &data).unwrap();
        seeds.push(std::fs::read(&p).unwrap());
    }
    // Hand-made headers: other dtypes, format version 2, an absurd declared shape.
    let raw = |version: u8, header: &str, body: &[u8]| {
        let mut h = header.to_string();
        while !(12 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = vec![0x93, b'N', b'U', b'M', b'P', b'Y', version, 0];
        if version == 1 {
            b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(h.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(body);
        b
    };
    seeds.push(raw(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 2), }", &[1, 0]));
    seeds.push(raw(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", &[7; 16]));
    seeds.push(raw(
        1,
        "{'descr': '<u2', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }",
        &[0; 8],
    ));
    seeds
}

fn flickr_seeds() -> Vec<Vec<u8>> {
    let b = |x0: f64, annotator| AnnotatedBox {
        bbox: BBox::new(x0, 5.0, x0 + 10.0, 50.0),
        annotator: Some(annotator),
        label: Some("violin".into()),
    };
    vec![
        flickr_xml("a.jpg", &[vec![b(0.0, 1), b(3.0, 2)], vec![b(100.0, 1)]]).into_bytes(),
        b"<annotation><size><width>320</width><height>240</height></size><object><bbox>\
          <difficult>0</difficult><xmin>11</xmin><ymin>21</ymin><xmax>100</xmax><ymax>200</ymax>\
          </bbox></object></annotation>"
            .to_vec(),
        b"<a><o><name>dog</name><bndbox><n>x</n><c>11</c><c>21</c><c>100</c><c>256</c></bndbox></o></a>"
            .to_vec(),
    ]
}

const COCO_SEED: &str = r#"{
  "images": [{"id": 0, "width": 640, "height": 360}, {"id": 3, "width": 640, "height": 360}],
  "annotations": [
    {"id": 1, "image_id": 0, "category_id": 1, "bbox": [0.1, 0.2, 0.3, 0.4], "area": 10.0, "iscrowd": 0, "segmentation": [[0.0]]},
    {"id": 2, "image_id": 3, "category_id": 0, "bbox": [0.5, 0.5, 0.5, 0.5]},
    {"id": 3, "image_id": 12, "category_id": 0, "bbox": [0.0, 0.0, 1.0, 1.0]}
  ],
  "categories": [{"id": 0, "name": "Banjo", "supercategory": "Banjo"}, {"id": 1, "name": "Cello"}]
}"#;

const AVE_SEED: &str = "Category&VideoID&Quality&StartTime&EndTime\n\
Church bell&RUhOCu3LNXM&good&0&10\n\
Male speech, man speaking&Nwx2BvTaOSw&good&2&7\n\
\u{feff}Bark&abc-DEF_123&bad&9&10\n";

const MUSIC_LIST_SEED: &str =
    r#"{"videos": {"violin": ["v1", "v2", "v3"], "acoustic_guitar": ["g1"], "piano": ["p1"]}}"#;
const MUSIC_DUET_SEED: &str = r#"{"videos": {"acoustic_guitar violin": ["d1"], "flute+trumpet": ["d2"]}}"#;
const MUSIC_SPLIT_SEED: &str =
    "# kind/category/id\nsolo/violin/v1\nsolo/violin/v2\n\nduet/acoustic_guitar violin/d1\n";

// --- targets -------------------------------------------------------------------------------------

fn ok_or_typed<T: std::fmt::Debug>(r: Result<T, DataError>) {
    // Any `DataError` is a typed answer; its message must render.
    if let Err(e) = r {
        let _ = e.to_string();
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn npy_never_panics(bytes in input(npy_seeds())) {
        let p = scratch("fuzz-npy").join("x.npy");
        std::fs::write(&p, &bytes).unwrap();
        bounded("read_npy", || match read_npy(&p) {
            Ok(a) => assert_eq!(a.data.len(), a.shape.iter().product::<usize>(), "shape {:?}", a.shape),
            Err(e) => assert!(matches!(e, DataError::Npy { .. }), "{e}"),
        });
    }

    #[test]
    fn flickr_xml_never_panics(bytes in input(flickr_seeds()), tolerance in prop::sample::select(vec![0.0, 1.0, 1e300, f64::INFINITY, f64::NAN])) {
        let path = Path::new("anno/1.xml");
        let text = String::from_utf8_lossy(&bytes);
        bounded("parse_flickr_xml", || ok_or_typed(parse_flickr_xml(path, &text, (256, 256), tolerance)));
        // The file reader sees the raw (possibly non-UTF-8) bytes.
        let p = scratch("fuzz-xml").join("1.xml");
        std::fs::write(&p, &bytes).unwrap();
        bounded("read_flickr_xml", || ok_or_typed(read_flickr_xml(&p, (256, 256), 1.0)));
    }

    #[test]
    fn coco_json_never_panics(bytes in input(vec![COCO_SEED.as_bytes().to_vec()])) {
        bounded("CocoFile", || { let _ = serde_json::from_slice::<CocoFile>(&bytes); });
        // The whole AudioSet loader over the fuzzed box file: two clips, two classes.
        let root = scratch("fuzz-coco");
        for clip in ["clipA", "clipB"] {
            std::fs::create_dir_all(root.join("val").join(clip)).unwrap();
            std::fs::write(root.join("val").join(clip).join("0000.jpg"), b"").unwrap();
        }
        std::fs::create_dir_all(root.join("val/audio")).unwrap();
        std::fs::write(root.join("val/audio/clipA.wav"), b"").unwrap();
        std::fs::write(root.join("val_audio.json"), r#"{"clipA": [1, 0], "clipB": [0, 1]}"#).unwrap();
        std::fs::write(root.join("val_normav.json"), &bytes).unwrap();
        let mut layout = AudioSetLayout::split(&root, "val");
        layout.check_frames = false;
        for policy in [SkipPolicy::Error, SkipPolicy::Skip] {
            bounded("AudioSetLayout::load", || ok_or_typed(layout.load(policy)));
        }
    }

    #[test]
    fn ave_annotations_never_panic(bytes in input(vec![AVE_SEED.as_bytes().to_vec()])) {
        let p = scratch("fuzz-ave").join("Annotations.txt");
        std::fs::write(&p, &bytes).unwrap();
        bounded("read_ave_annotations", || match read_ave_annotations(&p) {
            Ok(events) => {
                for e in events {
                    assert!(e.start_s < e.end_s && e.end_s <= 10, "{e:?}");
                    let _ = e.duration_s();
                }
            }
            Err(e) => assert!(matches!(e, DataError::Text { .. } | DataError::Io { .. }), "{e}"),
        });
    }

    #[test]
    fn music_lists_never_panic(
        solo in input(vec![MUSIC_LIST_SEED.as_bytes().to_vec()]),
        duet in input(vec![MUSIC_DUET_SEED.as_bytes().to_vec()]),
        split in input(vec![MUSIC_SPLIT_SEED.as_bytes().to_vec()]),
    ) {
        let root = scratch("fuzz-music");
        std::fs::create_dir_all(root.join("audio/solo/violin")).unwrap();
        std::fs::write(root.join("audio/solo/violin/v1.mp3"), b"").unwrap();
        std::fs::create_dir_all(root.join("frames/solo/violin/v1.mp4")).unwrap();
        std::fs::write(root.join("frames/solo/violin/v1.mp4/000001.jpg"), b"").unwrap();
        std::fs::create_dir_all(root.join("splits")).unwrap();
        std::fs::write(root.join("MUSIC_solo_videos.json"), &solo).unwrap();
        std::fs::write(root.join("MUSIC_duet_videos.json"), &duet).unwrap();
        std::fs::write(root.join("splits/train.txt"), &split).unwrap();
        for policy in [SkipPolicy::Error, SkipPolicy::Skip] {
            bounded("MusicLayout::load", || ok_or_typed(MusicLayout::new(&root).load(policy)));
        }
        let name = String::from_utf8_lossy(&split);
        bounded("parse_category", || { let _ = parse_category(&name); });
    }
}

// --- regression tests: crashes the fuzzer found (minimal inputs) ---------------------------------

/// A version-1 `.npy` file with this header dict and body.
fn npy_bytes(header: &str, body: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(body);
    b
}

fn read_npy_bytes(bytes: &[u8]) -> Result<av_data::npy::NpyArray, DataError> {
    let p = scratch("fuzz-npy-regression").join("x.npy");
    std::fs::write(&p, bytes).unwrap();
    bounded("read_npy", || read_npy(&p))
}

/// Found by `npy_never_panics`: the element count of a declared shape overflowed `usize`
/// (`attempt to multiply with overflow` in `Iterator::product`).
#[test]
fn npy_shape_whose_element_count_overflows_is_an_error() {
    let bytes = npy_bytes(
        "{'descr': '<u2', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }\n",
        &[0; 8],
    );
    assert!(matches!(read_npy_bytes(&bytes), Err(DataError::Npy { .. })));
    // count fits, count * item size does not
    let bytes =
        npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }\n", &[0; 8]);
    assert!(matches!(read_npy_bytes(&bytes), Err(DataError::Npy { .. })));
}

/// A header claiming 10^12 values over 8 bytes of data is rejected before any allocation.
#[test]
fn npy_shape_larger_than_the_data_is_an_error() {
    let bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }\n", &[0; 8]);
    let err = read_npy_bytes(&bytes).unwrap_err();
    assert!(matches!(&err, DataError::Npy { detail, .. } if detail.contains("truncated")), "{err}");
}

/// A zero-byte item size (`<f0`) made `chunks_exact(0)` panic.
#[test]
fn npy_zero_sized_dtype_is_an_error() {
    let bytes = npy_bytes("{'descr': '<f0', 'fortran_order': False, 'shape': (1,), }\n", &[0; 8]);
    assert!(matches!(read_npy_bytes(&bytes), Err(DataError::Npy { .. })));
}
