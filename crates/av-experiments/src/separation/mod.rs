//! The sound-separation experiment (paper §4.4, Table 3; docs/reference_implementation.md §8) as library calls: the
//! coarse-to-fine model as a frozen *guide* of Sound-of-Pixels' mix-and-separate
//! (`av_separation`), the guidance variants of Table 3, training on solos ("single-source") or
//! solos + duets ("multi-source"), and the evaluation with the Sound-of-Pixels / Co-Separation
//! protocol. The example `music_separation` is a thin command line over [`run_separation`].
//!
//! # Guidance variants ([`GuidanceKind`])
//! For a mixture and one of its sources `n` of class `c` (the clip-level tag of the video the
//! source comes from, as MUSIC's videos are labelled by instrument), the guide sees the frame of
//! that video and the *mixture* audio (resampled for it), and gives:
//! * **Grad-CAM** ("Ours Grad-CAM"): the class-`c` map of the audio branch, `W_a^c` (Eq. 4 on
//!   `F_a`, `relu(CAM)` = Grad-CAM for the global-average-pool heads), max-normalised and used
//!   directly as the mask (no U-Net, nothing trained): its rows are resampled from the mel axis
//!   to the warped log-frequency rows and its columns from log-mel frames to STFT frames by
//!   their centre frequencies and times (linear interpolation, clamped at the edges); inference
//!   then binarises it at 0.5 like any predicted mask.
//! * **Audio** ("Ours Audio"): `f_a^c` = Eq. 5 pooling of `F_a` with `W_a^c`, through a
//!   trained [`av_separation::GuidanceProjection`] (`σ(Linear(D, K))`) as the synthesizer's K-vector.
//! * **Visual** ("Ours Visual"): `f_v^c` = Eq. 5 pooling of `F_v` with the localization map
//!   `K^c` (Eq. 8 for class `c`) as the weights (paper §3.3), through a trained projection.
//! * **Whole frame** (the Sound-of-Pixels baseline): SoP's visual vector is a max over all
//!   positions of the frame's feature map; here the max over positions of the guide's own
//!   `F_v` (the same frozen trunk as "Visual", so the two rows differ only by the localization
//!   weighting), through a trained projection. SoP trains its dilated ResNet-18 jointly; with a
//!   frozen trunk this row is a baseline of the guidance, not a reproduction of SoP's numbers.
//!
//! When a weight map is all zeros, Eq. 5 would give the zero vector. This happens when the
//! guide's audio branch sees no evidence of class `c` in the mixture (`relu(CAM_a^c) = 0`
//! everywhere): then `W_a^c`, `f_a^c`, the class embedding `g_a^c` and with it `K^c` are all
//! zero. We then pool the visual map with the visual class map `W_v^c` (the coarse stage's map
//! of class `c` in the frame) instead of `K^c`, and with uniform weights (the mean over
//! positions) when that is empty too or for the audio vector; the Grad-CAM mask stays all zeros
//! (a silent estimate, which the protocol skips). The manifest counts these cases
//! (`fallbacks_visual`, `fallbacks_audio`).
//!
//! # Vocabularies, rates and frames
//! The separation benchmark is MUSIC-style (`BenchConfig::separation`: 11 instruments, 11 025 Hz,
//! 65 535 samples) while the guide is trained on the AudioSet-15 vocabulary at 22 050 Hz. Classes
//! are mapped by instrument (`av_data::classes::Instrument`): 7 of MUSIC's 11 (accordion,
//! acoustic guitar, cello, flute, saxophone, trumpet, violin) exist in AudioSet-15; clarinet,
//! erhu, tuba and xylophone have no guide class, so solos of those classes and duets with one of
//! them are left out of training and test (the manifest lists what was kept). The guide's audio
//! is the 11 025 Hz mixture resampled to 22 050 Hz (`av_audio::resample`; nothing above
//! 5.5 kHz), whole (5.94 s, 298 log-mel frames instead of the 251 of 5-s training clips: the
//! trunk pools globally). Frames are the benchmark scenes' own images (a solo's frame for each
//! source of a solo pair, the duet's frame for both sources of a duet), resized to the guide's
//! frame size (bilinear).
//!
//! # Protocol
//! Training mixtures: `train_pairs` pairs of solos of different classes (train split) for
//! "single-source"; the same plus up to `train_duets` duets as they are for "multi-source"
//! (paper Table 3, Co-Separation's protocol). Test: `test_pairs` pairs of solos of different
//! classes of the test split. SoP's data path, loss and evaluation (`av_separation`): binary
//! masks, weighted BCE, BSS-Eval v3 SDR/SIR/SAR per source, mean over sources then over
//! mixtures, the mixture baseline. The U-Net and the projection are trained jointly with Adam
//! (SoP: SGD lr 1e-3 for 100 epochs on 4 GPUs, out of reach on a CPU); the guide stays frozen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use av_metrics::Align;
use av_separation::{GuidanceKind, Mixer, SeparationNetConfig, oracle_estimates};

