//! The multi-source experiment (paper §4.3, Table 2): the three methods of the ablation
//! (AVC only, multi-task, ours) trained on the same scenes and scored with the class-aware cIoU
//! of Eq. 9 by number of sounding sources (levels 1/2/3).

use std::path::Path;
use std::time::Instant;

use av_data::Split;
use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, ClassAwareConfig, ClassAwareSummary, PredictionRule, ResultsTable};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use av_align::{Error, Result};
use av_data::layouts::audioset::AudioSetLayout;

use crate::bench::{BenchData, SceneTruth, TruthObject, generate};
use crate::eval::{SceneMaps, class_aware_evaluate, localize_all};
use crate::flickr::{FlickrPlan, train_plan, train_plan_on};
use av_align::preprocess::{AudioPreprocess, AudioWindow, model_frame};
use av_data::SkipReason;

use crate::run::{RunContext, write_json};
use av_align::model::{AvModel, LocalizeConfig, MapSource, Method};
use av_align::train::{Sample, load_model_for, save_model};

/// A multi-source run: the Flickr plan's model, data and stages, plus the test scenes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiSourcePlan {
    /// Model, data and the two stages (the AVC-only baseline trains with stage 1's settings).
    pub base: FlickrPlan,
    /// Test scenes (benchmark test split, levels 1-3).
    pub test_scenes: u64,
}

impl MultiSourcePlan {
    /// The compact preset (CPU minutes).
    pub fn compact() -> Self {
        Self { base: FlickrPlan::compact(), test_scenes: 600 }
    }
    /// Seconds, for tests.
    pub fn tiny() -> Self {
        Self { base: FlickrPlan::tiny(), test_scenes: 12 }
    }
}

/// Scores of one method at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelScore {
    /// Number of sounding sources.
    pub level: usize,
    /// Frames at this level.
    pub frames: usize,
    /// Success threshold used (0.5, 0.3 for level 3).
    pub threshold: f64,
    /// Success rate (cIoU_class@threshold).
    pub success: f64,
    /// AUC.
    pub auc: f64,
}

/// One row of Table 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodRow {
    /// Method.
    pub method: Method,
    /// Whether it was scored class-agnostically (the AVC baseline, as in the paper).
    pub class_agnostic: bool,
    /// Per level.
    pub levels: Vec<LevelScore>,
    /// The per-class maps when not the method's own (Eq. 8 for ours): the maps a model
    /// folder's `inputs.json` names, scored as a second row of ours. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<MapSource>,
}

/// The measured table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiSourceReport {
    /// Rows: AVC, multi-task, ours.
    pub rows: Vec<MethodRow>,
    /// Test scenes.
    pub test_scenes: usize,
    /// Training + evaluation time of this process (s).
    pub seconds: f64,
}

/// The paper's Table 2 (AudioSet-instrument): (method, [(cIoU_class, AUC); 3 levels]); level 3
/// success at 0.3.
pub const PAPER_TABLE2: [(&str, [(f64, f64); 3]); 3] = [
    ("AVC (class-agnostic)", [(0.248, 0.320), (0.0427, 0.236), (0.053, 0.149)]),
    ("Multi-task", [(0.206, 0.295), (0.0237, 0.174), (0.105, 0.178)]),
    ("Ours", [(0.328, 0.383), (0.0616, 0.239), (0.211, 0.220)]),
];

fn rows_from(summary: &ClassAwareSummary, config: &ClassAwareConfig) -> Vec<LevelScore> {
    summary
        .by_level
        .iter()
        .map(|l| LevelScore {
            level: l.level,
            frames: l.summary.cious.len(),
            threshold: config.threshold_for(l.level),
            success: l.summary.success_rate,
            auc: l.summary.auc,
        })
        .collect()
}

