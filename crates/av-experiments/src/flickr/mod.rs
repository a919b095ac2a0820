//! The SoundNet-Flickr experiment (paper §4.3, Table 1) as library calls: a training plan
//! (stage 1 then stage 2 on the offline benchmark), evaluation of a checkpoint on benchmark
//! scenes with the trivial baselines, overlays and a Markdown report. The example
//! `flickr_localize` is a thin command line over these.

use std::path::Path;

use serde::{Deserialize, Serialize};

use av_align::{Error, Result};

use crate::bench::BenchDataConfig;
use crate::run::write_json;
use av_align::inference::{InputSpec, SilenceRule};
use av_align::model::{AvModelConfig, ClassCombine, MapSource, Stage};
use av_align::preprocess::AudioWindow;
use av_align::train::TrainConfig;

mod class_pairs;
mod embeddings;
mod evaluate;
mod generalization;
mod hearing_score;
mod pictures;
mod runs;
mod silence;
mod train;

pub use class_pairs::{ClassPairScore, class_pair_score};
pub use embeddings::{EmbeddingSpread, embedding_spread};
pub use evaluate::{EvalReport, PAPER_TABLE1, evaluate_on_bench, flickr_table, markdown_table};
pub use generalization::{
    Family, GeneralizationReport, GeneralizationRow, HearingScore, MapMass, TestSet, evaluate_generalization,
    evaluate_generalization_on, test_data_config, test_sets,
};
pub use pictures::write_overlays;
pub use runs::{DemoOutcome, RealTestReport, run_bench_eval, run_demo, run_real_test_set, ship_model};
pub use silence::{NOISE_LEVELS_DBFS, SilenceCalibration, SilenceScores, calibrate_silence};
pub use train::{TrainedPlan, load_run_model, save_model_dir, train_plan, train_plan_on};

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
    /// The maps the trained model's [`av_align::Localizer`] draws, chosen on validation scenes
    /// after training and written into its folder's `inputs.json`; absent: Eq. 8 mixed by the
    /// paper's weighted mean. Test-time only: two plans that differ only here train the same
    /// run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn: Option<DrawnMaps>,
}

/// What a model folder's `Localizer` draws ([`FlickrPlan::drawn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnMaps {
    /// The per-class maps.
    pub maps: MapSource,
    /// How the heard classes' maps are combined.
    pub combine: ClassCombine,
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
            drawn: None,
        }
    }

    /// The broad preset: the compact model trained on the broad benchmark
    /// ([`av_data::bench::BenchConfig::broad_localization`]: 11 picture families, 2 SoundFonts and
    /// 4 photo groups plus fetched training photos, training augmentation, an out-of-family test
    /// set) with the per-position alignment term in stage 2 (LVS soft tri-map with hard
    /// background negatives: the best of off / max / LVS on the validation split,
    /// `docs/results.md` §9). 4 000 scenes, 20 epochs of stage 1 (lr 0.05) and 30 of stage 2
    /// (lr 0.02), batch 16: 27 minutes on 2 CPU cores (1 599-1 708 s measured). Needs the fetched photos
    /// (`bash tools/assets/fetch_backgrounds.sh`).
    pub fn broad() -> Self {
        let stage1 = TrainConfig { epochs: 20, lr: 0.05, ..TrainConfig::mssl_new(Stage::One) };
        let mut stage2 = TrainConfig { epochs: 30, lr: 0.02, ..TrainConfig::mssl_new(Stage::Two) };
        stage2.objective.position = Some(av_alignment::PositionLossConfig::lvs());
        Self {
            model: AvModelConfig::compact(15),
            data: BenchDataConfig {
                bench: av_data::bench::BenchConfig::broad_localization(2020),
                image_size: 128,
                no_class_clips: 0.0,
            },
            train_scenes: 4000,
            val_scenes: 64,
            stage1,
            stage2,
            init_seed: 7,
            drawn: None,
        }
    }

    /// The same plan with another training seed: model initialisation and the batch order of
    /// both stages (the data stay the same).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.init_seed = 7 + seed;
        self.stage1.seed = seed;
        self.stage2.seed = seed;
        self
    }

    /// The same plan on another class list: the benchmark labels its scenes with `vocabulary`
    /// and the model gets one class per entry (e.g. MUSIC-11 for a guide of the separation
    /// experiment, which must know every MUSIC instrument).
    pub fn with_vocabulary(mut self, vocabulary: av_data::classes::Vocabulary) -> Self {
        self.data.bench.vocabulary = vocabulary;
        self.model.num_classes = vocabulary.len();
        self
    }

    /// The same plan with a fraction `fraction` of no-class training clips
    /// ([`BenchDataConfig::no_class_clips`]), whose own frame both stages then treat as an AVC
    /// negative ([`av_align::model::ObjectiveConfig::unlabelled_clips_are_negatives`]).
    pub fn with_no_class_clips(mut self, fraction: f64) -> Self {
        self.data.no_class_clips = fraction;
        self.stage1.objective.unlabelled_clips_are_negatives = fraction > 0.0;
        self.stage2.objective.unlabelled_clips_are_negatives = fraction > 0.0;
        self
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
            drawn: None,
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
            drawn: None,
        }
    }

    /// What a model trained with this plan needs at inference (frame side, class names, the
    /// first 5 s of audio), stored as `inputs.json` in its model folder.
    pub fn input_spec(&self) -> InputSpec {
        InputSpec {
            image_size: self.data.image_size,
            class_names: self.data.bench.vocabulary.names().into_iter().map(String::from).collect(),
            audio: AudioWindow::FirstSeconds,
            silence: SilenceRule::default(),
            // Eq. 8 and the paper's mix unless the plan names a choice made on validation.
            maps: self.drawn.map_or(MapSource::Alignment, |d| d.maps),
            combine: self.drawn.map_or(ClassCombine::WeightedMean, |d| d.combine),
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