use crate::run::read_json;
use serde::{Deserialize, Serialize};

use crate::run::{RunContext, write_json};
use av_align::{Error, Result};

mod data;
pub mod demo;
pub mod evaluate;
mod guide;
mod pictures;
mod score;
pub mod stream;
pub mod stream_guide;
mod train;

pub use data::{ClipCounts, DataManifest, FeatureStats, SeparationData, TestItem, TrainItem, prepare_data};
pub use guide::Guide;
pub use score::{Table3Row, VariantOutput, markdown_table3, score, separate_test, table3};
pub use train::{RunState, TrainedVariant, train_variant};

use pictures::write_examples;

/// The paper's Table 3 (MUSIC; SDR, SIR, SAR in dB): (method, single-source, multi-source),
/// copied from the paper (docs/reference_implementation.md §12).
pub const PAPER_TABLE3: [(&str, [f64; 3], [f64; 3]); 8] = [
    ("NMF-MFCC", [0.92, 5.68, 5.84], [0.92, 5.68, 5.84]),
    ("AV-Mix-Sep", [3.16, 6.74, 8.89], [3.23, 7.01, 9.14]),
    ("Sound-of-Pixels", [7.30, 11.90, 11.90], [6.05, 9.81, 12.40]),
    ("Co-Separation", [7.38, 13.70, 10.80], [7.64, 13.80, 11.30]),
    ("CAVL", [6.59, 10.10, 12.56], [6.78, 10.62, 12.19]),
    ("Ours Grad-CAM", [-2.78, -0.01, 7.79], [-2.49, 0.08, 8.34]),
    ("Ours Audio", [-1.16, 0.33, 11.11], [-0.97, 0.43, 11.02]),
    ("Ours Visual", [6.53, 12.15, 11.31], [6.57, 11.90, 10.78]),
];

/// Which training mixtures (the two column groups of Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrainingSet {
    /// Pairs of solos only.
    SingleSource,
    /// Pairs of solos and duets.
    MultiSource,
}

impl TrainingSet {
    /// Both, in the order of the table.
    pub const ALL: [TrainingSet; 2] = [TrainingSet::SingleSource, TrainingSet::MultiSource];

    /// A short name for files and folders.
    pub fn slug(self) -> &'static str {
        match self {
            TrainingSet::SingleSource => "single",
            TrainingSet::MultiSource => "multi",
        }
    }
}

