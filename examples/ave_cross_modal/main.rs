//! Cross-modal temporal localization (A2V / V2A) in the AVE protocol: the supplement's Table 1
//! with the sliding-window search of its Eq. 1, on AVE-style videos synthesized from the offline
//! benchmark (or on a real AVE copy with `--data`).
//!
//! ```text
//! cargo run --release --example ave_cross_modal                          # shipped checkpoint
//! cargo run --release --example ave_cross_modal -- --train compact       # train a model first
//! cargo run --release --example ave_cross_modal -- --train tiny --videos 20   # seconds
//! cargo run --release --example ave_cross_modal -- --data /path/to/AVE_Dataset
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use av_align::data::bench::AveSynthConfig;
use av_experiments::ave::{ScoreKind, ScoredModel, run_real, run_synthetic};
use av_experiments::models::{Preset, train_or_load};
use av_experiments::run::RunContext;
use clap::Parser;
use serde_json::json;

/// A2V / V2A cross-modal localization (MSSL supplement §2.2, Table 1).
///
/// Protocol (Tian et al. 2018, as the supplement): a video has T = 10 one-second segments and
/// one audio-visual event covering l < T consecutive segments. A2V: the event's l audio segments
/// are the query; for every start t the score S(t) = Σ_i f(V[t+i], Â_i) is summed over the
/// window and the best t is the prediction. V2A: the same with the event's frames as the query
/// and the audio segments searched. Strict accuracy: correct only when the predicted start is
/// the true start exactly. Videos whose event spans all T segments are skipped.
///
/// f is the model's correspondence between one frame and one 1-s log-mel (51 x 64, the
/// paper's front end): "Ours" = the AVC head's probability of correspondence (of the stage-1
/// model when available, and of the final model), "Ours w/ align" = Σ_c σ(a_c) σ(v_c) <g_a^c,
/// g_v^c> with the stage-2 class embeddings. Higher is better for both.
///
/// Offline videos (no download needed): single-source test scenes of the benchmark form a
/// pool; each video draws an event scene with instrument X, a length l in 1..=T-1 and a start
/// uniformly. Event segments play consecutive 1-s pieces of X's stem (cycling after 5 s) and
/// each shows a view of the event (a pool scene where X plays, drawn per segment). Each
/// background segment shows a scene in which X is not visible and plays noise (probability
/// --noise-prob) or a piece of an off-screen instrument (neither X nor visible in the event
/// frames or in that frame). Everything is deterministic in the seeds and written to
/// manifest.json. The chance row is the expected strict accuracy of a random start.
#[derive(Debug, Parser)]
#[command(name = "ave_cross_modal", version)]
struct Args {
    /// Checkpoint directory (model.bpk, model.json and plan.json; a `model_stage1/` in or beside it is
    /// used for the stage-1 row).
    #[arg(long, default_value = "assets/checkpoints/flickr_compact")]
    checkpoint: PathBuf,
    /// Stage-1 checkpoint for the stage-1 row (default: `model_stage1/` in or beside --checkpoint).
    #[arg(long)]
    stage1: Option<PathBuf>,
    /// Train a model first (into `<out>/train`, resumable) instead of loading --checkpoint.
    #[arg(long, value_enum)]
    train: Option<Preset>,
    /// Data-parallel training devices, comma-separated (e.g. `cuda:0,cuda:1`; names as for
    /// AV_ALIGN_DEVICE): each batch is split over them and their gradients averaged
    /// (docs/scaling.md). Default: the whole batch on the selected device.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// A real AVE copy (Annotations.txt, testSet.txt, frames/<id>/*.jpg at 1 fps,
    /// audio/<id>.wav); default: synthesized videos.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Most real AVE test videos to evaluate.
    #[arg(long, default_value_t = 402)]
    max_videos: usize,
    /// Synthesized videos.
    #[arg(long, default_value_t = 300)]
    videos: usize,
    /// Benchmark test scenes in the pool the videos are cut from.
    #[arg(long, default_value_t = 96)]
    pool: u64,
    /// Probability that a background segment plays noise rather than an off-screen instrument.
    #[arg(long, default_value_t = 0.5)]
    noise_prob: f64,
    /// Seed of the video synthesis.
    #[arg(long, default_value_t = 2018)]
    seed: u64,
    /// Batch size of the forward passes.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Output folder (config.json, manifest.json, metrics.json, report.md).
    #[arg(long, default_value = "runs/ave_cross_modal")]
    out: PathBuf,
    /// Hide progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<()> {
    let ctx = RunContext::new(&args.out, av_align::select_device()?, !args.quiet)?;
    let device = &ctx.device;
    let m = train_or_load(args.train, &args.checkpoint, args.stage1.as_deref(), &args.devices, &ctx)
        .context("the model (--checkpoint or --train)")?;
    let mut rows = Vec::new();
    if let Some(s1) = &m.stage1 {
        rows.push(ScoredModel {
            name: "Ours: AVC probability, stage-1 model",
            model: s1,
            kind: ScoreKind::Avc,
        });
    }
    rows.push(ScoredModel {
        name: "Ours: AVC probability, stage-2 model",
        model: &m.stage2,
        kind: ScoreKind::Avc,
    });
    rows.push(ScoredModel {
        name: "Ours w/ align: class-aware alignment, stage-2 model",
        model: &m.stage2,
        kind: ScoreKind::Align,
    });
    let config = json!({
        "checkpoint": args.checkpoint, "stage1": args.stage1, "train": args.train, "data": args.data,
        "max_videos": args.max_videos, "model_source": m.source, "plan": m.plan,
        "device": av_align::device::describe(device),
    });
    let report = match &args.data {
        Some(root) => {
            run_real(&rows, root, args.max_videos, m.plan.data.image_size, config, &m.source, &ctx)?
        }
        None => {
            let mut synth = AveSynthConfig::new(m.plan.data.bench.seed, m.plan.data.image_size, args.videos);
            synth.pool_scenes = args.pool;
            synth.noise_prob = args.noise_prob;
            synth.seed = args.seed;
            run_synthetic(&rows, &synth, args.batch, config, &m.source, &ctx)?
        }
    };
    println!("{}", report.table());
    println!(
        "{} {}; model: {}; {:.1} s; outputs in {}",
        report.evaluated_videos,
        report.data,
        m.source,
        report.seconds,
        args.out.display()
    );
    Ok(())
}
