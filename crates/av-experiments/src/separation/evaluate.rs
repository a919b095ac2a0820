//! Scoring a streamed model folder on the full test protocol without retraining: pairs of test
//! solos (single-source) and two-instrument test scenes (multi-source, both sources in one
//! frame), in-family and with the unseen SoundFont and pictures, beside the mixture and the ideal
//! binary masks (and, for a guided model, its guide's untrained Grad-CAM mask). Every mixture is
//! scored; a silent estimate is counted and penalised ([`super::stream::SILENT_PENALTY_DB`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use av_align::Result;
use av_data::Split;
use av_data::bench::{AssetPack, Generator};
use av_separation::{MixConfig, Mixer};
use serde::{Deserialize, Serialize};

use crate::run::{RunContext, write_json};

use super::demo::{ModelJob, Steering, with_model};
use super::stream::{SplitScores, StreamPlan, duet_set, eval_set, readers, score_split};
use super::stream_guide::StreamNet;

/// What [`run_evaluate`] measured (also its `metrics.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvaluateOutcome {
    /// What steered the network ("oracle class", "Ours Audio", ...).
    pub guide: String,
    /// Per split (`test in-family`, `test unseen timbre`, `duets in-family`, `duets unseen
    /// timbre`): the mixture, the ideal binary masks, the model (one row per mask reading) and,
    /// for a guided model, the Grad-CAM mask.
    pub splits: Vec<(String, Vec<SplitScores>)>,
    /// Wall time (s).
    pub seconds: f64,
}

/// Scores the model in `model_dir` (written by `music_separation stream`) on its plan's test
/// splits, with `mixtures` mixtures per split (`None`: the plan's `eval_pairs`, which gives the
/// very test mixtures its training run scored), and on the multi-source splits; writes
/// `ctx.out/metrics.json`.
///
/// # Errors
/// Model loading, data, separation and scoring errors.
pub fn run_evaluate(model_dir: &Path, mixtures: Option<usize>, ctx: &RunContext) -> Result<EvaluateOutcome> {
    let outcome = with_model(model_dir, ctx, Evaluate { mixtures })?;
    write_json(&ctx.out.join("metrics.json"), &outcome)?;
    Ok(outcome)
}

/// The evaluation as a [`ModelJob`].
struct Evaluate {
    mixtures: Option<usize>,
}

impl ModelJob for Evaluate {
    type Output = EvaluateOutcome;

    fn run<M: StreamNet>(
        self,
        plan: &StreamPlan,
        model: &M,
        steering: &Steering<'_>,
        ctx: &RunContext,
    ) -> Result<EvaluateOutcome> {
        let started = Instant::now();
        let mut plan = plan.clone();
        if let Some(m) = self.mixtures {
            plan.eval_pairs = m.max(1);
            plan.eval_scenes = plan.eval_scenes.max(3 * m as u64);
        }
        let generator = Generator::new(Arc::new(AssetPack::load_default()?), plan.bench())?;
        let unseen = generator.out_of_family()?;
        let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(plan.net.mask))?;
        let readers = readers(plan.net.mask)?;
        let frame_size = steering.frame_size;
        let mut splits = Vec::new();
        for (name, generator, duets) in [
            ("test in-family", &generator, false),
            ("test unseen timbre", &unseen, false),
            ("duets in-family", &generator, true),
            ("duets unseen timbre", &unseen, true),
        ] {
            ctx.say(format!("scoring {name} ..."));
            let set = if duets {
                duet_set(name, generator, Split::Test, &plan, &mixer, frame_size)?
            } else {
                eval_set(name, generator, Split::Test, &plan, &mixer, frame_size)?
            };
            let rows = score_split(
                model,
                steering.conditioner,
                steering.grad_cam,
                &set,
                &mixer,
                &readers,
                &ctx.device,
            )?;
            splits.push((name.to_string(), rows));
        }
        Ok(EvaluateOutcome { guide: plan.guide.name(), splits, seconds: started.elapsed().as_secs_f64() })
    }
}
