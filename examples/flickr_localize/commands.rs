//! What each subcommand does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use av_align::Localizer;
use av_align::data::bench::AssetPack;
use av_align::data::image_io::load_rgb;
use av_align::data::layouts::flickr::FlickrTestLayout;
use av_align::data::{SkipPolicy, Split};
use av_align::metrics::{
    Baseline, ConsensusGt, PredictionRule, ScoreMap, evaluate_baseline, evaluate_localization,
};
use av_align::model::MapSource;
use av_align::overlay::save_png;
use av_align::preprocess::AudioWindow;
use av_align::train::{StreamingFlickr, load_flickr_train};
use av_experiments::flickr::{
    FlickrPlan, PAPER_TABLE1, evaluate_on_bench, load_run_model, markdown_table, train_plan, train_plan_on,
    write_json, write_overlays,
};
use av_experiments::generate;
use burn::tensor::Device;
use serde_json::json;

use av_experiments::models::Preset;

use crate::cli::{Args, Command, Maps};

pub fn run(args: Args) -> Result<()> {
    let device = av_align::select_device()?;
    let progress = !args.quiet;
    let command = args.command.unwrap_or(Command::Demo {
        checkpoint: "assets/checkpoints/flickr_compact".into(),
        scenes: 64,
        pictures: 8,
        threshold: 0.5,
    });
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    match command {
        Command::Demo { checkpoint, scenes, pictures, threshold } => {
            demo(&checkpoint, scenes, pictures, threshold, &args.out, &device, progress)
        }
        Command::Train { preset, plan, run, ship, data, stream, devices } => {
            train(preset, plan, &run, ship, data.map(|d| (d, stream)), &devices, &device, progress)
        }
        Command::Eval { checkpoint, data, scenes, maps, threshold } => match data {
            Some(root) => eval_real(&checkpoint, &root, threshold, &args.out, &device),
            None => eval_bench(&checkpoint, scenes, maps, threshold, &args.out, &device, progress),
        },
        Command::Localize { checkpoint, image, audio } => {
            localize_pair(&checkpoint, &image, &audio, &args.out, &device)
        }
    }
}

fn source(maps: Maps) -> MapSource {
    match maps {
        Maps::Alignment => MapSource::Alignment,
        Maps::VisualCam => MapSource::VisualCam,
        Maps::Correspondence => MapSource::Correspondence,
    }
}

fn demo(
    checkpoint: &Path,
    scenes: u64,
    pictures: usize,
    threshold: f64,
    out: &Path,
    device: &Device,
    progress: bool,
) -> Result<()> {
    let started = Instant::now();
    let (plan, model) = load_run_model(checkpoint, device)
        .with_context(|| format!("loading the checkpoint in {}", checkpoint.display()))?;
    let data = generate(&plan.data, Split::Test, 0..scenes, progress)?;
    let rule = PredictionRule::Absolute(threshold);
    let (report, maps) = evaluate_on_bench(&model, &data, MapSource::Alignment, rule, device)?;
    let pictures = write_overlays(&data, &maps, &out.join("overlays"), pictures)?;
    let seconds = started.elapsed().as_secs_f64();
    let table = markdown_table(&[("coarse-to-fine (Eq. 8), shipped compact checkpoint", &report.flickr)]);
    write_json(
        &out.join("config.json"),
        &json!({"command": "demo", "checkpoint": checkpoint, "scenes": scenes, "threshold": threshold, "plan": plan}),
    )?;
    write_json(&out.join("manifest.json"), &manifest(&plan, Split::Test, scenes, &data.truths)?)?;
    write_json(&out.join("metrics.json"), &report)?;
    let mut md = format!(
        "# flickr_localize demo\n\nCheckpoint `{}`; {} benchmark test scenes (levels 1-3, sounding objects boxed), \
         SoundNet-Flickr protocol (prediction = map > {threshold}, success at cIoU >= 0.5). Device: {}. {:.1} s.\n\n{table}\n",
        checkpoint.display(),
        report.scenes,
        av_align::device::describe(device),
        seconds
    );
    md.push_str("\nThe paper's Table 1 (real SoundNet-Flickr; not comparable in value):\n\n| method | cIoU@0.5 | AUC |\n|---|---|---|\n");
    for (name, ciou, auc) in PAPER_TABLE1 {
        md.push_str(&format!("| {name} | {ciou:.3} | {auc:.3} |\n"));
    }
    md.push_str("\n## Overlays\n\nLeft to right: input with the sounding boxes, the class-agnostic map, the maps of the two most probable audio classes.\n\n");
    for p in &pictures {
        let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        md.push_str(&format!("![{name}](overlays/{name})\n\n"));
    }
    std::fs::write(out.join("report.md"), md)?;
    println!("{table}");
    println!(
        "{} scenes in {seconds:.1} s; overlays in {}, report {}, metrics {}",
        report.scenes,
        out.join("overlays").display(),
        out.join("report.md").display(),
        out.join("metrics.json").display()
    );
    Ok(())
}

