//! Writes generated scenes in the real datasets' layouts, so the loaders of
//! [`crate::layouts`] read generated and real data through the same code:
//!
//! * [`Layout::Flickr`]: `train/` in the training-pair layout (frames, audio, `train_ids.txt`,
//!   `pseudo_labels.json` with exact multi-hot labels over the vocabulary: audio = sounding
//!   classes, visual = every visible class), `val/` and `test/` in the annotated test-set layout
//!   (`Annotations/<id>.xml` with one `<object>` per sounding object holding its box once per
//!   virtual annotator, default 2, so the consensus map `min(n/2, 1)` is 1 inside the objects).
//! * [`Layout::AudioSet`]: `<split>/<id>/0000.jpg`, `<split>/audio/<id>.wav`,
//!   `<split>_audio.json` (tags = sounding classes) and `<split>_normav.json` (COCO boxes of the
//!   sounding objects on every written frame).
//! * [`Layout::Music`]: level-1 scenes as solos and level-2 scenes as duets in
//!   `audio/<kind>/<category>/<id>.wav` and `frames/<kind>/<category>/<id>.mp4/000001.jpg`, the two
//!   `MUSIC_*_videos.json` lists and `splits/<split>.txt` (the generator's splits, which the
//!   first/second-video rule cannot express).
//!
//! Every layout also gets the ground-truth sidecar ([`crate::bench::records`]) and a
//! `manifest.json` with the seed, the configuration and the asset-pack fingerprint.
//!
//! Writing is split in two so it can run in parallel: [`DatasetWriter::write_scene`] (`&self`,
//! thread-safe) writes one scene's files and returns its [`SceneRecord`];
//! [`DatasetWriter::finish`] writes the index files and the manifest from all records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bench::config::BenchConfig;
use crate::bench::records::{BenchmarkGt, GT_DIR, SceneRecord};
use crate::bench::scene::Scene;
use crate::classes::{MUSIC_CLASSES, Vocabulary};
use crate::error::{DataError, Result, io_err};
use crate::files::{create_dir, write_id_list, write_json};
use crate::image_io::{save_jpeg, save_png};
use crate::layouts::coco::{CocoAnnotation, CocoCategory, CocoFile, CocoImage};
use crate::layouts::flickr::{PseudoLabelFile, PseudoLabels};
use crate::layouts::flickr_xml::{AnnotatedBox, flickr_xml};
use crate::layouts::music::MusicKind;
use crate::manifest::{DatasetKind, GeneratorInfo, Manifest, write_manifest};
use crate::split::Split;

/// Which real layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// SoundNet-Flickr (training pairs + annotated test sets).
    Flickr,
    /// AudioSet-instrument (COCO boxes, tags, 1 fps frames).
    AudioSet,
    /// MUSIC (solo / duet folders).
    Music,
}

/// Options of the writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteOptions {
    /// JPEG quality of the frames.
    pub jpeg_quality: u8,
    /// Frames written per clip (AudioSet: 1 fps frames; MUSIC: 8 fps frames). Scenes are
    /// static, so the frames are identical.
    pub frames_per_clip: u32,
    /// Virtual annotators per object in the Flickr XML (each writes the same exact box).
    pub annotators: u32,
    /// Write per-source stems to the sidecar.
    pub stems: bool,
    /// Write per-object masks to the sidecar.
    pub masks: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self { jpeg_quality: 95, frames_per_clip: 1, annotators: 2, stems: true, masks: true }
    }
}

/// Writes generated scenes into one dataset root (see the module docs).
#[derive(Debug, Clone)]
pub struct DatasetWriter {
    root: PathBuf,
    layout: Layout,
    config: BenchConfig,
    options: WriteOptions,
}

fn rel(parts: &[&str]) -> String {
    parts.join("/")
}

