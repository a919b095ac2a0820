//! The runs of the `flickr_localize` example, each writing its files into the run folder: the
//! demo on built-in benchmark scenes, the evaluation of a model folder on benchmark scenes, and
//! on a real SoundNet-Flickr test set.

use std::path::{Path, PathBuf};
use std::time::Instant;

use av_align::Localizer;
use av_align::model::MapSource;
use av_align::preprocess::AudioWindow;
use av_align::{Error, Result};
use av_data::bench::AssetPack;
use av_data::image_io::load_rgb;
use av_data::layouts::flickr::FlickrTestLayout;
use av_data::{SkipPolicy, Split};
use av_metrics::{
    Align, Baseline, Cell, ConsensusGt, LocalizationSummary, PredictionRule, ResultsTable, ScoreMap,
    evaluate_baseline, evaluate_localization,
};
use serde::Serialize;
use serde_json::json;

use super::{
    EvalReport, FlickrPlan, GeneralizationReport, PAPER_TABLE1, evaluate_generalization_on,
    evaluate_on_bench, load_run_model, markdown_table, test_sets, write_overlays,
};
use crate::bench::{SceneTruth, generate};
use crate::eval::{flickr_evaluate, localize_all};
use crate::run::RunContext;

/// What [`run_demo`] measured and wrote.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    /// cIoU / AUC of the model and the baselines on the in-family test scenes.
    pub report: EvalReport,
    /// In- and out-of-family scores of the model, its own CAMs and the baselines.
    pub generalization: GeneralizationReport,
    /// The Markdown table printed by the example (the generalization table).
    pub table: String,
    /// Wall time (s).
    pub seconds: f64,
    /// The overlay pictures written (in-family, then out-of-family).
    pub pictures: Vec<PathBuf>,
}

/// The main job: localizes benchmark test scenes `0..scenes` of the in-family and of the
/// out-of-family test set with the model folder `checkpoint` (every row of the generalization
/// table, prediction = map > `threshold`), writes `pictures` overlays of each (drawn with the
/// maps the folder's `inputs.json` names, as [`Localizer`] draws them), `config.json`, `manifest.json`,
/// `metrics.json` (in-family), `generalization.json` and `report.md` into the run folder.
///
/// # Errors
/// Loading, data, model and I/O errors.
pub fn run_demo(
    ctx: &RunContext,
    checkpoint: &Path,
    scenes: u64,
    pictures: usize,
    threshold: f64,
) -> Result<DemoOutcome> {
    let started = Instant::now();
    let (plan, model) = load_run_model(checkpoint, &ctx.device)?;
    let rule = PredictionRule::Absolute(threshold);
    let sets = test_sets(&plan, Split::Test, scenes, ctx.progress)?;
    let (generalization, maps) = evaluate_generalization_on(&model, None, &sets, rule, &ctx.device)?;
    // The overlays show what the Localizer of this folder draws.
    let drawn = crate::models::drawn_config(checkpoint)?;
    let overlay_maps = [
        localize_all(&model, &sets[0].data, &drawn, 16, &ctx.device)?,
        localize_all(&model, &sets[1].data, &drawn, 16, &ctx.device)?,
    ];
    let mut written = write_overlays(&sets[0].data, &overlay_maps[0], &ctx.path("overlays"), pictures)?;
    written.extend(write_overlays(
        &sets[1].data,
        &overlay_maps[1],
        &ctx.path("overlays/out_of_family"),
        pictures,
    )?);
    ctx.write_json("manifest.json", &manifest(&plan, Split::Test, scenes, &sets[0].data.truths)?)?;
    let flickr = flickr_evaluate(&maps[0], &sets[0].data.truths, rule)?;
    let report = EvalReport { source: MapSource::Alignment, scenes: maps[0].len(), flickr };
    let seconds = started.elapsed().as_secs_f64();
    let table = generalization.table();
    ctx.write_json(
        "config.json",
        &json!({"command": "demo", "checkpoint": checkpoint, "scenes": scenes, "threshold": threshold, "plan": plan}),
    )?;
    ctx.write_json("metrics.json", &report)?;
    ctx.write_json("generalization.json", &generalization)?;
    let mut md = format!(
        "# flickr_localize demo\n\nModel folder `{}`; {} benchmark test scenes of each test set (levels 1-3, sounding objects boxed): \
         in-family (the picture families, SoundFonts and photo groups of training, new instances) and out-of-family \
         (picture families, a SoundFont and photos never used in training). SoundNet-Flickr protocol (prediction = map > {threshold}, \
         success at cIoU >= 0.5). Device: {}. {:.1} s.\n\n{table}\n",
        checkpoint.display(),
        report.scenes,
        av_align::device::describe(&ctx.device),
        seconds
    );
    md.push_str("\nThe paper's Table 1 (real SoundNet-Flickr; not comparable in value):\n\n| method | cIoU@0.5 | AUC |\n|---|---|---|\n");
    for (name, ciou, auc) in PAPER_TABLE1 {
        md.push_str(&format!("| {name} | {ciou:.3} | {auc:.3} |\n"));
    }
    md.push_str(&format!(
        "\n## Overlays\n\nDrawn with the model folder's maps ({:?}, classes combined by {:?}). Left to right: input with the sounding boxes, \
         the class-agnostic map, the maps of the two most probable audio classes. In-family scenes first, then out-of-family ones.\n\n",
        drawn.source, drawn.combine
    ));
    for p in &written {
        let rel = p.strip_prefix(&ctx.out).unwrap_or(p).to_string_lossy().to_string();
        md.push_str(&format!("![{rel}]({rel})\n\n"));
    }
    let report_path = ctx.path("report.md");
    std::fs::write(&report_path, md).map_err(|e| Error::io(&report_path, e))?;
    Ok(DemoOutcome { report, generalization, table, seconds, pictures: written })
}