fn manifest(
    plan: &FlickrPlan,
    split: Split,
    scenes: u64,
    truths: &[av_experiments::SceneTruth],
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

#[allow(clippy::too_many_arguments)]
fn train(
    preset: Preset,
    plan_file: Option<PathBuf>,
    run: &Path,
    ship: Option<PathBuf>,
    data: Option<(PathBuf, bool)>,
    devices: &[String],
    device: &Device,
    progress: bool,
) -> Result<()> {
    let plan = match plan_file {
        Some(path) => FlickrPlan::load(&path)?,
        None => preset.plan(),
    }
    .with_devices(devices);
    let trained = match data {
        Some((root, true)) => {
            let (dataset, report) = StreamingFlickr::open(&root, plan.data.image_size)?;
            eprintln!(
                "{} ({} labelled pairs, decoded while training)",
                report.summary(),
                dataset.pairs().len()
            );
            train_plan_on(&plan, &dataset, run, device, progress)?
        }
        Some((root, false)) => {
            let (dataset, report) = load_flickr_train(&root, plan.data.image_size)?;
            eprintln!("{} ({} usable pairs)", report.summary(), dataset.len());
            train_plan_on(&plan, &dataset, run, device, progress)?
        }
        None => train_plan(&plan, run, device, progress)?,
    };
    let last =
        |h: &[av_align::train::EpochLog]| h.last().map(|e| (e.loss.total, e.validation.unwrap_or(f64::NAN)));
    println!(
        "trained in {:.0} s: stage 1 final loss / val AUC {:?}, stage 2 {:?}; model in {}",
        trained.seconds,
        last(&trained.history[0]),
        last(&trained.history[1]),
        run.join("model").display()
    );
    if let Some(dir) = ship {
        std::fs::create_dir_all(&dir)?;
        for f in ["model.bpk", "model.json", "inputs.json", "plan.json"] {
            std::fs::copy(run.join("model").join(f), dir.join(f))?;
        }
        std::fs::copy(run.join("history.json"), dir.join("history.json"))?;
        println!("shipped to {}", dir.display());
    }
    Ok(())
}

fn eval_bench(
    checkpoint: &Path,
    scenes: u64,
    maps: Maps,
    threshold: f64,
    out: &Path,
    device: &Device,
    progress: bool,
) -> Result<()> {
    let (plan, model) = load_run_model(checkpoint, device)?;
    let data = generate(&plan.data, Split::Test, 0..scenes, progress)?;
    let (report, _) =
        evaluate_on_bench(&model, &data, source(maps), PredictionRule::Absolute(threshold), device)?;
    write_json(&out.join("metrics.json"), &report)?;
    write_json(&out.join("manifest.json"), &manifest(&plan, Split::Test, scenes, &data.truths)?)?;
    println!("{}", markdown_table(&[(&format!("{maps:?} maps, {}", checkpoint.display()), &report.flickr)]));
    Ok(())
}

/// The real SoundNet-Flickr test set: frames brought to the model's size, whole audio
/// peak-normalised (MSSL `new/testdata.py`), boxes of all annotators with the consensus rule.
fn eval_real(checkpoint: &Path, root: &Path, threshold: f64, out: &Path, device: &Device) -> Result<()> {
    let localizer = Localizer::from_dir_on(checkpoint, device)
        .with_context(|| format!("loading the checkpoint in {}", checkpoint.display()))?
        .with_audio_window(AudioWindow::WholeClipPeakNormalized);
    let (items, load_report) = FlickrTestLayout::new(root).load(SkipPolicy::Skip)?;
    eprintln!("{}", load_report.summary());
    let size = localizer.inputs().image_size;
    let mut maps = Vec::new();
    let mut gts = Vec::new();
    for item in &items {
        let frame = load_rgb(&item.frame)?;
        let logmel = localizer.audio().logmel_of_file(&item.audio)?;
        let sounds = localizer.localize_logmel_at(&frame, &logmel, [size as usize, size as usize])?;
        maps.push(sounds.agnostic);
        let boxes: Vec<[f64; 4]> =
            item.boxes.iter().map(|b| [b.bbox.x0, b.bbox.y0, b.bbox.x1, b.bbox.y1]).collect();
        let scale = (size as f64 / item.width as f64, size as f64 / item.height as f64);
        gts.push(ConsensusGt::from_scaled_boxes(&boxes, scale, size as usize, size as usize, 1)?);
    }
    if maps.is_empty() {
        bail!("no test item could be loaded from {}", root.display());
    }
    let views =
        maps.iter().map(|m| ScoreMap::new(m, size as usize, size as usize)).collect::<Result<Vec<_>, _>>()?;
    let rule = PredictionRule::Absolute(threshold);
    let ours = evaluate_localization(&views, &gts, rule, 0.5)?;
    let whole = evaluate_baseline(Baseline::WholeImage, &gts, rule, 0.5)?;
    let center = evaluate_baseline(Baseline::CenterBox { fraction: 0.5 }, &gts, rule, 0.5)?;
    write_json(
        &out.join("metrics.json"),
        &json!({"model": ours, "whole_image": whole, "center_box": center, "items": items.len()}),
    )?;
    println!("| method | cIoU@0.5 | AUC |\n|---|---|---|");
    println!("| ours | {:.3} | {:.3} |", ours.success_rate, ours.auc);
    println!("| whole image | {:.3} | {:.3} |", whole.success_rate, whole.auc);
    println!("| centre box | {:.3} | {:.3} |", center.success_rate, center.auc);
    Ok(())
}

fn localize_pair(checkpoint: &Path, image: &Path, audio: &Path, out: &Path, device: &Device) -> Result<()> {
    let localizer = Localizer::from_dir_on(checkpoint, device)
        .with_context(|| format!("loading the checkpoint in {}", checkpoint.display()))?;
    let original = load_rgb(image).with_context(|| format!("reading {}", image.display()))?;
    let logmel =
        localizer.audio().logmel_of_file(audio).with_context(|| format!("reading {}", audio.display()))?;
    let sounds = localizer.localize_logmel(&original, &logmel)?;
    let path = out.join("localized.png");
    save_png(&path, &sounds.overlay(&original)?)?;
    for class in sounds.ranked().iter().take(3) {
        println!("{:>16}: p = {:.2}", class.name, class.audio_prob);
        let picture = out.join(format!("localized_{}.png", class.name));
        save_png(&picture, &sounds.class_overlay(&original, &class.name)?)?;
    }
    println!(
        "overlays written to {} (all sounds) and localized_<class>.png (the three most probable)",
        path.display()
    );
    Ok(())
}
