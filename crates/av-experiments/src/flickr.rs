//! The SoundNet-Flickr experiment (paper §4.3, Table 1) as library calls: a training plan
//! (stage 1 then stage 2 on the offline benchmark), evaluation of a checkpoint on benchmark
//! scenes with the trivial baselines, overlays and a Markdown report. The example
//! `flickr_localize` is a thin command line over these.

use std::path::{Path, PathBuf};
use std::time::Instant;

use av_data::Split;
use av_data::bbox::BBox;
use av_data::image_io::resize_bilinear;
use av_data::viz::{draw_box, draw_text, grid};
use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, LocalizationSummary, PredictionRule, ResultsTable};
use burn::tensor::Device;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use av_align::{Error, Result};

use crate::bench::{BenchData, BenchDataConfig, generate};
use crate::eval::{FlickrReport, SceneMaps, flickr_evaluate, localize_all};
pub use crate::run::write_json;
use av_align::inference::InputSpec;
use av_align::model::{AvModel, AvModelConfig, LocalizeConfig, MapSource, Stage};
use av_align::overlay::{overlay, save_png};
use av_align::preprocess::AudioWindow;
use av_align::train::{EpochLog, TrainConfig, load_model_for, save_model};

/// Everything that defines a training run of the Flickr experiment (stored as `plan.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlickrPlan {
    /// The model.
    pub model: AvModelConfig,
    /// The benchmark data (generator settings and frame size).
    pub data: BenchDataConfig,
    /// Training scenes (train split, indices `0..train_scenes`).
    pub train_scenes: u64,
    /// Validation scenes (val split) for the per-epoch hook.
    pub val_scenes: u64,
    /// Stage-1 settings.
    pub stage1: TrainConfig,
    /// Stage-2 settings.
    pub stage2: TrainConfig,
    /// Seed of the model initialisation.
    pub init_seed: u64,
}

impl FlickrPlan {
    /// The same plan, both stages data-parallel over `devices` (names as for `AV_ALIGN_DEVICE`,
    /// e.g. `cuda:0`, `cuda:1`; see [`TrainConfig::devices`] and `docs/scaling.md`). The devices
    /// are not part of `plan.json`.
    pub fn with_devices(mut self, devices: &[String]) -> Self {
        self.stage1.devices = devices.to_vec();
        self.stage2.devices = devices.to_vec();
        self
    }

    /// The compact preset that produced the shipped checkpoint: compact model on 128x128 frames,
    /// 1 600 benchmark scenes, 30 epochs of stage 1 (SGD lr 0.05) and 20 of stage 2 (lr 0.02),
    /// batch 16; about 20 minutes on 2 CPU cores. The visual trunk starts from scratch (no
    /// ImageNet weights can be downloaded here), hence the higher rates than MSSL's 1e-3 / 1e-4.
    pub fn compact() -> Self {
        let stage1 = TrainConfig { epochs: 30, lr: 0.05, ..TrainConfig::mssl_new(Stage::One) };
        let stage2 = TrainConfig { epochs: 20, lr: 0.02, ..TrainConfig::mssl_new(Stage::Two) };
        Self {
            model: AvModelConfig::compact(15),
            data: BenchDataConfig::localization(2020, 128),
            train_scenes: 1600,
            val_scenes: 64,
            stage1,
            stage2,
            init_seed: 7,
        }
    }

    /// The paper's model and MSSL `new/` settings (ResNet-18 trunks, 256x256 frames, 10 000
    /// pairs, 20 + 20 epochs, lr 1e-3 then 1e-4): a GPU-sized run.
    pub fn paper() -> Self {
        Self {
            model: AvModelConfig::paper(15),
            data: BenchDataConfig::localization(2020, 256),
            train_scenes: 10_000,
            val_scenes: 256,
            stage1: TrainConfig::mssl_new(Stage::One),
            stage2: TrainConfig::mssl_new(Stage::Two),
            init_seed: 7,
        }
    }