/// Everything that defines a run of the experiment (stored as `config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeparationPlan {
    /// A real MUSIC dataset in the documented layout (docs/datasets.md §2.4) instead of the
    /// benchmark: its solos of the train / test splits (first 65 535 samples at 11 025 Hz, the
    /// middle frame) make the pairs. Real duets have no per-instrument stems, so multi-source
    /// training adds none and equals single-source training there.
    #[serde(default)]
    pub data_root: Option<PathBuf>,
    /// Seed of the separation benchmark (`BenchConfig::separation(seed)`).
    pub bench_seed: u64,
    /// Train-split scenes generated (`0..train_scenes`; about half solos, half duets).
    pub train_scenes: u64,
    /// Test-split scenes generated (their solos make the test pairs).
    pub test_scenes: u64,
    /// Training pairs of solos of different classes.
    pub train_pairs: usize,
    /// Most duets added for multi-source training (all the kept ones when fewer).
    pub train_duets: usize,
    /// Test pairs of solos of different classes.
    pub test_pairs: usize,
    /// Seed of the pair sampler (test pairs use `pair_seed + 1`).
    pub pair_seed: u64,
    /// The separation network (U-Net-7 + synthesizer).
    pub net: SeparationNetConfig,
    /// Seed of the guidance projection's initialisation.
    pub projection_seed: u64,
    /// Epochs over the training mixtures.
    pub epochs: usize,
    /// Mixtures per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seed of the batch order.
    pub order_seed: u64,
    /// Write a checkpoint every this many steps (and always at the end of a run).
    pub checkpoint_every: usize,
    /// Test pairs written as WAVs and pictures.
    pub examples: usize,
    /// The trained variants to run (Grad-CAM, which needs no training, always runs).
    pub variants: Vec<GuidanceKind>,
    /// The training sets to run.
    pub training_sets: Vec<TrainingSet>,
}

impl SeparationPlan {
    /// The default CPU run (a few minutes per variant on 2 cores): compact U-Net (ngf 8, K 8),
    /// 160 training pairs (+ up to 80 duets), 3 epochs of batch 4, Adam 3e-3, 48 test pairs.
    pub fn compact() -> Self {
        Self {
            data_root: None,
            bench_seed: 2020,
            train_scenes: 480,
            test_scenes: 160,
            train_pairs: 160,
            train_duets: 80,
            test_pairs: 48,
            pair_seed: 11,
            net: SeparationNetConfig::compact().with_seed(3),
            projection_seed: 5,
            epochs: 3,
            batch_size: 4,
            lr: 3e-3,
            order_seed: 17,
            checkpoint_every: 20,
            examples: 4,
            variants: vec![GuidanceKind::WholeFrame, GuidanceKind::Audio, GuidanceKind::Visual],
            training_sets: TrainingSet::ALL.to_vec(),
        }
    }