/// The class-agnostic variant: one map (the class-agnostic one) against the union of every
/// sounding box, as the paper scores the AVC baseline.
fn agnostic(maps: &[SceneMaps], truths: &[SceneTruth]) -> (Vec<SceneMaps>, Vec<SceneTruth>) {
    let maps = maps
        .iter()
        .map(|m| SceneMaps { per_class: m.agnostic.clone(), audio_probs: vec![1.0], ..m.clone() })
        .collect();
    let truths = truths
        .iter()
        .map(|t| SceneTruth {
            objects: t.objects.iter().map(|o| TruthObject { class: 0, ..*o }).collect(),
            ..t.clone()
        })
        .collect();
    (maps, truths)
}

/// Class-agnostic scores grouped by the scenes' true level (the single pseudo-class makes every
/// frame "level 1" for the class-aware grouping).
fn agnostic_by_level(
    maps: &[SceneMaps],
    truths: &[SceneTruth],
    config: &ClassAwareConfig,
) -> Result<Vec<LevelScore>> {
    let mut out = Vec::new();
    for level in 1..=3u8 {
        let idx: Vec<usize> = (0..truths.len()).filter(|&i| truths[i].level == level).collect();
        if idx.is_empty() {
            continue;
        }
        let m: Vec<SceneMaps> = idx.iter().map(|&i| maps[i].clone()).collect();
        let t: Vec<SceneTruth> = idx.iter().map(|&i| truths[i].clone()).collect();
        let threshold = config.threshold_for(level as usize);
        let cfg = ClassAwareConfig {
            success_threshold: threshold,
            level_success_thresholds: vec![],
            ..config.clone()
        };
        let summary = class_aware_evaluate(&m, &t, 1, &cfg)?;
        out.push(LevelScore {
            level: level as usize,
            frames: summary.overall.cious.len(),
            threshold,
            success: summary.overall.success_rate,
            auc: summary.overall.auc,
        });
    }
    Ok(out)
}

