//! Cross-modal retrieval, audio→image and image→audio (the supplement's Fig. 5 as a measured
//! experiment): recall@1/5/10 and mAP with a random-ranking baseline, and a picture of the top-5
//! frames of a few audio queries.
//!
//! ```text
//! cargo run --release --example retrieval                                # shipped checkpoint
//! cargo run --release --example retrieval -- --train compact             # train a model first
//! cargo run --release --example retrieval -- --train tiny --scenes 24    # seconds
//! cargo run --release --example retrieval -- --levels 1,2,3              # multi-source scenes
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use av_experiments::models::{Preset, train_or_load};
use av_experiments::retrieval::run_retrieval;
use av_experiments::run::RunContext;
use clap::Parser;
use serde_json::json;

/// Cross-modal retrieval on benchmark test scenes (MSSL supplement Fig. 5, with numbers).
///
/// Protocol: each test scene gives one audio clip (its 5-s mixture, the paper's log-mel) and one
/// frame. Every clip is a query over all frames (A→I), every frame a query over all clips
/// (I→A); the gallery is ranked by cosine similarity of global embeddings (ties by index).
/// Recall@k = fraction of queries with a relevant item in the top k; mAP = mean average
/// precision. Relevant: "same scene" = only the query's own pair; "same sounding set" = scenes
/// with exactly the same set of sounding instruments (silent distractors ignored), which for
/// the default single-source scenes means the same instrument.
///
/// Embeddings: "class-aware alignment" = [σ(logit_c) g_c]_c, the stage-2 per-class unit
/// embeddings weighted by the class probabilities and concatenated; "projected pooled" =
/// project_a / project_v of the global-average-pooled trunk vectors; "class probabilities" =
/// σ(logits) alone (classification baseline). Baseline: random ranking (mean of 20 draws).
#[derive(Debug, Parser)]
#[command(name = "retrieval", version)]
struct Args {
    /// Checkpoint directory (model.bpk, model.json and plan.json).
    #[arg(long, default_value = "assets/checkpoints/flickr_compact")]
    checkpoint: PathBuf,
    /// Train a model first (into `<out>/train`, resumable) instead of loading --checkpoint.
    #[arg(long, value_enum)]
    train: Option<Preset>,
    /// Data-parallel training devices, comma-separated (e.g. `cuda:0,cuda:1`; names as for
    /// AV_ALIGN_DEVICE): each batch is split over them and their gradients averaged
    /// (docs/scaling.md). Default: the whole batch on the selected device.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<String>,
    /// Benchmark test scenes (queries and gallery).
    #[arg(long, default_value_t = 300)]
    scenes: u64,
    /// Difficulty levels (numbers of sounding instruments) of the scenes.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    levels: Vec<u8>,
    /// Audio queries shown in the picture (the first scenes).
    #[arg(long, default_value_t = 4)]
    queries: usize,
    /// Batch size of the forward passes.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Output folder (config.json, manifest.json, metrics.json, top5_audio_to_image.png, report.md).
    #[arg(long, default_value = "runs/retrieval")]
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
    let models = train_or_load(args.train, &args.checkpoint, None, &args.devices, &ctx)
        .context("the model (--checkpoint or --train)")?;
    let (plan, model, source) = (models.plan, models.stage2, models.source);
    let data = plan.data.clone().with_levels(args.levels.clone());
    let config = json!({
        "checkpoint": args.checkpoint, "train": args.train, "levels": args.levels, "queries": args.queries,
        "model_source": source, "plan": plan, "device": av_align::device::describe(device),
    });
    let report = run_retrieval(&model, &data, args.scenes, args.queries, args.batch, config, &source, &ctx)?;
    println!("{}", report.table());
    println!(
        "{} scenes, model: {source}; {:.1} s; picture {}, outputs in {}",
        report.scenes,
        report.seconds,
        report.picture.display(),
        args.out.display()
    );
    Ok(())
}
