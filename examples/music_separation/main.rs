//! Visually guided sound separation on MUSIC-style solos and duets (paper §4.4, Table 3).
//!
//! The coarse-to-fine model is a frozen guide; Sound-of-Pixels' U-Net + synthesizer learns to
//! separate two-instrument mixtures steered by one of the guidance variants of Table 3
//! (Grad-CAM mask, audio vector, visual vector pooled with the localization map, and SoP's
//! whole-frame vector as baseline), trained on solo pairs ("single-source") or solo pairs +
//! duets ("multi-source"), then scored with BSS-Eval (SDR / SIR / SAR) beside the paper's numbers.
//!
//! ```text
//! cargo run --release --example music_separation                # demo of the shipped model (seconds)
//! cargo run --release --example music_separation -- stream       # streamed training, oracle class guide
//! cargo run --release --example music_separation -- evaluate     # a model folder on solo pairs and duets
//! cargo run --release --example music_separation -- --preset compact   # Table 3 with the guide (minutes)
//! cargo run --example music_separation -- --preset tiny --out runs/sep_tiny
//! cargo run --example music_separation -- --guide runs/flickr_train/model
//! ```
//! Backend: `--features wgpu` / `--features cuda` and `AV_ALIGN_DEVICE=wgpu|cuda|flex`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use av_align::separation::GuidanceKind;
use av_experiments::run::RunContext;
use av_experiments::separation::{Guide, PAPER_TABLE3, SeparationPlan, TrainingSet, run_separation};
use clap::{Parser, ValueEnum};