/// Trains the three methods in `run_dir` (`ours/` = stage 1 then stage 2, whose stage 1 is the
/// multi-task model; `avc/` = AVC only) on benchmark scenes, localizes the test scenes with each
/// method's maps and scores them; writes `metrics.json` and [`table2`] as `table.csv` into
/// `run_dir`. Interrupted runs resume.
///
/// # Errors
/// Training, data and metric errors.
pub fn run_multisource(plan: &MultiSourcePlan, ctx: &RunContext) -> Result<MultiSourceReport> {
    let (run_dir, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    let started = Instant::now();
    write_json(&run_dir.join("multisource_plan.json"), plan)?;
    let base = &plan.base;
    let ours = train_plan(base, &run_dir.join("ours"), device, progress)?;
    let train = generate(&base.data, Split::Train, 0..base.train_scenes, false)?;
    let test = generate(&base.data, Split::Test, 0..plan.test_scenes, progress)?;
    finish(base, &ours.stage1, &ours.stage2, &train.dataset, &test, run_dir, device, progress, started)
}

/// The same on given data, e.g. a real AudioSet-instrument layout read by
/// [`load_audioset_split`]: `ours/` trains with [`crate::flickr::train_plan_on`].
///
/// # Errors
/// Training, data and metric errors.
pub fn run_multisource_on(
    plan: &MultiSourcePlan,
    train: &dyn av_align::train::BatchSource,
    test: &BenchData,
    ctx: &RunContext,
) -> Result<MultiSourceReport> {
    let (run_dir, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    let started = Instant::now();
    write_json(&run_dir.join("multisource_plan.json"), plan)?;
    let mut base = plan.base.clone();
    base.model.num_classes = train.num_classes();
    let ours = train_plan_on(&base, train, &run_dir.join("ours"), device, progress)?;
    finish(&base, &ours.stage1, &ours.stage2, train, test, run_dir, device, progress, started)
}

/// Table 2 of trained models, without training: localizes `test` (benchmark scenes or a real
/// AudioSet-instrument split read by [`load_audioset_split`]) and scores it by level.
/// `checkpoint` is a model folder (a run's `ours/model`, or the shipped compact checkpoint):
/// "Ours" = its Eq. 8 maps; "Multi-task" = the visual class maps of the stage-1 model in or
/// beside it (`model_stage1/`), left out when there is none; "AVC" = the correspondence maps
/// of an AVC-only model folder (`avc`, e.g. a run's `avc/model`), left out when not given.
/// Writes `metrics.json` and `table.csv` into the run folder.
///
/// # Errors
/// [`Error::Config`] when the model's classes are not the test set's (by count or by name)
/// or no frame could be scored; loading and metric errors.
pub fn evaluate_multisource(
    ctx: &RunContext,
    checkpoint: &Path,
    avc: Option<&Path>,
    test: &BenchData,
) -> Result<MultiSourceReport> {
    let started = Instant::now();
    let (plan, ours, stage1) = crate::models::load_checkpoint_with_plan(checkpoint, None, &ctx.device)?;
    let c = ours.num_classes();
    if c != test.class_names.len() {
        return Err(Error::Config(format!(
            "the model has {c} classes, the test set {} ({})",
            test.class_names.len(),
            test.class_names.join(", ")
        )));
    }
    let names = plan.input_spec().class_names;
    if let Some((a, b)) = names.iter().zip(&test.class_names).find(|(a, b)| !a.eq_ignore_ascii_case(b)) {
        return Err(Error::Config(format!(
            "the model's classes are not the test set's: '{a}' where the test set has '{b}'"
        )));
    }
    let config = ClassAwareConfig::default();
    let maps = |model: &AvModel, source: MapSource| {
        localize_all(model, test, &LocalizeConfig { source, ..LocalizeConfig::default() }, 16, &ctx.device)
    };
    let mut rows = Vec::new();
    if let Some(dir) = avc {
        let model = load_model_for(dir, &plan.model, &ctx.device)?;
        let (am, at) = agnostic(&maps(&model, MapSource::Correspondence)?, &test.truths);
        rows.push(MethodRow {
            method: Method::AvcOnly,
            class_agnostic: true,
            levels: agnostic_by_level(&am, &at, &config)?,
            maps: None,
        });
    }
    if let Some(stage1) = &stage1 {
        let summary = class_aware_evaluate(&maps(stage1, MapSource::VisualCam)?, &test.truths, c, &config)?;
        rows.push(MethodRow {
            method: Method::MultiTask,
            class_agnostic: false,
            levels: rows_from(&summary, &config),
            maps: None,
        });
    }
    let summary = class_aware_evaluate(&maps(&ours, MapSource::Alignment)?, &test.truths, c, &config)?;
    rows.push(MethodRow {
        method: Method::CoarseToFine,
        class_agnostic: false,
        levels: rows_from(&summary, &config),
        maps: None,
    });
    // The maps the folder's Localizer draws, when they are not Eq. 8 (class-aware scoring
    // reads per-class maps, so how classes are combined does not enter).
    let drawn = crate::models::drawn_config(checkpoint)?.source;
    if drawn != MapSource::Alignment {
        let summary = class_aware_evaluate(&maps(&ours, drawn)?, &test.truths, c, &config)?;
        rows.push(MethodRow {
            method: Method::CoarseToFine,
            class_agnostic: false,
            levels: rows_from(&summary, &config),
            maps: Some(drawn),
        });
    }
    let report =
        MultiSourceReport { rows, test_scenes: test.truths.len(), seconds: started.elapsed().as_secs_f64() };
    if report.rows.iter().any(|r| r.levels.is_empty()) {
        return Err(Error::Config("no frame could be scored".into()));
    }
    ctx.write_json("metrics.json", &report)?;
    let csv = ctx.path("table.csv");
    std::fs::write(&csv, table2(&report).to_csv(3)).map_err(|e| Error::io(&csv, e))?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    base: &FlickrPlan,
    stage1: &AvModel,
    stage2: &AvModel,
    train: &dyn av_align::train::BatchSource,
    test: &BenchData,
    run_dir: &Path,
    device: &Device,
    progress: bool,
    started: Instant,
) -> Result<MultiSourceReport> {
    if progress {
        eprintln!("AVC-only baseline");
    }
    device.seed(base.init_seed);
    let init = base.model.init_for_training(device)?;
    let avc =
        crate::run::trainer(base.stage1.clone().with_method(Method::AvcOnly), run_dir.join("avc"), progress)?
            .fit(init, &base.model, train, device)?;
    save_model(&avc.model, &base.model, &run_dir.join("avc").join("model"))?;
    let c = base.model.num_classes;
    let config = ClassAwareConfig::default();
    let maps = |model: &AvModel, source: MapSource| {
        localize_all(model, test, &LocalizeConfig { source, ..LocalizeConfig::default() }, 16, device)
    };
    let avc_maps = maps(&avc.model, MapSource::Correspondence)?;
    let (am, at) = agnostic(&avc_maps, &test.truths);
    let avc_levels = agnostic_by_level(&am, &at, &config)?;
    let mt_summary = class_aware_evaluate(&maps(stage1, MapSource::VisualCam)?, &test.truths, c, &config)?;
    let ours_summary = class_aware_evaluate(&maps(stage2, MapSource::Alignment)?, &test.truths, c, &config)?;
    let report = MultiSourceReport {
        rows: vec![
            MethodRow { method: Method::AvcOnly, class_agnostic: true, levels: avc_levels, maps: None },
            MethodRow {
                method: Method::MultiTask,
                class_agnostic: false,
                levels: rows_from(&mt_summary, &config),
                maps: None,
            },
            MethodRow {
                method: Method::CoarseToFine,
                class_agnostic: false,
                levels: rows_from(&ours_summary, &config),
                maps: None,
            },
        ],
        test_scenes: test.truths.len(),
        seconds: started.elapsed().as_secs_f64(),
    };
    if report.rows.iter().any(|r| r.levels.is_empty()) {
        return Err(Error::Config("no frame could be scored".into()));
    }
    write_json(&run_dir.join("metrics.json"), &report)?;
    let csv = run_dir.join("table.csv");
    std::fs::write(&csv, table2(&report).to_csv(3)).map_err(|e| Error::io(&csv, e))?;
    Ok(report)
}

/// Reads one split of an AudioSet-instrument layout (the official one, or as the benchmark
/// writes it) as model data: every annotated frame (or, without boxes, the first frame of each
/// clip) resized to `image_size`, the clip's first 5 s of audio as a log-mel, the clip tags as
/// both audio and visual labels (as the original AudioSet code repeats tags over frames), and the
/// boxes as ground truth (objects of tagged classes sound). Bad items are skipped and counted.
///
/// # Errors
/// [`Error::Config`] when nothing usable is found; whole-file data errors.
pub fn load_audioset_split(
    layout: &AudioSetLayout,
    image_size: u32,
) -> Result<(BenchData, av_data::LoadReport)> {
    use rayon::prelude::*;
    let (split, mut report) = layout.load(av_data::SkipPolicy::Skip)?;
    let audio = AudioPreprocess::new(AudioWindow::FirstSeconds)?;
    let c = split.classes.len();
    // (clip, frame path, boxes) per item.
    let items: Vec<(usize, std::path::PathBuf, Vec<av_data::layouts::audioset::ClassBox>, u64)> =
        if split.frames.is_empty() {
            split
                .clips
                .iter()
                .filter_map(|k| Some((k.index, k.frames.first()?.clone(), Vec::new(), k.index as u64)))
                .collect()
        } else {
            split
                .frames
                .iter()
                .filter(|f| f.evaluated != Some(false))
                .map(|f| (f.clip, f.path.clone(), f.boxes.clone(), f.image_id))
                .collect()
        };
    let by_index: std::collections::HashMap<usize, &av_data::layouts::audioset::AudioSetClip> =
        split.clips.iter().map(|k| (k.index, k)).collect();
    // Every item either loads or is recorded in the report with its reason: none is dropped
    // silently.
    type Skipped = av_data::SkippedItem;
    let skip = |item: String, reason: SkipReason, path: &std::path::Path, message: String| Skipped {
        item,
        reason,
        path: Some(path.to_path_buf()),
        message,
    };
    let outcomes: Vec<std::result::Result<(Sample, SceneTruth), Skipped>> = items
        .par_iter()
        .map(|(clip_index, path, boxes, id)| {
            let item = format!("clip {clip_index}, frame {id}");
            let clip = by_index.get(clip_index).ok_or_else(|| {
                skip(
                    item.clone(),
                    SkipReason::MalformedAnnotation,
                    path,
                    "the frame's clip is not listed".into(),
                )
            })?;
            let frame = av_data::image_io::load_frame(path)
                .map_err(|e| skip(item.clone(), SkipReason::of(&e), path, e.to_string()))?;
            let (w, h) = frame.dimensions();
            let frame = model_frame(&frame, image_size);
            let logmel = audio
                .logmel_of_file(&clip.audio)
                .map_err(|e| skip(item.clone(), SkipReason::UnreadableAudio, &clip.audio, e.to_string()))?;
            let tags: Vec<f32> = clip.tags.iter().map(|&t| f32::from(t.min(1))).collect();
            if tags.len() != c {
                return Err(skip(
                    item,
                    SkipReason::MalformedAnnotation,
                    path,
                    format!("{} tags for {c} classes", tags.len()),
                ));
            }
            let (sx, sy) = (image_size as f64 / w as f64, image_size as f64 / h as f64);
            let objects: Vec<TruthObject> = boxes
                .iter()
                .map(|b| TruthObject {
                    class: b.class,
                    sounding: clip.tags.get(b.class).is_some_and(|&t| t > 0),
                    bbox: [b.bbox.x0 * sx, b.bbox.y0 * sy, b.bbox.x1 * sx, b.bbox.y1 * sy],
                })
                .collect();
            let mut classes: Vec<usize> = objects.iter().filter(|o| o.sounding).map(|o| o.class).collect();
            classes.sort_unstable();
            classes.dedup();
            let truth = SceneTruth {
                id: format!("{}_{id}", clip.ytid),
                level: classes.len().min(255) as u8,
                objects,
            };
            Ok((Sample { frame, logmel, labels_a: tags.clone(), labels_v: tags }, truth))
        })
        .collect();
    let mut loaded = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(item) => loaded.push(item),
            Err(skipped) => report.skipped.push(skipped),
        }
    }
    if loaded.is_empty() {
        return Err(Error::Config(format!(
            "{}: no usable clip or annotated frame ({})",
            layout.root.display(),
            report.summary()
        )));
    }
    let (samples, truths): (Vec<_>, Vec<_>) = loaded.into_iter().unzip();
    Ok((
        BenchData {
            dataset: av_align::train::InMemoryDataset::new(samples)?,
            truths,
            class_names: split.classes,
        },
        report,
    ))
}