    /// A tiny plan for tests (seconds).
    pub fn tiny() -> Self {
        let mut model =
            AvModelConfig::compact(15).with_projection_hidden(32).with_embedding_dim(16).with_avc_hidden(8);
        model.visual = model.visual.with_base_width(4);
        model.audio = model.audio.with_base_width(4);
        let stage1 = TrainConfig { epochs: 1, batch_size: 4, lr: 0.02, ..TrainConfig::mssl_new(Stage::One) };
        let stage2 = TrainConfig { epochs: 1, batch_size: 4, lr: 0.02, ..TrainConfig::mssl_new(Stage::Two) };
        Self {
            model,
            data: BenchDataConfig::localization(2020, 64),
            train_scenes: 8,
            val_scenes: 4,
            stage1,
            stage2,
            init_seed: 7,
        }
    }

    /// What a model trained with this plan needs at inference (frame side, class names, the
    /// first 5 s of audio), stored as `inputs.json` in its model folder.
    pub fn input_spec(&self) -> InputSpec {
        InputSpec {
            image_size: self.data.image_size,
            class_names: self.data.bench.vocabulary.names().into_iter().map(String::from).collect(),
            audio: AudioWindow::FirstSeconds,
        }
    }

    /// Reads a plan from JSON.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Config`] for invalid JSON (with line and column).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Writes the plan as JSON.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

/// The result of [`train_plan`].
#[derive(Debug)]
pub struct TrainedPlan {
    /// The stage-1 model.
    pub stage1: AvModel,
    /// The stage-2 model.
    pub stage2: AvModel,
    /// Histories of the two stages.
    pub history: [Vec<EpochLog>; 2],
    /// Wall time in seconds (this process; a resumed run counts only what it did).
    pub seconds: f64,
}

/// Trains stage 1 then stage 2 of `plan` on a given training set (e.g. real SoundNet-Flickr
/// pairs from [`av_align::train::load_flickr_train`]), without a validation hook; the model's class count is
/// taken from the data. Same run-directory layout and resume as [`train_plan`].
///
/// # Errors
/// As [`train_plan`].
pub fn train_plan_on(
    plan: &FlickrPlan,
    train: &dyn av_align::train::BatchSource,
    run_dir: &Path,
    device: &Device,
    progress: bool,
) -> Result<TrainedPlan> {
    let started = Instant::now();
    let mut plan = plan.clone();
    plan.model.num_classes = train.num_classes();
    check_or_save_plan(&plan, run_dir)?;
    train_stages(&plan, train, None, run_dir, device, progress, started)
}

/// Writes `plan.json` in a new run directory, or checks that an existing one holds this plan.
fn check_or_save_plan(plan: &FlickrPlan, run_dir: &Path) -> Result<()> {
    let plan_path = run_dir.join("plan.json");
    if !plan_path.is_file() {
        return plan.save(&plan_path);
    }
    let existing = FlickrPlan::load(&plan_path)?;
    if serde_json::to_value(&existing).ok() != serde_json::to_value(plan).ok() {
        return Err(Error::Checkpoint {
            path: run_dir.to_path_buf(),
            detail: "holds a run of another plan; choose another --run directory".into(),
        });
    }
    Ok(())
}

/// Stage 1 then stage 2 on `train` (validation AUC per epoch on `val` when given: visual CAMs
/// in stage 1, Eq. 8 maps in stage 2), saving `model_stage1/`, `model/` and `history.json`.
fn train_stages(
    plan: &FlickrPlan,
    train: &dyn av_align::train::BatchSource,
    val: Option<&BenchData>,
    run_dir: &Path,
    device: &Device,
    progress: bool,
    started: Instant,
) -> Result<TrainedPlan> {
    device.seed(plan.init_seed);
    let init = plan.model.init(device)?;
    let trainer =
        |config: &TrainConfig, dir: &str, source: MapSource| -> Result<av_align::train::Trainer<'static>> {
            let mut t = crate::run::trainer(config.clone(), run_dir.join(dir), progress)?;
            if let Some(val) = val {
                let (val, device) = (val.clone(), device.clone());
                t = t.with_validation(Box::new(move |model: &AvModel, _epoch: usize| -> Result<f64> {
                    let cfg = LocalizeConfig { source, ..LocalizeConfig::default() };
                    let maps = localize_all(model, &val, &cfg, 16, &device)?;
                    Ok(flickr_evaluate(&maps, &val.truths, PredictionRule::Absolute(0.5))?.model.auc)
                }));
            }
            Ok(t)
        };
    if progress {
        eprintln!(
            "stage 1 (classification + AVC){}",
            if val.is_some() { ", validation AUC with visual CAMs" } else { "" }
        );
    }
    let s1 = trainer(&plan.stage1, "stage1", MapSource::VisualCam)?.fit(init, &plan.model, train, device)?;
    save_model_dir(&s1.model, plan, &run_dir.join("model_stage1"))?;
    if progress {
        eprintln!(
            "stage 2 (+ alignment){}",
            if val.is_some() { ", validation AUC with Eq. 8 maps" } else { "" }
        );
    }
    let s2 = trainer(&plan.stage2, "stage2", MapSource::Alignment)?.fit(
        s1.model.clone(),
        &plan.model,
        train,
        device,
    )?;
    save_model_dir(&s2.model, plan, &run_dir.join("model"))?;
    write_json(&run_dir.join("history.json"), &[&s1.history, &s2.history])?;
    Ok(TrainedPlan {
        stage1: s1.model,
        stage2: s2.model,
        history: [s1.history, s2.history],
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Trains stage 1 then stage 2 of `plan` in `run_dir` (`stage1/`, `stage2/` with checkpoints,
/// `plan.json`, `model_stage1/`, `model/` with the final weights). Interrupted runs resume.
///
/// # Errors
/// [`Error::Checkpoint`] when `run_dir` holds a run of another plan; data and training errors.
pub fn train_plan(plan: &FlickrPlan, run_dir: &Path, device: &Device, progress: bool) -> Result<TrainedPlan> {
    let started = Instant::now();
    check_or_save_plan(plan, run_dir)?;
    if progress {
        eprintln!("generating {} training and {} validation scenes ...", plan.train_scenes, plan.val_scenes);
    }
    let train = generate(&plan.data, Split::Train, 0..plan.train_scenes, progress)?;
    let val = generate(&plan.data, Split::Val, 0..plan.val_scenes.max(1), false)?;
    train_stages(plan, &train.dataset, Some(&val), run_dir, device, progress, started)
}

/// Loads a model folder written by [`train_plan`] (`<run>/model`, `<run>/model_stage1`) or
/// shipped (`assets/checkpoints/flickr_compact`): its plan (`plan.json` in the folder, else in
/// its parent, the run directory) and the model, checked against the plan's model. The one
/// loader of trained models for every experiment.
///
/// # Errors
/// [`Error::Checkpoint`] when no `plan.json` is found, and as [`load_model_for`].
pub fn load_run_model(dir: &Path, device: &Device) -> Result<(FlickrPlan, AvModel)> {
    let candidates = [dir.join("plan.json"), dir.join("..").join("plan.json")];
    let plan_path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| Error::Checkpoint {
        path: dir.to_path_buf(),
        detail: "has no plan.json (the frame size and data settings of the model), nor has its parent; \
                 model folders written by `flickr_localize train` have one"
            .into(),
    })?;
    let plan = FlickrPlan::load(plan_path)?;
    let model = load_model_for(dir, &plan.model, device)?;
    Ok((plan, model))
}

/// Saves a trained model as a self-contained folder: weights and model config
/// ([`save_model`]), `inputs.json` (what [`av_align::Localizer::from_dir`] needs) and the
/// plan that trained it (`plan.json`).
///
/// # Errors
/// I/O errors.
pub fn save_model_dir(model: &AvModel, plan: &FlickrPlan, dir: &Path) -> Result<()> {
    save_model(model, &plan.model, dir)?;
    plan.input_spec().save(dir)?;
    plan.save(&dir.join("plan.json"))
}

/// Scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Which maps.
    pub source: MapSource,
    /// Number of scenes.
    pub scenes: usize,
    /// cIoU / AUC of the model and the baselines.
    pub flickr: FlickrReport,
}

/// Localizes benchmark test scenes `0..scenes` with `model` and scores them.
///
/// # Errors
/// Data, model and metric errors.
pub fn evaluate_on_bench(
    model: &AvModel,
    data: &BenchData,
    source: MapSource,
    rule: PredictionRule,
    device: &Device,
) -> Result<(EvalReport, Vec<SceneMaps>)> {
    let cfg = LocalizeConfig { source, ..LocalizeConfig::default() };
    let maps = localize_all(model, data, &cfg, 16, device)?;
    let flickr = flickr_evaluate(&maps, &data.truths, rule)?;
    Ok((EvalReport { source, scenes: maps.len(), flickr }, maps))
}

/// Writes one picture per scene: the frame with its sounding boxes, the class-agnostic overlay
/// and the per-class overlays of the two most probable audio classes. Returns the paths.
///
/// # Errors
/// [`Error::Io`], [`Error::Shape`].
pub fn write_overlays(
    data: &BenchData,
    maps: &[SceneMaps],
    dir: &Path,
    count: usize,
) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (i, (m, truth)) in maps.iter().zip(&data.truths).take(count).enumerate() {
        // Pictures are drawn at >= 256 px whatever the model's frame size.
        let small = &data.dataset.samples()[i].frame;
        let side = small.width().max(256);
        let scale = side as f64 / small.width() as f64;
        let frame = &resize_bilinear(small, side, side);
        let mut annotated = frame.clone();
        for o in truth.objects.iter().filter(|o| o.sounding) {
            let b = BBox::new(o.bbox[0] * scale, o.bbox[1] * scale, o.bbox[2] * scale, o.bbox[3] * scale);
            draw_box(&mut annotated, &b, [0, 255, 0], 2, false);
        }
        label(&mut annotated, "input + sounding boxes");
        let mut tiles = vec![annotated];
        let mut agn = overlay(frame, &m.agnostic, m.size, m.size, 0.6)?;
        label(&mut agn, "all sounds");
        tiles.push(agn);
        let mut order: Vec<usize> = (0..m.audio_probs.len()).collect();
        order.sort_by(|&a, &b| m.audio_probs[b].total_cmp(&m.audio_probs[a]));
        let plane = m.size * m.size;
        for &c in order.iter().take(2) {
            // Each class map is shown divided by its own maximum (its values are cosines in [0, 1]).
            let class_map = &m.per_class[c * plane..(c + 1) * plane];
            let peak = class_map.iter().fold(0.0f32, |a, &b| a.max(b));
            let shown: Vec<f32> =
                class_map.iter().map(|&v| if peak > 0.0 { v / peak } else { 0.0 }).collect();
            let mut t = overlay(frame, &shown, m.size, m.size, 0.6)?;
            let name = data.class_names.get(c).map_or("?", String::as_str);
            let sounds =
                if truth.objects.iter().any(|o| o.sounding && o.class == c) { "plays" } else { "silent" };
            label(&mut t, &format!("{name} p={:.2} ({sounds})", m.audio_probs[c]));
            tiles.push(t);
        }
        let picture = grid(&tiles, tiles.len() as u32, 4, [255, 255, 255]);
        let path = dir.join(format!("{}.png", truth.id));
        save_png(&path, &picture)?;
        paths.push(path);
    }
    Ok(paths)
}

fn label(img: &mut RgbImage, text: &str) {
    draw_text(img, 3, 3, text, 1, [255, 255, 255], Some([0, 0, 0]));
}

/// The table of a Flickr-style evaluation: one row per `(method, report)`, the model's
/// cIoU@0.5 and AUC as numbers, each baseline's `cIoU@0.5 / AUC` pair as text (3 decimals).
pub fn flickr_table(rows: &[(&str, &FlickrReport)]) -> ResultsTable {
    let columns = ["cIoU@0.5", "AUC", "whole image cIoU@0.5 / AUC", "centre box cIoU@0.5 / AUC"];
    let mut table = ResultsTable::new("method", columns.map(String::from).to_vec());
    let pair = |s: &LocalizationSummary| Cell::Text(format!("{:.3} / {:.3}", s.success_rate, s.auc));
    for (name, r) in rows {
        // One cell per column by construction.
        table.rows.push(TableRow {
            label: (*name).to_string(),
            cells: vec![
                Cell::Number(r.model.success_rate),
                Cell::Number(r.model.auc),
                pair(&r.whole_image),
                pair(&r.center_box),
            ],
        });
    }
    table
}

/// [`flickr_table`] as Markdown (3 decimals, no column alignment markers).
pub fn markdown_table(rows: &[(&str, &FlickrReport)]) -> String {
    flickr_table(rows).to_markdown_aligned(3, Align::Unspecified)
}

/// The paper's Table 1 rows on SoundNet-Flickr (cIoU@0.5, AUC; docs/reference_implementation.md §12), for
/// reference beside ours. They are on real SoundNet-Flickr, ours on the offline benchmark: the
/// numbers are not comparable, the ordering against the baselines is.
pub const PAPER_TABLE1: [(&str, f64, f64); 6] = [
    ("Random", 0.072, 0.307),
    ("Attention 10K (Senocak et al.)", 0.436, 0.449),
    ("DMC AudioSet", 0.416, 0.452),
    ("CAVL AudioSet", 0.500, 0.492),
    ("Ours 10K (paper)", 0.522, 0.496),
    ("Ours 20K (paper)", 0.538, 0.506),
];

#[cfg(test)]
mod table_tests {
    use super::*;