/// Scores the model folder `checkpoint` on benchmark test scenes `0..scenes` with the maps of
/// `source`; writes `metrics.json` and `manifest.json`. Returns the report and its table.
///
/// # Errors
/// Loading, data, model and I/O errors.
pub fn run_bench_eval(
    ctx: &RunContext,
    checkpoint: &Path,
    scenes: u64,
    source: MapSource,
    threshold: f64,
) -> Result<(EvalReport, String)> {
    let (plan, model) = load_run_model(checkpoint, &ctx.device)?;
    let data = generate(&plan.data, Split::Test, 0..scenes, ctx.progress)?;
    let (report, _) =
        evaluate_on_bench(&model, &data, source, PredictionRule::Absolute(threshold), &ctx.device)?;
    ctx.write_json("metrics.json", &report)?;
    ctx.write_json("manifest.json", &manifest(&plan, Split::Test, scenes, &data.truths)?)?;
    let table = markdown_table(&[(&format!("{source:?} maps, {}", checkpoint.display()), &report.flickr)]);
    Ok((report, table))
}

/// The scores of a model on a real SoundNet-Flickr test set.
#[derive(Debug, Clone, Serialize)]
pub struct RealTestReport {
    /// The model's class-agnostic maps.
    pub model: LocalizationSummary,
    /// A map of ones.
    pub whole_image: LocalizationSummary,
    /// A centred box of half the image side.
    pub center_box: LocalizationSummary,
    /// Items scored.
    pub items: usize,
    /// What the loader skipped and why, in words.
    pub loaded: String,
}

impl RealTestReport {
    /// The table printed by the example: ours, whole image, centre box.
    pub fn table(&self) -> String {
        let mut table = ResultsTable::new("method", vec!["cIoU@0.5".into(), "AUC".into()]);
        for (name, s) in
            [("ours", &self.model), ("whole image", &self.whole_image), ("centre box", &self.center_box)]
        {
            table.rows.push(av_metrics::table::TableRow {
                label: name.into(),
                cells: vec![Cell::Number(s.success_rate), Cell::Number(s.auc)],
            });
        }
        table.to_markdown_aligned(3, Align::Unspecified)
    }
}

