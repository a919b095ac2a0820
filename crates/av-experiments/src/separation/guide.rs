//! The coarse-to-fine model as the frozen guide of the separator: loading or training it, and
//! running it on every source of a batch of mixtures to get each guidance variant's input.

use std::path::Path;

use av_data::classes::Vocabulary;
use av_separation::{Mixer, SourceGuidance, cam_to_grid};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use indicatif::ProgressBar;

use ndarray::Array2;

use crate::flickr::{FlickrPlan, load_run_model, train_plan};
use av_align::model::AvModel;
use av_align::preprocess::frame_chw;
use av_align::{Error, Result};

/// The coarse-to-fine model used as a frozen guide, with what is needed to feed it.
#[derive(Debug)]
pub struct Guide {
    /// The model (inference mode, plain device).
    pub model: AvModel,
    /// Its frame side (pixels).
    pub image_size: u32,
    /// Its class list.
    pub vocabulary: Vocabulary,
    /// Where it came from (a checkpoint directory or a training run), for the manifest.
    pub origin: String,
}

impl Guide {
    /// Wraps a model trained with `plan` (its frame size and vocabulary).
    ///
    /// # Errors
    /// [`Error::Config`] when the model's class count differs from the plan's vocabulary.
    pub fn from_model(model: AvModel, plan: &FlickrPlan, origin: impl Into<String>) -> Result<Self> {
        let vocabulary = plan.data.bench.vocabulary;
        if model.num_classes() != vocabulary.len() {
            return Err(Error::Config(format!(
                "the guide has {} classes, its plan's vocabulary {:?} {}",
                model.num_classes(),
                vocabulary,
                vocabulary.len()
            )));
        }
        Ok(Self { model, image_size: plan.data.image_size, vocabulary, origin: origin.into() })
    }

    /// Loads a model folder (as `assets/checkpoints/flickr_compact` or a run's `model/`) with
    /// [`load_run_model`].
    ///
    /// # Errors
    /// As [`load_run_model`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (plan, model) = load_run_model(dir, device)?;
        Self::from_model(model, &plan, dir.display().to_string())
    }

    /// Trains a guide with `plan` in `run_dir` (resumes; see [`train_plan`], which leaves a
    /// self-contained `run_dir/model` that [`Guide::load`] takes).
    ///
    /// # Errors
    /// As [`train_plan`].
    pub fn train(plan: &FlickrPlan, run_dir: &Path, device: &Device, progress: bool) -> Result<Self> {
        let trained = train_plan(plan, run_dir, device, progress)?;
        Self::from_model(trained.stage2, plan, run_dir.join("model").display().to_string())
    }

    /// The guide's class of a class of the separation vocabulary (MUSIC-11), by instrument.
    pub fn map_class(&self, music_class: usize) -> Option<usize> {
        let instrument = Vocabulary::Music11.classes().get(music_class)?;
        self.vocabulary.index_of(*instrument)
    }
}

pub(super) fn tensor_read<const D: usize>(what: &'static str, t: Tensor<D>) -> Result<Vec<f32>> {
    t.try_into_vec_as::<f32>().map_err(|e| {
        Error::Separation(av_separation::SeparationError::TensorRead { op: what, detail: format!("{e:?}") })
    })
}

/// One source query to the guide.
pub(super) struct Query<'a> {
    pub(super) frame: &'a RgbImage,
    pub(super) mix: usize,
    pub(super) music_class: usize,
    pub(super) guide_class: usize,
}

/// Runs the guide on `queries` (batches of 16) and derives every variant's guidance.
pub(super) fn guide_queries(
    guide: &Guide,
    queries: &[Query<'_>],
    logmels: &[Array2<f32>],
    with_cam: bool,
    mixer: &Mixer,
    device: &Device,
    bar: Option<&ProgressBar>,
) -> Result<Vec<SourceGuidance>> {
    const CHUNK: usize = 16;
    let mut out = Vec::with_capacity(queries.len());
    let size = guide.image_size as usize;
    for chunk in queries.chunks(CHUNK) {
        let n = chunk.len();
        let (t, f) = logmels[chunk[0].mix].dim();
        let mut frames = Vec::with_capacity(n * 3 * size * size);
        let mut mels = Vec::with_capacity(n * t * f);
        for q in chunk {
            frames.extend(frame_chw(q.frame, false));
            mels.extend(logmels[q.mix].iter().copied());
        }
        let frames = Tensor::<4>::from_data(TensorData::new(frames, [n, 3, size, size]), device);
        let mels = Tensor::<4>::from_data(TensorData::new(mels, [n, 1, t, f]), device);
        let features = guide.model.features(frames, mels)?;
        let classes: Vec<usize> = chunk.iter().map(|q| q.guide_class).collect();
        for (q, g) in chunk.iter().zip(guide.model.class_guidance(&features, &classes)?) {
            let [ta, fa] = g.audio_map_size;
            let cam_mask = with_cam.then(|| cam_to_grid(&g.audio_map, ta, fa, t, mixer)).transpose()?;
            out.push(SourceGuidance {
                music_class: q.music_class,
                guide_class: q.guide_class,
                visual: g.visual,
                whole_frame: g.whole_frame,
                audio: g.audio,
                cam_mask,
                localization: g.localization,
                loc_size: g.loc_size,
                fallback_visual: g.fallback_visual,
                fallback_audio: g.fallback_audio,
            });
        }
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
    Ok(out)
}
