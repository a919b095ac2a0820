//! The paper's Table 2: multi-source localization by difficulty level, for the three methods of
//! the ablation (AVC only, multi-task, ours), trained on the offline benchmark.
//!
//! ```text
//! cargo run --release --example audioset_multisource                 # compact preset (CPU minutes)
//! cargo run --release --example audioset_multisource -- --preset tiny --run /tmp/ms
//! cargo run --release --example audioset_multisource -- --checkpoint assets/checkpoints/flickr_compact
//! cargo run --release --example audioset_multisource -- --checkpoint runs/audioset_multisource/ours/model \
//!     --avc runs/audioset_multisource/avc/model --data /path/to/audioset_instruments
//! ```
//! With `--checkpoint` nothing is trained: the model folder is scored on the benchmark's test
//! scenes or on `--data`'s test split (real layout, official names).

use std::path::PathBuf;

use anyhow::Context;
use anyhow::Result;
use av_align::data::Split;
use av_align::data::layouts::audioset::AudioSetLayout;
use av_experiments::flickr::{Family, load_run_model, test_data_config};
use av_experiments::generate;
use av_experiments::multisource::{
    MultiSourcePlan, MultiSourceReport, evaluate_multisource, load_audioset_split, markdown_table2,
    run_multisource, run_multisource_on,
};
use av_experiments::run::RunContext;
use clap::{Parser, ValueEnum};

/// Multi-source sound localization on AudioSet-instrument-style scenes (paper Table 2).
///
/// Protocol (MSSL `utils/evaluate.py`, docs/reference_implementation.md §5.3): per test frame and per sounding class c, the
/// class map (resized to the frame) predicts `map > 0.1 · max(map)`; cIoU_c against the union of
/// class c's boxes; the frame's score is the mean over its sounding classes (Eq. 9). Frames are
/// grouped by the number of sounding classes (levels 1/2/3); success at 0.5 (0.3 for level 3);
/// AUC over thresholds 0..1. AVC has no classes and is scored class-agnostically (one map
/// against the union of all sounding boxes), as in the paper. Methods: AVC = AVC loss only,
/// maps = AVC probability at every position; Multi-task = classification + AVC, maps = visual
/// CAMs; Ours = multi-task then alignment (stage 2), maps = Eq. 8.
#[derive(Debug, Parser)]
#[command(name = "audioset_multisource", version)]
struct Args {
    /// Preset.
    #[arg(long, value_enum, default_value = "compact")]
    preset: Preset,
    /// A plan JSON (overrides the preset); a run's `multisource_plan.json` is one.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Run directory (checkpoints of the three methods, metrics.json, table.md); reruns resume.
    #[arg(long, default_value = "runs/audioset_multisource")]
    run: PathBuf,
    /// Test scenes (overrides the preset's).
    #[arg(long)]
    test_scenes: Option<u64>,
    /// A real AudioSet-instrument dataset (docs/datasets.md §2.2): `train/` + `train_audio.json`
    /// for training and `val/` + `val_audio.json` + `normav.json` for testing (the official
    /// names, recognised by `normav.json` at the root), or `train`/`test` splits as the benchmark
    /// writer names them. Default: the benchmark.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Data-parallel training devices, comma-separated (e.g. `cuda:0,cuda:1`; names as for
    /// AV_ALIGN_DEVICE): each batch is split over them and their gradients averaged
    /// (docs/scaling.md). Default: the whole batch on the selected device.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Score a trained model folder without training (e.g. a run's `ours/model`, or the shipped
    /// `assets/checkpoints/flickr_compact`): "Ours" from its Eq. 8 maps, "Multi-task" from the
    /// stage-1 model in or beside it; on `--data`'s test split (official names recognised) or
    /// on the benchmark's test scenes.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// With --checkpoint: an AVC-only model folder (a run's `avc/model`) for the AVC row.
    #[arg(long, requires = "checkpoint")]
    avc: Option<PathBuf>,
    /// With --checkpoint: score the benchmark's out-of-family test scenes (picture families, a
    /// SoundFont and photos never used in training) instead of the in-family ones.
    #[arg(long, requires = "checkpoint", conflicts_with = "data")]
    out_of_family: bool,
    /// Hide progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    Compact,
    Tiny,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let ctx = RunContext::new(&args.run, av_align::select_device()?, !args.quiet)?;
    let mut plan = match &args.plan {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p)?)?,
        None => match args.preset {
            Preset::Compact => MultiSourcePlan::compact(),
            Preset::Tiny => MultiSourcePlan::tiny(),
        },
    };
    if let Some(n) = args.test_scenes {
        plan.test_scenes = n;
    }
    plan.base = plan.base.with_devices(&args.devices);
    let layouts = |root: &PathBuf| {
        if root.join("normav.json").is_file() {
            (AudioSetLayout::official_train(root), AudioSetLayout::official_val(root))
        } else {
            (AudioSetLayout::split(root, "train"), AudioSetLayout::split(root, "test"))
        }
    };
    if let Some(checkpoint) = &args.checkpoint {
        let (trained, _) = load_run_model(checkpoint, &ctx.device).context("loading the model folder")?;
        let test = match &args.data {
            Some(root) => {
                let (test, report) = load_audioset_split(&layouts(root).1, trained.data.image_size)?;
                eprintln!("{}", report.summary());
                test
            }
            None => {
                let family = if args.out_of_family { Family::OutOfFamily } else { Family::InFamily };
                generate(&test_data_config(&trained, family), Split::Test, 0..plan.test_scenes, ctx.progress)?
            }
        };
        let report = evaluate_multisource(&ctx, checkpoint, args.avc.as_deref(), &test)?;
        return finish(&args, &report);
    }
    let report = match &args.data {
        None => run_multisource(&plan, &ctx)?,
        Some(root) => {
            let (train_layout, test_layout) = layouts(root);
            let size = plan.base.data.image_size;
            let (train, r1) = load_audioset_split(&train_layout, size)?;
            let (test, r2) = load_audioset_split(&test_layout, size)?;
            eprintln!("{}\n{}", r1.summary(), r2.summary());
            run_multisource_on(&plan, &train.dataset, &test, &ctx)?
        }
    };
    finish(&args, &report)
}

fn finish(args: &Args, report: &MultiSourceReport) -> Result<()> {
    let table = markdown_table2(report);
    std::fs::write(args.run.join("table.md"), &table)?;
    println!("{table}");
    println!(
        "{} test scenes, {:.0} s; metrics in {}",
        report.test_scenes,
        report.seconds,
        args.run.join("metrics.json").display()
    );
    Ok(())
}