/// Separate the instruments of two-source mixtures with the coarse-to-fine model as guide, and
/// print the paper's Table 3 with our numbers beside the paper's.
///
/// Data: the offline benchmark's MUSIC-style scenes (BenchConfig::separation: 11 instruments,
/// 11 025 Hz, 65 535-sample clips), solos and duets; only instruments the guide knows (7 of 11,
/// mapped by instrument to its AudioSet-15 vocabulary) are kept. Training: pairs of solos of
/// different classes (single-source), plus duets as they are (multi-source). Test: pairs of test
/// solos of different classes.
///
/// Guidance of a source of class c (its video's tag), from the guide run on the source's frame
/// and the mixture (resampled to 22 050 Hz): Grad-CAM = the audio class map used directly as the
/// mask; Audio = Eq. 5 pooling of the audio features with it; Visual = Eq. 5 pooling of the
/// visual features with the localization map K^c; whole frame = max over the frame's features
/// (the Sound-of-Pixels baseline). Vectors go through a trained Linear + sigmoid to the U-Net's
/// K channels; the U-Net and that projection are trained jointly (Adam), the guide is frozen.
///
/// Evaluation (Sound-of-Pixels / Co-Separation): binary masks unwarped and thresholded at 0.5,
/// mixture phase, BSS-Eval v3 SDR / SIR / SAR per source against the 1/N-scaled references,
/// mean over sources then over mixtures; the mixture itself as the baseline row.
///
/// Outputs in --out: config.json, manifest.json (clips, classes, mapping), metrics.json (every
/// row and every mixture), table.md, examples/ (WAVs and mask pictures), train/ (checkpoints;
/// an interrupted run resumes when started again with the same arguments).
#[derive(Debug, Parser)]
#[command(name = "music_separation", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Size of the run.
    #[arg(long, value_enum, default_value = "compact")]
    preset: Preset,
    /// Output folder of this run.
    #[arg(long, default_value = "runs/music_separation")]
    out: PathBuf,
    /// Guide checkpoint (model.bpk, model.json, plan.json). When it does not exist, a guide is
    /// trained first with --guide-preset into <out>/guide (resumable).
    #[arg(long, default_value = "assets/checkpoints/flickr_compact")]
    guide: PathBuf,
    /// Plan of the guide trained when --guide does not exist (default: tiny for --preset tiny,
    /// compact otherwise).
    #[arg(long, value_enum)]
    guide_preset: Option<av_experiments::models::Preset>,
    /// Override the number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the number of training solo pairs.
    #[arg(long)]
    train_pairs: Option<usize>,
    /// Override the number of test pairs.
    #[arg(long)]
    test_pairs: Option<usize>,
    /// Override the Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Train only these variants (Grad-CAM, untrained, always runs).
    #[arg(long, value_enum, value_delimiter = ',')]
    variants: Vec<Variant>,
    /// Train only on this training set.
    #[arg(long, value_enum)]
    training: Option<Training>,
    /// Train and test on a real MUSIC dataset in the documented layout (docs/datasets.md) instead
    /// of the benchmark (solos only: real duets have no per-instrument stems).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Separate one source of your own image + mixture instead of running the table: the image.
    /// The guide turns --class or --point into a class; the separation model extracts it
    /// (--grad-cam: the guide's audio class map as the mask instead).
    #[arg(long, requires = "audio")]
    image: Option<PathBuf>,
    /// ... and the mixture (any format decodable by av-audio).
    #[arg(long, requires = "image")]
    audio: Option<PathBuf>,
    /// The source to separate, by class name of the guide (e.g. violin).
    #[arg(long, conflicts_with = "point")]
    class: Option<String>,
    /// The source to separate, by a point "x,y" on the object in the image.
    #[arg(long)]
    point: Option<String>,
    /// With --image/--audio: the trained separation model (a folder written by `stream`) that
    /// extracts the chosen class: guided (`stream --guide`; the default, the shipped model steered
    /// by its guide's audio vector of the class, the best guided variant on validation; its own
    /// guide in `guide/` then replaces --guide and picks the class of a --point) or
    /// class-conditioned (e.g. assets/checkpoints/separation_oracle).
    #[arg(long, default_value = "assets/checkpoints/separation_audio_guided")]
    separation_model: PathBuf,
    /// With --image/--audio: use the guide's audio class map as the mask (untrained, Table 3's
    /// Grad-CAM row) instead of the separation model.
    #[arg(long)]
    grad_cam: bool,
    /// Hide progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Streamed training, steered by the oracle class (the control run) or, with `--guide`, by a
    /// frozen localization model's vector (Table 3's rows): every
    /// step mixes fresh pairs from a pool of broad-benchmark solos (in-family SoundFonts,
    /// augmentation); scored on validation during training and at the end on the in-family test
    /// split and an unseen-timbre split (a held-out SoundFont). Resumes when started again.
    /// `train` is the same command.
    #[command(visible_alias = "train")]
    Stream(StreamArgs),
    /// The demo (also what runs with no arguments at all): the shipped class-conditioned model
    /// on mixtures of test solos it never saw, in-family and with an unseen SoundFont, beside
    /// the mixture and the ideal masks; WAVs (estimate, residual, reference) and mask pictures.
    Demo(DemoArgs),
    /// Scores a model folder written by `stream` (or a shipped one) on the full test protocol
    /// without retraining: pairs of test solos and two-instrument test scenes (both sources in
    /// one frame), in-family and unseen timbre, beside the mixture and the ideal masks.
    Evaluate(EvaluateArgs),
}

#[derive(Debug, clap::Args)]
struct EvaluateArgs {
    /// A model folder written by `stream` (plan.json, model.bpk, model.json; a guided one also
    /// holds its guide).
    #[arg(long, default_value = "assets/checkpoints/separation_audio_guided")]
    model: PathBuf,
    /// Mixtures per split (default: the plan's, i.e. the very test mixtures its run scored).
    #[arg(long)]
    mixtures: Option<usize>,
    /// Output folder (metrics.json).
    #[arg(long, default_value = "runs/music_separation_evaluate")]
    out: PathBuf,
}