    fn summary(success_rate: f64, auc: f64) -> LocalizationSummary {
        LocalizationSummary {
            cious: Vec::new(),
            success_threshold: 0.5,
            success_rate,
            auc,
            curve: Vec::new(),
        }
    }

    fn report(v: [f64; 6]) -> FlickrReport {
        FlickrReport {
            model: summary(v[0], v[1]),
            whole_image: summary(v[2], v[3]),
            center_box: summary(v[4], v[5]),
            rule: PredictionRule::Absolute(0.5),
        }
    }

    /// Pins the text of [`markdown_table`] (the main job's table) byte for byte.
    #[test]
    fn markdown_table_text() {
        let main = report([0.1405, 0.29849, 0.0, 0.2089, 0.09375, 0.28651]);
        let odd = report([1.0, f64::NAN, 0.0005, 0.0015, 0.9999, 2.0 / 3.0]);
        let rows =
            [("coarse-to-fine (Eq. 8), shipped compact checkpoint", &main), ("Visual maps, a/b.bpk", &odd)];
        assert_eq!(
            markdown_table(&rows),
            concat!(
                "| method | cIoU@0.5 | AUC | whole image cIoU@0.5 / AUC | centre box cIoU@0.5 / AUC |\n",
                "|---|---|---|---|---|\n",
                "| coarse-to-fine (Eq. 8), shipped compact checkpoint | 0.141 | 0.298 | 0.000 / 0.209 | 0.094 / 0.287 |\n",
                "| Visual maps, a/b.bpk | 1.000 | NaN | 0.001 / 0.002 | 1.000 / 0.667 |\n",
            )
        );
        let table = flickr_table(&rows);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(
            table.to_csv(3).lines().nth(1),
            Some(
                "\"coarse-to-fine (Eq. 8), shipped compact checkpoint\",0.141,0.298,0.000 / 0.209,0.094 / 0.287"
            )
        );
        assert_eq!(
            markdown_table(&[]),
            concat!(
                "| method | cIoU@0.5 | AUC | whole image cIoU@0.5 / AUC | centre box cIoU@0.5 / AUC |\n",
                "|---|---|---|---|---|\n",
            )
        );
    }
}