/// Table 2, ours beside the paper's: per level the success rate and AUC as numbers (`-` when
/// no frame has that many sources), the paper's `cIoU, AUC` of the three levels as text
/// (3 decimals); rows are labelled with their scene count.
pub fn table2(report: &MultiSourceReport) -> ResultsTable {
    let columns = [
        "L1 cIoU@0.5",
        "L1 AUC",
        "L2 cIoU@0.5",
        "L2 AUC",
        "L3 cIoU@0.3",
        "L3 AUC",
        "paper L1 / L2 / L3 (cIoU, AUC)",
    ];
    let mut table = ResultsTable::new("method", columns.map(String::from).to_vec());
    for row in &report.rows {
        let (name, paper) = match row.method {
            Method::AvcOnly => ("AVC (class-agnostic)", PAPER_TABLE2[0]),
            Method::MultiTask => ("Multi-task", PAPER_TABLE2[1]),
            Method::CoarseToFine => ("Ours", PAPER_TABLE2[2]),
        };
        let name = match row.maps {
            Some(source) => format!("{name} ({source:?} maps)"),
            None => name.to_string(),
        };
        let mut cells = Vec::with_capacity(columns.len());
        for level in 1..=3 {
            match row.levels.iter().find(|l| l.level == level) {
                Some(l) => cells.extend([Cell::Number(l.success), Cell::Number(l.auc)]),
                None => cells.extend([Cell::Text("-".into()), Cell::Text("-".into())]),
            }
        }
        let p = paper.1;
        cells.push(Cell::Text(format!(
            "{:.3}, {:.3} / {:.3}, {:.3} / {:.3}, {:.3}",
            p[0].0, p[0].1, p[1].0, p[1].1, p[2].0, p[2].1
        )));
        // One cell per column by construction.
        table.rows.push(TableRow {
            label: format!("{name} ({} scenes)", row.levels.iter().map(|l| l.frames).sum::<usize>()),
            cells,
        });
    }
    table
}