fn run_evaluate_command(args: &EvaluateArgs) -> Result<()> {
    let device = av_align::select_device()?;
    let ctx = RunContext::new(&args.out, device, true)?;
    let outcome = av_experiments::separation::evaluate::run_evaluate(&args.model, args.mixtures, &ctx)
        .with_context(|| format!("evaluating the model in {}", args.model.display()))?;
    println!(
        "Separation steered by {} (model {}): SDR / SIR / SAR in dB, mean over mixtures; \
         NSDR = SDR gain over the mixture, ± its 95 % interval; a silent estimate is counted and \
         scored as the mixture's SDR minus 10 dB",
        outcome.guide,
        args.model.display()
    );
    print_splits(&outcome.splits);
    println!("metrics in {} ({:.1} s)", display(&args.out.join("metrics.json")), outcome.seconds);
    Ok(())
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// A model folder written by `stream` (plan.json, model.bpk, model.json).
    #[arg(long, default_value = "assets/checkpoints/separation_oracle")]
    model: PathBuf,
    /// Mixtures per split.
    #[arg(long, default_value_t = 16)]
    mixtures: usize,
    /// In-family mixtures written as WAVs and pictures.
    #[arg(long, default_value_t = 2)]
    examples: usize,
    /// Output folder.
    #[arg(long, default_value = "runs/music_separation_demo")]
    out: PathBuf,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self {
            model: "assets/checkpoints/separation_oracle".into(),
            mixtures: 16,
            examples: 2,
            out: "runs/music_separation_demo".into(),
        }
    }
}