    /// Seconds, for tests: a 4-channel U-Net, a handful of mixtures, one epoch.
    pub fn tiny() -> Self {
        Self {
            train_scenes: 16,
            test_scenes: 16,
            train_pairs: 4,
            train_duets: 2,
            test_pairs: 3,
            net: SeparationNetConfig::compact().with_ngf(4).with_channels(4).with_seed(3),
            epochs: 1,
            batch_size: 2,
            checkpoint_every: 1,
            examples: 1,
            ..Self::compact()
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn validate(&self) -> Result<()> {
        self.net.validate()?;
        if self.train_scenes == 0
            || self.test_scenes == 0
            || self.train_pairs == 0
            || self.test_pairs == 0
            || self.epochs == 0
            || self.batch_size == 0
            || !(self.lr > 0.0 && self.lr.is_finite())
        {
            return Err(Error::Config(format!(
                "scenes, pairs, epochs, batch size and lr must be > 0: {self:?}"
            )));
        }
        Ok(())
    }
}

/// The measured Table 3 and where the run wrote its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeparationOutcome {
    /// Every row (mixture, ideal masks, and each variant x training set).
    pub rows: Vec<Table3Row>,
    /// The table as Markdown, ours beside the paper's.
    pub markdown: String,
    /// Wall time of this process (s).
    pub seconds: f64,
    /// Files written (WAVs and pictures).
    pub files: Vec<PathBuf>,
}

/// Runs the whole experiment in `out`: data, the guide's features, training of every vector
/// variant on both training sets (checkpoints with resume under `out/train/`), evaluation,
/// `config.json`, `manifest.json`, `metrics.json`, `table.md` ([`table3`], also as `table.csv`),
/// WAVs and pictures of the first `plan.examples` test mixtures under `out/examples/`.
///
/// # Errors
/// [`Error::Checkpoint`] when `out` holds a run of another plan or guide; data, training and
/// evaluation errors.
pub fn run_separation(plan: &SeparationPlan, guide: &Guide, ctx: &RunContext) -> Result<SeparationOutcome> {
    let (out, device, progress) = (ctx.out.as_path(), &ctx.device, ctx.progress);
    let started = Instant::now();
    plan.validate()?;
    let config =
        serde_json::json!({ "plan": plan, "guide": guide.origin, "guide_image_size": guide.image_size });
    let config_path = out.join("config.json");
    if config_path.is_file() {
        let existing: serde_json::Value = read_json(&config_path)?;
        if existing != config {
            return Err(Error::Checkpoint {
                path: out.to_path_buf(),
                detail: "holds a run of another plan or guide; choose another --out folder".into(),
            });
        }
    } else {
        write_json(&config_path, &config)?;
    }
    let data = prepare_data(plan, guide, device, progress)?;
    write_json(&out.join("manifest.json"), &data.manifest)?;
    let mixer = Mixer::sound_of_pixels()?;
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    let mut outputs: HashMap<(GuidanceKind, TrainingSet), VariantOutput> = HashMap::new();

    let mix_estimates: Vec<Vec<Vec<f32>>> = data
        .test
        .iter()
        .map(|t| {
            let m = mixer.reconstruct_mixture(&t.example.input.spectra)?;
            Ok(vec![m; t.example.num_sources()])
        })
        .collect::<Result<_>>()?;
    let r = score(&mixer, "Mixture (no separation)", &data.test, &mix_estimates)?;
    rows.push(Table3Row::from_report(&r, None, None, None));
    reports.push(r);
    let oracle: Vec<Vec<Vec<f32>>> = data
        .test
        .iter()
        .map(|t| oracle_estimates(&mixer, &t.example))
        .collect::<std::result::Result<_, _>>()?;
    let r = score(&mixer, "Ideal binary masks (upper bound)", &data.test, &oracle)?;
    rows.push(Table3Row::from_report(&r, None, None, None));
    reports.push(r);

    let cam = separate_test(GuidanceKind::GradCam, None, &data.test, &mixer, device)?;
    let r = score(&mixer, GuidanceKind::GradCam.name(), &data.test, &cam.estimates)?;
    for set in TrainingSet::ALL {
        rows.push(Table3Row::from_report(&r, Some(GuidanceKind::GradCam), Some(set), None));
    }
    reports.push(r);
    outputs.insert((GuidanceKind::GradCam, TrainingSet::MultiSource), cam);

    for set in plan.training_sets.iter().copied() {
        let items: Vec<&TrainItem> =
            data.train.iter().filter(|t| set == TrainingSet::MultiSource || !t.duet).collect();
        for kind in GuidanceKind::ALL.into_iter().filter(|k| k.is_trained() && plan.variants.contains(k)) {
            let label = format!("{} / {}", kind.slug(), set.slug());
            if progress {
                eprintln!("training {label} on {} mixtures", items.len());
            }
            let dir = out.join("train").join(format!("{}_{}", kind.slug(), set.slug()));
            let trained = train_variant(plan, kind, &items, &dir, device, progress, &label)?;
            let output = separate_test(kind, Some(&trained.model), &data.test, &mixer, device)?;
            let name = format!("{} ({})", kind.name(), set.slug());
            let r = score(&mixer, &name, &data.test, &output.estimates)?;
            if progress {
                eprintln!(
                    "  {name}: SDR {:.2} SIR {:.2} SAR {:.2} (mixture {:.2})",
                    r.sdr, r.sir, r.sar, r.sdr_mix
                );
            }
            rows.push(Table3Row::from_report(&r, Some(kind), Some(set), Some(&trained.state)));
            reports.push(r);
            outputs.insert((kind, set), output);
        }
    }

    let table = table3(&rows);
    let markdown = table.to_markdown_aligned(2, Align::Unspecified);
    write_json(&out.join("metrics.json"), &serde_json::json!({ "rows": rows, "reports": reports }))?;
    let files = write_examples(plan, &data, &outputs, &mixer, &out.join("examples"))?;
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(out.join("table.md"), &markdown).map_err(|e| Error::io(out.join("table.md"), e))?;
    let csv = out.join("table.csv");
    std::fs::write(&csv, table.to_csv(2)).map_err(|e| Error::io(&csv, e))?;
    Ok(SeparationOutcome { rows, markdown, seconds, files })
}