/// [`table2`] as Markdown (3 decimals, no column alignment markers).
pub fn markdown_table2(report: &MultiSourceReport) -> String {
    table2(report).to_markdown_aligned(3, Align::Unspecified)
}

/// The prediction rule of the class-aware protocol (`0.1 · max`, docs/reference_implementation.md §5.3).
pub const CLASS_AWARE_RULE: PredictionRule = PredictionRule::RelativeToMax(0.1);

#[cfg(test)]
mod table_tests {
    use super::*;

    fn level(level: usize, frames: usize, success: f64, auc: f64) -> LevelScore {
        LevelScore { level, frames, threshold: if level == 3 { 0.3 } else { 0.5 }, success, auc }
    }

    /// Pins the text of [`markdown_table2`] byte for byte.
    #[test]
    fn markdown_table2_text() {
        let report = MultiSourceReport {
            rows: vec![
                MethodRow {
                    method: Method::AvcOnly,
                    class_agnostic: true,
                    levels: vec![level(1, 10, 0.25, 0.3205), level(2, 4, 0.0425, 0.2)],
                    maps: None,
                },
                MethodRow {
                    method: Method::MultiTask,
                    class_agnostic: false,
                    levels: vec![level(1, 10, 0.2, 0.29), level(3, 2, f64::NAN, 0.17849)],
                    maps: None,
                },
                MethodRow {
                    method: Method::CoarseToFine,
                    class_agnostic: false,
                    levels: vec![level(1, 10, 1.0, 0.5), level(2, 4, 0.0, 0.0), level(3, 2, 0.5, 1.0 / 3.0)],
                    maps: None,
                },
                MethodRow {
                    method: Method::CoarseToFine,
                    class_agnostic: false,
                    levels: Vec::new(),
                    maps: None,
                },
            ],
            test_scenes: 16,
            seconds: 1.0,
        };
        let table = table2(&report);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(table.rows[1].cells[2], Cell::Text("-".into()));
        assert_eq!(table.rows[2].cells[0], Cell::Number(1.0));
        assert_eq!(
            table.to_csv(3).lines().nth(2),
            Some(
                "Multi-task (12 scenes),0.200,0.290,-,-,NaN,0.178,\"0.206, 0.295 / 0.024, 0.174 / 0.105, 0.178\""
            )
        );
        assert_eq!(
            markdown_table2(&report),
            concat!(
                "| method | L1 cIoU@0.5 | L1 AUC | L2 cIoU@0.5 | L2 AUC | L3 cIoU@0.3 | L3 AUC | paper L1 / L2 / L3 (cIoU, AUC) |\n",
                "|---|---|---|---|---|---|---|---|\n",
                "| AVC (class-agnostic) (14 scenes) | 0.250 | 0.321 | 0.043 | 0.200 | - | - | 0.248, 0.320 / 0.043, 0.236 / 0.053, 0.149 |\n",
                "| Multi-task (12 scenes) | 0.200 | 0.290 | - | - | NaN | 0.178 | 0.206, 0.295 / 0.024, 0.174 / 0.105, 0.178 |\n",
                "| Ours (16 scenes) | 1.000 | 0.500 | 0.000 | 0.000 | 0.500 | 0.333 | 0.328, 0.383 / 0.062, 0.239 / 0.211, 0.220 |\n",
                // Every row is shown with the paper's row of its method (a fourth row used to
                // be dropped when rows were paired with the paper's by position).
                "| Ours (0 scenes) | - | - | - | - | - | - | 0.328, 0.383 / 0.062, 0.239 / 0.211, 0.220 |\n",
            )
        );
    }
}
