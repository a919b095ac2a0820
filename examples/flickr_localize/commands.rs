//! What each subcommand does.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use av_align::Localizer;
use av_align::data::image_io::load_rgb;
use av_align::model::MapSource;
use av_align::overlay::save_png;
use av_align::train::{StreamingFlickr, load_flickr_train};
use av_experiments::flickr::{
    FlickrPlan, calibrate_silence, embedding_spread, evaluate_generalization_on, run_bench_eval, run_demo,
    run_real_test_set, ship_model, test_sets, train_plan, train_plan_on,
};
use av_experiments::models::load_checkpoint_with_plan;
use av_experiments::run::RunContext;
use burn::tensor::Device;

use crate::cli::{Args, Command, Maps, PositionTerm, VocabularyArg};

pub fn run(args: Args) -> Result<()> {
    let ctx = RunContext::new(&args.out, av_align::select_device()?, !args.quiet)
        .context("creating the run folder")?;
    let command = args.command.unwrap_or(Command::Demo {
        checkpoint: "assets/checkpoints/flickr_broad".into(),
        scenes: 64,
        pictures: 8,
        threshold: 0.5,
    });
    match command {
        Command::Demo { checkpoint, scenes, pictures, threshold } => {
            let demo = run_demo(&ctx, &checkpoint, scenes, pictures, threshold)
                .context("loading the model folder")?;
            println!(
                "{}: {} benchmark test scenes in-family (training's picture families, SoundFonts and photo groups) \
                 and {} out-of-family (families, a SoundFont and photos never used in training)\n",
                checkpoint.display(),
                demo.report.scenes,
                demo.report.scenes
            );
            println!("{}", demo.table);
            println!(
                "{} scenes in {:.1} s; overlays in {}, report {}, metrics {}",
                demo.report.scenes,
                demo.seconds,
                ctx.path("overlays").display(),
                ctx.path("report.md").display(),
                ctx.path("metrics.json").display()
            );
            Ok(())
        }
        Command::Train {
            preset,
            plan,
            run,
            ship,
            data,
            stream,
            devices,
            seed,
            position,
            vocabulary,
            no_class_clips,
        } => {
            let mut plan = match plan {
                Some(path) => FlickrPlan::load(&path)?,
                None => preset.plan(),
            }
            .with_devices(&devices);
            if let Some(seed) = seed {
                plan = plan.with_seed(seed);
            }
            if let Some(term) = position {
                plan.stage2.objective.position = match term {
                    PositionTerm::Off => None,
                    PositionTerm::Max => Some(av_align::alignment::PositionLossConfig::default()),
                    PositionTerm::Lvs => Some(av_align::alignment::PositionLossConfig::lvs()),
                };
            }
            if let Some(f) = no_class_clips {
                plan = plan.with_no_class_clips(f);
            }
            if let Some(v) = vocabulary {
                plan = plan.with_vocabulary(match v {
                    VocabularyArg::Audioset15 => av_align::data::classes::Vocabulary::AudioSet15,
                    VocabularyArg::Music11 => av_align::data::classes::Vocabulary::Music11,
                });
            }
            train(plan, &run, ship, data.map(|d| (d, stream)), &ctx.device, ctx.progress)
        }
        Command::Generalization { checkpoint, scenes, split } => {
            let split = av_align::data::Split::from_name(&split)
                .with_context(|| format!("--split must be val or test, not {split}"))?;
            let (plan, model, stage1) = load_checkpoint_with_plan(&checkpoint, None, &ctx.device)
                .context("loading the model folder")?;
            let sets = test_sets(&plan, split, scenes, ctx.progress)?;
            let rule = av_align::metrics::PredictionRule::Absolute(0.5);
            let (report, _) = evaluate_generalization_on(&model, stage1.as_ref(), &sets, rule, &ctx.device)?;
            ctx.write_json("generalization.json", &report)?;
            println!("{}", report.table());
            let spreads = [
                embedding_spread(&model, &sets[0], &ctx.device)?,
                embedding_spread(&model, &sets[1], &ctx.device)?,
            ];
            ctx.write_json("embeddings.json", &spreads)?;
            println!("\nHow far apart Eq. 8's embeddings are (mean cosines; in-family / out-of-family):\n");
            println!(
                "| two classes sounding in one clip | first classes of two other clips | a position and its frame's mean |"
            );
            println!("|---|---|---|");
            println!(
                "| {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} |",
                spreads[0].same_clip_classes,
                spreads[1].same_clip_classes,
                spreads[0].other_clips,
                spreads[1].other_clips,
                spreads[0].positions_to_frame_mean,
                spreads[1].positions_to_frame_mean
            );
            Ok(())
        }
        Command::Eval { checkpoint, data, scenes, maps, threshold } => {
            match data {
                Some(root) => {
                    let report = run_real_test_set(&ctx, &checkpoint, &root, threshold)
                        .context("loading the model folder")?;
                    eprintln!("{}", report.loaded);
                    print!("{}", report.table());
                }
                None => {
                    let (_, table) = run_bench_eval(&ctx, &checkpoint, scenes, source(maps), threshold)
                        .context("loading the model folder")?;
                    println!("{table}");
                }
            }
            Ok(())
        }
        Command::CalibrateSilence { checkpoint, scenes, write } => {
            let calibration =
                calibrate_silence(&ctx, &checkpoint, scenes, write).context("loading the model folder")?;
            print!("{}", calibration.table());
            println!(
                "rule: sounding when the level >= {} dBFS and the highest audio class probability >= {:.3}{}",
                calibration.rule.min_level_dbfs,
                calibration.rule.min_confidence,
                if write {
                    format!(" (written to {})", checkpoint.join("inputs.json").display())
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Localize { checkpoint, image, audio } => {
            localize_pair(&checkpoint, &image, &audio, &ctx.out, &ctx.device)
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

#[allow(clippy::too_many_arguments)]
fn train(
    plan: FlickrPlan,
    run: &Path,
    ship: Option<PathBuf>,
    data: Option<(PathBuf, bool)>,
    device: &Device,
    progress: bool,
) -> Result<()> {
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
    if let Some(best) = trained.best {
        println!(
            "the model is stage 2's epoch {} of {}, the best validated (AUC {:.3})",
            best.epoch,
            trained.history[1].len(),
            best.validation
        );
    }
    if let Some(dir) = ship {
        ship_model(run, &dir)?;
        println!("shipped to {}", dir.display());
    }
    Ok(())
}

fn localize_pair(checkpoint: &Path, image: &Path, audio: &Path, out: &Path, device: &Device) -> Result<()> {
    let localizer = Localizer::from_dir_on(checkpoint, device).context("loading the model folder")?;
    // The library's errors name the file; no context is added.
    let original = load_rgb(image)?;
    let decoded = av_align::audio::load_mono(audio)?;
    let sounds = localizer.localize(&original, &decoded.samples, decoded.sample_rate)?;
    let heard = sounds.hearing;
    let rule = localizer.inputs().silence;
    if !heard.sounding {
        println!(
            "no sounding object found: highest audio class probability {:.2} (needs {:.2}), level {} (needs {} dBFS); no map drawn",
            heard.confidence,
            rule.min_confidence,
            heard.level_dbfs.map_or("unknown".into(), |l| format!("{l:.1} dBFS")),
            rule.min_level_dbfs
        );
        return Ok(());
    }
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