/// The real SoundNet-Flickr test set under `root` (the documented layout): frames brought to
/// the model's size, the whole clip peak-normalised (MSSL `new/testdata.py`), maps at the
/// model's frame size, the boxes of all annotators with the consensus rule; prediction = map >
/// `threshold`. Writes `metrics.json`.
///
/// # Errors
/// [`Error::Config`] when no test item could be loaded; loading, model and I/O errors.
pub fn run_real_test_set(
    ctx: &RunContext,
    checkpoint: &Path,
    root: &Path,
    threshold: f64,
) -> Result<RealTestReport> {
    let localizer = Localizer::from_dir_on(checkpoint, &ctx.device)?
        .with_audio_window(AudioWindow::WholeClipPeakNormalized);
    let (items, load_report) = FlickrTestLayout::new(root).load(SkipPolicy::Skip)?;
    let size = localizer.inputs().image_size as usize;
    let mut maps = Vec::new();
    let mut gts = Vec::new();
    for item in &items {
        let frame = load_rgb(&item.frame)?;
        let logmel = localizer.audio().logmel_of_file(&item.audio)?;
        maps.push(localizer.localize_logmel_at(&frame, &logmel, [size, size])?.agnostic);
        let boxes: Vec<[f64; 4]> =
            item.boxes.iter().map(|b| [b.bbox.x0, b.bbox.y0, b.bbox.x1, b.bbox.y1]).collect();
        let scale = (size as f64 / item.width as f64, size as f64 / item.height as f64);
        gts.push(ConsensusGt::from_scaled_boxes(&boxes, scale, size, size, 1)?);
    }
    if maps.is_empty() {
        return Err(Error::Config(format!(
            "no test item could be loaded from {} ({})",
            root.display(),
            load_report.summary()
        )));
    }
    let views =
        maps.iter().map(|m| ScoreMap::new(m, size, size)).collect::<std::result::Result<Vec<_>, _>>()?;
    let rule = PredictionRule::Absolute(threshold);
    let report = RealTestReport {
        model: evaluate_localization(&views, &gts, rule, 0.5)?,
        whole_image: evaluate_baseline(Baseline::WholeImage, &gts, rule, 0.5)?,
        center_box: evaluate_baseline(Baseline::CenterBox { fraction: 0.5 }, &gts, rule, 0.5)?,
        items: items.len(),
        loaded: load_report.summary(),
    };
    ctx.write_json(
        "metrics.json",
        &json!({"model": report.model, "whole_image": report.whole_image, "center_box": report.center_box, "items": report.items}),
    )?;
    Ok(report)
}

/// Copies a trained model folder (`<run>/model`: weights, model config, `inputs.json`,
/// `plan.json`) and the run's `history.json` into `dir`, e.g. to ship it as a checkpoint.
///
/// # Errors
/// [`Error::Io`] naming the file that cannot be copied.
pub fn ship_model(run: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let files = ["model.bpk", "model.json", "inputs.json", "plan.json"]
        .map(|f| (run.join("model").join(f), dir.join(f)));
    for (from, to) in files.into_iter().chain([(run.join("history.json"), dir.join("history.json"))]) {
        std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
    }
    Ok(())
}

/// The data manifest of an evaluation on benchmark scenes: generator settings, asset
/// fingerprint, split and scene ids.
fn manifest(
    plan: &FlickrPlan,
    split: Split,
    scenes: u64,
    truths: &[SceneTruth],
) -> Result<serde_json::Value> {
    let assets = AssetPack::load_default()?;
    Ok(json!({
        "generator": plan.data,
        "asset_fingerprint": assets.fingerprint(),
        "split": format!("{split:?}"),
        "scenes": scenes,
        "ids": truths.iter().map(|t| &t.id).collect::<Vec<_>>(),
    }))
}