fn run_demo_command(args: &DemoArgs) -> Result<()> {
    let device = av_align::select_device()?;
    let ctx = RunContext::new(&args.out, device, false)?;
    let outcome = av_experiments::separation::demo::run_demo(&args.model, args.mixtures, args.examples, &ctx)
        .with_context(|| format!("separation demo with the model in {}", args.model.display()))?;
    println!(
        "Separation steered by {} (model {}): SDR / SIR / SAR in dB, mean over mixtures of two test solos; \
         NSDR = SDR gain over the mixture, ± its 95 % interval",
        outcome.guide,
        args.model.display()
    );
    print_splits(&outcome.splits);
    println!(
        "{} files in {} ({:.1} s)",
        outcome.files.len(),
        display(&args.out.join("examples")),
        outcome.seconds
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
struct StreamArgs {
    /// Output folder of this run.
    #[arg(long, default_value = "runs/separation_stream")]
    out: PathBuf,
    /// Seconds-long test run instead of the CPU preset.
    #[arg(long)]
    tiny: bool,
    /// Override the number of steps.
    #[arg(long)]
    steps: Option<usize>,
    /// Override the batch size (mixtures per step).
    #[arg(long)]
    batch: Option<usize>,
    /// Override the Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Override the U-Net base width.
    #[arg(long)]
    ngf: Option<usize>,
    /// Override the U-Net depth (5..=8 on the 256 x 256 grid).
    #[arg(long)]
    depth: Option<usize>,
    /// Mask kind: ratio (L1 loss) or binary (weighted BCE).
    #[arg(long, value_enum)]
    mask: Option<MaskArg>,
    /// Score the validation mixtures every this many steps.
    #[arg(long)]
    eval_every: Option<usize>,
    /// Guide the network by a frozen coarse-to-fine model's vector instead of the oracle
    /// class (needs --guide-checkpoint, a model trained on the MUSIC-11 vocabulary).
    #[arg(long, value_enum, requires = "guide_checkpoint")]
    guide: Option<Variant>,
    /// The guide's model folder (e.g. `runs/guide11/model` of `flickr_localize train`).
    #[arg(long)]
    guide_checkpoint: Option<PathBuf>,
    /// Seed of the pair draws (a training seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Start the U-Net from a trained class-conditioned model folder of the same network (e.g.
    /// assets/checkpoints/separation_oracle) instead of from scratch.
    #[arg(long)]
    init_net: Option<PathBuf>,
    /// Hide progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MaskArg {
    /// Ratio masks, L1 loss, used as is.
    Ratio,
    /// Binary masks, weighted BCE, thresholded at 0.5 (and scored soft too).
    Binary,
}

fn run_stream_command(args: &StreamArgs) -> Result<()> {
    use av_experiments::separation::stream::{StreamPlan, run_stream};
    let mut plan = if args.tiny { StreamPlan::tiny() } else { StreamPlan::cpu() };
    if let Some(s) = args.steps {
        plan.steps = s;
    }
    if let Some(b) = args.batch {
        plan.batch_size = b;
    }
    if let Some(lr) = args.lr {
        plan.lr = lr;
    }
    if let Some(n) = args.ngf {
        plan.net.ngf = n;
    }
    if let Some(d) = args.depth {
        plan.net.num_downs = d;
    }
    if let Some(e) = args.eval_every {
        plan.eval_every = e;
    }
    if let Some(seed) = args.seed {
        plan.seed = seed;
    }
    if let Some(dir) = &args.init_net {
        plan.init_net = Some(dir.display().to_string());
    }
    if let (Some(variant), Some(checkpoint)) = (args.guide, &args.guide_checkpoint) {
        use av_align::separation::GuidanceKind;
        let kind = match variant {
            Variant::WholeFrame => GuidanceKind::WholeFrame,
            Variant::Audio => GuidanceKind::Audio,
            Variant::Visual => GuidanceKind::Visual,
        };
        plan.guide = av_experiments::separation::stream_guide::StreamGuide::Model {
            kind,
            checkpoint: checkpoint.display().to_string(),
            projection_seed: 5,
        };
    }
    if let Some(m) = args.mask {
        plan.net.mask = match m {
            MaskArg::Ratio => av_align::separation::MaskKind::Ratio,
            MaskArg::Binary => av_align::separation::MaskKind::Binary,
        };
    }
    let device = av_align::select_device()?;
    let ctx = RunContext::new(&args.out, device, !args.quiet)?;
    let outcome = run_stream(&plan, &ctx)?;
    println!(
        "{}-guided separation, {} steps of {} mixtures ({:.1} mixtures/s, data included)",
        plan.guide.name(),
        plan.steps,
        plan.batch_size,
        outcome.samples_per_second
    );
    print_splits(&outcome.test);
    println!("files in {}", display(&args.out));
    Ok(())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Preset {
    /// Compact U-Net (ngf 8, K 8), 160 solo pairs + 80 duets, 3 epochs, Adam 3e-3, 48 test pairs: minutes
    /// per variant on 2 CPU cores.
    Compact,
    /// Seconds: a handful of mixtures, for tests.
    Tiny,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Variant {
    /// Sound-of-Pixels' whole-frame visual vector (baseline).
    WholeFrame,
    /// Eq. 5 pooled audio features.
    Audio,
    /// Eq. 5 visual features pooled with the localization map.
    Visual,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Training {
    /// Solo pairs only.
    Single,
    /// Solo pairs and duets.
    Multi,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn guide(args: &Args, device: &burn::tensor::Device) -> Result<Guide> {
    if args.guide.join("model.bpk").is_file() {
        return Guide::load(&args.guide, device).context("loading the guide");
    }
    let preset = args.guide_preset.unwrap_or(match args.preset {
        Preset::Tiny => av_experiments::models::Preset::Tiny,
        Preset::Compact => av_experiments::models::Preset::Compact,
    });
    let plan = preset.plan();
    let run_dir = args.out.join("guide");
    eprintln!(
        "no guide checkpoint in {}: training one ({preset:?} plan) in {}",
        args.guide.display(),
        run_dir.display()
    );
    Ok(Guide::train(&plan, &run_dir, device, !args.quiet)?)
}

fn separate_own(
    args: &Args,
    image: &std::path::Path,
    audio: &std::path::Path,
    device: &burn::tensor::Device,
) -> Result<()> {
    use av_align::inference::{Separator, SourceChoice};
    let choice = match (&args.class, &args.point) {
        (Some(c), _) => SourceChoice::Class(c.clone()),
        (None, Some(p)) => {
            let (x, y) = p.split_once(',').context("--point takes x,y")?;
            SourceChoice::Point(
                x.trim().parse().context("--point x")?,
                y.trim().parse().context("--point y")?,
            )
        }
        (None, None) => anyhow::bail!("give --class NAME or --point x,y to choose the source"),
    };
    let load_guide = || -> Result<Separator> {
        if !args.guide.join("model.bpk").is_file() {
            anyhow::bail!(
                "no guide model in {} (a model folder as written by `flickr_localize train`)",
                args.guide.display()
            );
        }
        Ok(Separator::new(
            av_align::Localizer::from_dir_on(&args.guide, device).context("loading the guide")?,
        )?)
    };
    let separator = if args.grad_cam {
        load_guide()?
    } else {
        let model = av_align::inference::SeparationModel::from_dir_on(&args.separation_model, device)
            .with_context(|| format!("loading the separation model {}", args.separation_model.display()))?;
        match model.guidance_kind() {
            // A guided model carries its own guide (which also picks the class of a point).
            Some(_) => Separator::guided(model)?,
            None => load_guide()?.with_model(model),
        }
    };
    let out = separator.separate_files(image, audio, &[choice])?;
    let files = out.write_wavs(&args.out)?;
    for source in &out.sources {
        println!(
            "separated '{}' ({:?}; guide's audio probability {:.2})",
            source.name, source.method, source.audio_prob
        );
    }
    for file in files {
        println!("  -> {}", file.display());
    }
    Ok(())
}

fn run(args: Args) -> Result<()> {
    match &args.command {
        Some(Command::Stream(stream)) => return run_stream_command(stream),
        Some(Command::Demo(demo)) => return run_demo_command(demo),
        Some(Command::Evaluate(evaluate)) => return run_evaluate_command(evaluate),
        None if std::env::args_os().len() == 1 => return run_demo_command(&DemoArgs::default()),
        None => {}
    }
    let device = av_align::select_device()?;
    if let (Some(image), Some(audio)) = (&args.image, &args.audio) {
        return separate_own(&args, image, audio, &device);
    }
    let mut plan = match args.preset {
        Preset::Compact => SeparationPlan::compact(),
        Preset::Tiny => SeparationPlan::tiny(),
    };
    if let Some(e) = args.epochs {
        plan.epochs = e;
    }
    if let Some(p) = args.train_pairs {
        plan.train_pairs = p;
    }
    if let Some(p) = args.test_pairs {
        plan.test_pairs = p;
    }
    if let Some(lr) = args.lr {
        plan.lr = lr;
    }
    if let Some(root) = &args.data {
        plan.data_root = Some(root.clone());
    }
    if !args.variants.is_empty() {
        plan.variants = args
            .variants
            .iter()
            .map(|v| match v {
                Variant::WholeFrame => GuidanceKind::WholeFrame,
                Variant::Audio => GuidanceKind::Audio,
                Variant::Visual => GuidanceKind::Visual,
            })
            .collect();
    }
    if let Some(t) = args.training {
        plan.training_sets = vec![match t {
            Training::Single => TrainingSet::SingleSource,
            Training::Multi => TrainingSet::MultiSource,
        }];
    }
    let ctx = RunContext::new(&args.out, device, !args.quiet)?;
    let guide = guide(&args, &ctx.device)?;
    eprintln!("device: {}; guide: {}", av_align::device::describe(&ctx.device), guide.origin);
    let outcome = run_separation(&plan, &guide, &ctx)?;
    println!("{}", outcome.markdown);
    println!("Paper's Table 3 (MUSIC, SDR / SIR / SAR; single-source | multi-source):");
    for (name, s, m) in PAPER_TABLE3 {
        println!(
            "  {name:<16} {:>6.2} {:>6.2} {:>6.2} | {:>6.2} {:>6.2} {:>6.2}",
            s[0], s[1], s[2], m[0], m[1], m[2]
        );
    }
    let trained: f64 = outcome.rows.iter().map(|r| r.train_seconds).sum();
    println!(
        "\n{} test mixtures; training {:.0} s in total; this process {:.0} s. Files in {}",
        outcome.rows.first().map_or(0, |r| r.evaluated),
        trained,
        outcome.seconds,
        display(&args.out)
    );
    Ok(())
}

/// Prints each split's rows (mixture, ideal masks, the model, ...), one line each.
fn print_splits(splits: &[(String, Vec<av_experiments::separation::stream::SplitScores>)]) {
    for (split, rows) in splits {
        println!("{split}:");
        for r in rows {
            println!("  {}", r.line());
        }
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