impl DatasetWriter {
    /// A writer into `root` (created if needed).
    ///
    /// # Errors
    /// [`DataError::InvalidConfig`] when the MUSIC layout is asked for a vocabulary other than
    /// MUSIC's or for level-3 scenes; [`DataError::Io`].
    pub fn new(
        root: impl Into<PathBuf>,
        layout: Layout,
        config: BenchConfig,
        options: WriteOptions,
    ) -> Result<Self> {
        let root = root.into();
        if layout == Layout::Music
            && (config.vocabulary != Vocabulary::Music11 || config.levels.iter().any(|&l| l > 2))
        {
            return Err(DataError::InvalidConfig(
                "the MUSIC layout holds solos and duets of MUSIC's 11 instruments: use Vocabulary::Music11 and levels 1-2"
                    .into(),
            ));
        }
        if options.frames_per_clip == 0 || options.frames_per_clip > 10 && layout == Layout::AudioSet {
            return Err(DataError::InvalidConfig(
                "frames_per_clip must be 1..=10 for AudioSet, >= 1 otherwise".into(),
            ));
        }
        create_dir(&root)?;
        Ok(Self { root, layout, config, options })
    }

    /// The dataset root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn category(scene: &Scene) -> Result<(MusicKind, String)> {
        let mut insts: Vec<_> = scene.sounding().map(|o| o.instrument).collect();
        insts.sort_by_key(|i| MUSIC_CLASSES.iter().position(|m| m == i));
        let kind = match insts.len() {
            1 => MusicKind::Solo,
            2 => MusicKind::Duet,
            n => {
                return Err(DataError::InvalidConfig(format!(
                    "scene {} has {n} sources; MUSIC has solos and duets",
                    scene.id
                )));
            }
        };
        Ok((kind, insts.iter().map(|i| i.slug()).collect::<Vec<_>>().join(" ")))
    }

    /// Writes one scene's files (frame(s), mixture, annotation, masks, stems) and returns its
    /// record. Thread-safe: scenes can be written in parallel.
    ///
    /// # Errors
    /// [`DataError::Io`], [`DataError::Image`], [`DataError::Audio`], [`DataError::InvalidConfig`]
    /// (a level-3 scene in the MUSIC layout).
    pub fn write_scene(&self, scene: &Scene) -> Result<SceneRecord> {
        let split = scene.split.name();
        let id = scene.id.as_str();
        let mut record = SceneRecord::of(scene);
        let (frames, audio): (Vec<String>, String) = match self.layout {
            Layout::Flickr => {
                if scene.split != Split::Train {
                    let objects: Vec<Vec<AnnotatedBox>> = scene
                        .sounding()
                        .map(|o| {
                            (1..=self.options.annotators)
                                .map(|a| AnnotatedBox {
                                    bbox: o.bbox,
                                    annotator: Some(a),
                                    label: self.config.vocabulary.name(o.class).map(str::to_string),
                                })
                                .collect()
                        })
                        .collect();
                    let anno_dir = self.root.join(split).join("Annotations");
                    create_dir(&anno_dir)?;
                    let path = anno_dir.join(format!("{id}.xml"));
                    std::fs::write(&path, flickr_xml(&format!("{id}.jpg"), &objects))
                        .map_err(io_err(&path))?;
                }
                (
                    vec![rel(&[split, "frames", &format!("{id}.jpg")])],
                    rel(&[split, "audio", &format!("{id}.wav")]),
                )
            }
            Layout::AudioSet => (
                (0..self.options.frames_per_clip)
                    .map(|f| rel(&[split, id, &format!("{f:04}.jpg")]))
                    .collect(),
                rel(&[split, "audio", &format!("{id}.wav")]),
            ),
            Layout::Music => {
                let (kind, category) = Self::category(scene)?;
                let base = [kind.dir(), category.as_str()];
                (
                    (1..=self.options.frames_per_clip)
                        .map(|i| {
                            rel(&["frames", base[0], base[1], &format!("{id}.mp4"), &format!("{i:06}.jpg")])
                        })
                        .collect(),
                    rel(&["audio", base[0], base[1], &format!("{id}.wav")]),
                )
            }
        };
        for f in &frames {
            let path = self.root.join(f);
            if let Some(dir) = path.parent() {
                create_dir(dir)?;
            }
            save_jpeg(&path, &scene.image, self.options.jpeg_quality)?;
        }
        let audio_path = self.root.join(&audio);
        if let Some(dir) = audio_path.parent() {
            create_dir(dir)?;
        }
        write_wav(&audio_path, &scene.audio.mix, scene.audio.sample_rate)?;
        for (k, (o, r)) in scene.objects.iter().zip(record.objects.iter_mut()).enumerate() {
            if self.options.masks {
                let m = rel(&[GT_DIR, "masks", &format!("{id}_{k}.png")]);
                let path = self.root.join(&m);
                if let Some(dir) = path.parent() {
                    create_dir(dir)?;
                }
                save_png(&path, &o.mask.to_gray())?;
                r.mask = Some(m);
            }
            if let (true, Some(stem)) = (self.options.stems, o.source.and_then(|s| scene.audio.stems.get(s)))
            {
                let s = rel(&[GT_DIR, "stems", &format!("{id}_{k}.wav")]);
                let path = self.root.join(&s);
                if let Some(dir) = path.parent() {
                    create_dir(dir)?;
                }
                write_wav(&path, &stem.waveform, scene.audio.sample_rate)?;
                r.stem = Some(s);
            }
        }
        record.frames = frames;
        record.audio = audio;
        Ok(record)
    }

    /// Writes the index files of the layout, the ground-truth sidecar and the manifest.
    ///
    /// # Errors
    /// [`DataError::Io`], [`DataError::Json`].
    pub fn finish(&self, mut records: Vec<SceneRecord>, asset_fingerprint: &str) -> Result<Manifest> {
        records.sort_by_key(|r| (r.split, r.index));
        let vocab = self.config.vocabulary;
        let classes: Vec<String> = vocab.names().iter().map(|s| s.to_string()).collect();
        let by_split = |s: Split| records.iter().filter(move |r| r.split == s);
        let multi_hot = |r: &SceneRecord, visible: bool| {
            let mut v = vec![0.0f32; classes.len()];
            for o in r.objects.iter().filter(|o| visible || o.sounding) {
                if let Some(x) = v.get_mut(o.class) {
                    *x = 1.0;
                }
            }
            v
        };
        match self.layout {
            Layout::Flickr => {
                for split in Split::ALL {
                    let ids: Vec<String> = by_split(split).map(|r| r.id.clone()).collect();
                    if ids.is_empty() {
                        continue;
                    }
                    let dir = self.root.join(split.name());
                    if split == Split::Train {
                        write_id_list(&dir.join("train_ids.txt"), &ids)?;
                        let labels = by_split(split)
                            .map(|r| {
                                (
                                    r.id.clone(),
                                    PseudoLabels { audio: multi_hot(r, false), visual: multi_hot(r, true) },
                                )
                            })
                            .collect();
                        write_json(
                            &dir.join("pseudo_labels.json"),
                            &PseudoLabelFile { classes: classes.clone(), labels },
                        )?;
                    } else {
                        write_id_list(&dir.join("test_ids.txt"), &ids)?;
                    }
                }
            }
            Layout::AudioSet => {
                for split in Split::ALL {
                    let recs: Vec<&SceneRecord> = by_split(split).collect();
                    if recs.is_empty() {
                        continue;
                    }
                    let tags: BTreeMap<String, Vec<u8>> = recs
                        .iter()
                        .map(|r| (r.id.clone(), multi_hot(r, false).iter().map(|&x| x as u8).collect()))
                        .collect();
                    write_json(&self.root.join(format!("{}_audio.json", split.name())), &tags)?;
                    write_json(
                        &self.root.join(format!("{}_normav.json", split.name())),
                        &self.coco(&tags, &recs),
                    )?;
                }
            }
            Layout::Music => {
                let mut lists: BTreeMap<MusicKind, BTreeMap<String, Vec<String>>> = BTreeMap::new();
                let mut splits: BTreeMap<Split, Vec<String>> = BTreeMap::new();
                for r in &records {
                    // audio/<kind>/<category>/<id>.wav
                    let parts: Vec<&str> = r.audio.split('/').collect();
                    let kind = if parts.get(1) == Some(&"duet") { MusicKind::Duet } else { MusicKind::Solo };
                    let category = parts.get(2).copied().unwrap_or_default().to_string();
                    lists.entry(kind).or_default().entry(category.clone()).or_default().push(r.id.clone());
                    splits.entry(r.split).or_default().push(format!("{}/{category}/{}", kind.dir(), r.id));
                }
                for (kind, videos) in lists {
                    write_json(&self.root.join(kind.json_name()), &serde_json::json!({ "videos": videos }))?;
                }
                create_dir(&self.root.join("splits"))?;
                for split in Split::ALL {
                    let keys = splits.remove(&split).unwrap_or_default();
                    write_id_list(&self.root.join("splits").join(format!("{}.txt", split.name())), &keys)?;
                }
            }
        }
        create_dir(&self.root.join(GT_DIR))?;
        let gt = BenchmarkGt { config: self.config.clone(), classes, scenes: records };
        write_json(&self.root.join(GT_DIR).join("scenes.json"), &gt)?;
        let kind = match self.layout {
            Layout::Flickr => DatasetKind::Flickr,
            Layout::AudioSet => DatasetKind::AudioSet,
            Layout::Music => DatasetKind::Music,
        };
        let generator = GeneratorInfo {
            seed: self.config.seed,
            config: serde_json::to_value(&self.config)
                .map_err(|e| DataError::Json { path: self.root.clone(), detail: e.to_string() })?,
            asset_pack_sha256: asset_fingerprint.to_string(),
        };
        write_manifest(&self.root, kind, Some(generator))
    }

    /// COCO boxes of a split: clip index = rank of the id among the split's (sorted) tag keys.
    fn coco(&self, tags: &BTreeMap<String, Vec<u8>>, recs: &[&SceneRecord]) -> CocoFile {
        let size = self.config.image_size;
        let categories = (0..self.config.vocabulary.len())
            .map(|i| {
                let name = self.config.vocabulary.name(i).unwrap_or_default().to_string();
                CocoCategory { id: i, supercategory: name.clone(), name }
            })
            .collect();
        let rank: BTreeMap<&str, u64> =
            tags.keys().enumerate().map(|(i, k)| (k.as_str(), i as u64)).collect();
        let mut images = Vec::new();
        let mut annotations = Vec::new();
        for r in recs {
            let clip = rank.get(r.id.as_str()).copied().unwrap_or(0);
            for f in 0..u64::from(self.options.frames_per_clip) {
                let image_id = clip * 10 + f;
                images.push(CocoImage {
                    id: image_id,
                    width: size,
                    height: size,
                    file_name: Some(format!("{}/{f:04}.jpg", r.id)),
                });
                for o in r.objects.iter().filter(|o| o.sounding) {
                    annotations.push(CocoAnnotation {
                        id: annotations.len() as u64,
                        image_id,
                        category_id: o.class,
                        bbox: o.bbox.to_coco_normalized(size, size),
                        area: o.bbox.area(),
                        iscrowd: 0,
                        segmentation: serde_json::json!([[0.0]]),
                    });
                }
            }
        }
        CocoFile { categories, annotations, images }
    }
}

fn write_wav(path: &Path, samples: &[f32], rate: u32) -> Result<()> {
    let audio = av_audio::Audio::new(samples.to_vec(), rate)?;
    Ok(av_audio::write_wav_f32(path, &audio)?)
}
