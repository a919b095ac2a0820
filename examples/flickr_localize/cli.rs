//! Command-line arguments.

use std::path::PathBuf;

use av_experiments::models::Preset;
use clap::{Parser, Subcommand, ValueEnum};

/// Localize sound sources (which object makes which sound) in the SoundNet-Flickr protocol.
///
/// Protocol: a class-agnostic map per image (Eq. 8 maps mixed over the audio classes),
/// max-normalised; predicted region = map > threshold (0.5 as MSSL `new/main.py`); cIoU against
/// the consensus of the annotators' boxes (Senocak et al.); success = cIoU >= 0.5; AUC over
/// cIoU thresholds 0, 0.05, ..., 1. Baselines: the whole image and a centred box.
#[derive(Debug, Parser)]
#[command(name = "flickr_localize", version)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Output folder of this run (config, data manifest, metrics JSON, pictures, report).
    #[arg(long, global = true, default_value = "runs/flickr_localize")]
    pub out: PathBuf,
    /// Hide progress bars.
    #[arg(long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Maps {
    /// Eq. 8 (ours, stage 2).
    Alignment,
    /// Visual CAMs mixed by the audio classes (multi-task baseline).
    VisualCam,
    /// AVC correspondence at every position (class-agnostic baseline).
    Correspondence,
}

/// A class list of the benchmark.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VocabularyArg {
    /// AudioSet-instrument's 15 classes (the paper's localization vocabulary).
    Audioset15,
    /// MUSIC's 11 instruments (the separation vocabulary).
    Music11,
}

/// The stage-2 per-position alignment term.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PositionTerm {
    /// None: Eq. 7 alone (the paper).
    Off,
    /// Max over positions, contrastive across clips (EZ-VSL).
    Max,
    /// LVS soft tri-map positive with hard background negatives.
    Lvs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Localize built-in demo scenes, in- and out-of-family, with a checkpoint (the default).
    Demo {
        /// Checkpoint directory (model.bpk + model.json).
        #[arg(long, default_value = "assets/checkpoints/flickr_broad")]
        checkpoint: PathBuf,
        /// Number of demo scenes (benchmark test split).
        #[arg(long, default_value_t = 64)]
        scenes: u64,
        /// Overlays to write.
        #[arg(long, default_value_t = 8)]
        pictures: usize,
        /// Prediction threshold on the max-normalised map.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
    },
    /// Train stage 1 then stage 2 on the offline benchmark (resumes an interrupted run).
    Train {
        /// Preset plan.
        #[arg(long, value_enum, default_value = "compact")]
        preset: Preset,
        /// A plan JSON (overrides the preset); `plan.json` of a run is one.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Run directory (checkpoints, plan.json, final model in `model/`).
        #[arg(long, default_value = "runs/flickr_train")]
        run: PathBuf,
        /// Copy the final model to this checkpoint directory (e.g. to ship it).
        #[arg(long)]
        ship: Option<PathBuf>,
        /// Train on a real SoundNet-Flickr training set in the documented layout (frames/, audio/,
        /// pseudo_labels.json or labels_a.npy + labels_v.npy; docs/datasets.md) instead of the
        /// benchmark; the plan's model, frame size and stages are used, the classes come from the
        /// labels.
        #[arg(long)]
        data: Option<PathBuf>,
        /// With `--data`: decode the pairs batch by batch while training (for training sets larger
        /// than memory) instead of all of them up front; on an accelerator a background thread
        /// decodes two batches ahead, on the CPU each batch is decoded just before its step
        /// (docs/performance.md, "The data pipeline alone").
        #[arg(long, requires = "data")]
        stream: bool,
        /// Data-parallel training devices, comma-separated (e.g. `cuda:0,cuda:1`; names as for
        /// AV_ALIGN_DEVICE): each batch is split over them and their gradients averaged
        /// (docs/scaling.md). Default: the whole batch on the selected device.
        #[arg(long, value_delimiter = ',')]
        devices: Vec<String>,
        /// Training seed: model initialisation and batch order of both stages (the data stay
        /// the same). Tables report the mean over seeds 0, 1 and 2.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the stage-2 per-position alignment term of the plan (`off` is the paper's
        /// Eq. 7 alone).
        #[arg(long, value_enum)]
        position: Option<PositionTerm>,
        /// Override the class list: `music11` trains a guide for `music_separation stream
        /// --guide` (it must know all 11 MUSIC instruments).
        #[arg(long, value_enum)]
        vocabulary: Option<VocabularyArg>,
        /// Fraction of the training scenes whose audio is replaced by a clip with no instrument
        /// of the vocabulary (noise, hum, an outside instrument) and no audio label: negatives
        /// for "silence is an answer" (then `calibrate-silence` chooses the threshold).
        #[arg(long)]
        no_class_clips: Option<f64>,
    },
    /// Score a model folder in- and out-of-family (picture families, SoundFont and photos never
    /// used in training) beside its own CAMs and the whole-image, centre and random baselines.
    Generalization {
        /// Model folder.
        #[arg(long, default_value = "assets/checkpoints/flickr_broad")]
        checkpoint: PathBuf,
        /// Scenes per test set.
        #[arg(long, default_value_t = 500)]
        scenes: u64,
        /// `val` to choose settings, `test` to report.
        #[arg(long, default_value = "test")]
        split: String,
    },
    /// Evaluate a checkpoint on benchmark test scenes or on a real SoundNet-Flickr test set.
    Eval {
        /// Checkpoint directory.
        #[arg(long, default_value = "assets/checkpoints/flickr_broad")]
        checkpoint: PathBuf,
        /// A SoundNet-Flickr test set in the documented layout (docs/datasets.md); default: the
        /// benchmark's test split.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Benchmark test scenes.
        #[arg(long, default_value_t = 500)]
        scenes: u64,
        /// Which maps.
        #[arg(long, value_enum, default_value = "alignment")]
        maps: Maps,
        /// Prediction threshold on the max-normalised map.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
    },
    /// Choose, on validation clips, the confidence below which `localize` reports that no
    /// sounding object was found (benchmark scenes against silence, noise and hum), measure it
    /// on test clips, and with --write store it in the model folder's inputs.json.
    CalibrateSilence {
        /// Model folder.
        #[arg(long, default_value = "assets/checkpoints/flickr_broad")]
        checkpoint: PathBuf,
        /// Sounding scenes per split (and as many other clips).
        #[arg(long, default_value_t = 96)]
        scenes: u64,
        /// Store the chosen rule in <checkpoint>/inputs.json.
        #[arg(long)]
        write: bool,
    },
    /// Localize the sounds of your own image + audio clip.
    Localize {
        /// Checkpoint directory.
        #[arg(long, default_value = "assets/checkpoints/flickr_broad")]
        checkpoint: PathBuf,
        /// The frame (any size; resized to the checkpoint's frame size).
        #[arg(long)]
        image: PathBuf,
        /// The audio (WAV, FLAC, MP3, OGG, M4A; 5 s are used, resampled to 22 050 Hz).
        #[arg(long)]
        audio: PathBuf,
    },
}
