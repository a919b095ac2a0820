//! The coarse-to-fine model as the frozen guide of the separator: loading or training it, and
//! running it on every source of a batch of mixtures to get each guidance variant's input.

use std::path::Path;

use av_alignment::{PoolNormalization, class_aware_pool};
use av_data::classes::Vocabulary;
use av_separation::{Mixer, SourceGuidance, cam_to_grid};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use indicatif::ProgressBar;

use ndarray::Array2;

use crate::flickr::{FlickrPlan, load_run_model, train_plan};
use av_align::model::{AvModel, MapSource};
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
    let c = guide.model.num_classes();
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
        let loc = guide.model.class_localization_maps(&features, MapSource::Alignment)?; // [n, C, h, w]
        let wa = guide.model.class_maps(features.f_a.clone(), false)?; // [n, C, ta, fa]
        let wv = guide.model.class_maps(features.f_v.clone(), true)?; // [n, C, h, w]
        let [_, d, h, w] = features.f_v.dims();
        let [_, _, ta, fa] = features.f_a.dims();
        let loc = tensor_read("guide K^c", loc)?;
        let wa = tensor_read("guide W_a", wa)?;
        let wv = tensor_read("guide W_v", wv)?;
        // Eq. 5 weights of each query's class (av-alignment's pooling): the visual vector pools
        // F_v with K^c, or with W_v^c when K^c is all zeros, or uniformly when that is empty
        // too; the audio vector pools F_a with W_a^c, or uniformly.
        let plane = |maps: &[f32], i: usize, class: usize, len: usize| -> Vec<f32> {
            maps[(i * c + class) * len..(i * c + class + 1) * len].to_vec()
        };
        let is_empty = |x: &[f32]| x.iter().sum::<f32>() <= 0.0;
        let mut visual_weights = Vec::with_capacity(n * h * w);
        let mut audio_weights = Vec::with_capacity(n * ta * fa);
        let mut fallbacks = Vec::with_capacity(n);
        for (i, q) in chunk.iter().enumerate() {
            let k = plane(&loc, i, q.guide_class, h * w);
            let wvc = plane(&wv, i, q.guide_class, h * w);
            let wac = plane(&wa, i, q.guide_class, ta * fa);
            let fb_v = is_empty(&k);
            let chosen = if !fb_v {
                k
            } else if !is_empty(&wvc) {
                wvc
            } else {
                vec![1.0; h * w]
            };
            let fb_a = is_empty(&wac);
            visual_weights.extend(chosen);
            audio_weights.extend(if fb_a { vec![1.0; ta * fa] } else { wac });
            fallbacks.push((fb_v, fb_a));
        }
        let visual_weights = Tensor::<4>::from_data(TensorData::new(visual_weights, [n, 1, h, w]), device);
        let audio_weights = Tensor::<4>::from_data(TensorData::new(audio_weights, [n, 1, ta, fa]), device);
        let visual = tensor_read(
            "guide f_v^c",
            class_aware_pool(features.f_v.clone(), visual_weights, PoolNormalization::WeightedMean)?,
        )?; // [n, 1, d]
        let audio = tensor_read(
            "guide f_a^c",
            class_aware_pool(features.f_a, audio_weights, PoolNormalization::WeightedMean)?,
        )?; // [n, 1, d]
        let f_v = tensor_read("guide F_v", features.f_v)?;
        for (i, q) in chunk.iter().enumerate() {
            let fv = &f_v[i * d * h * w..(i + 1) * d * h * w];
            let k = plane(&loc, i, q.guide_class, h * w);
            let wac = plane(&wa, i, q.guide_class, ta * fa);
            let (fallback_visual, fallback_audio) = fallbacks[i];
            let whole_frame = (0..d)
                .map(|ch| fv[ch * h * w..(ch + 1) * h * w].iter().copied().fold(f32::MIN, f32::max))
                .collect();
            let cam_mask = with_cam.then(|| cam_to_grid(&wac, ta, fa, t, mixer)).transpose()?;
            out.push(SourceGuidance {
                music_class: q.music_class,
                guide_class: q.guide_class,
                visual: visual[i * d..(i + 1) * d].to_vec(),
                whole_frame,
                audio: audio[i * d..(i + 1) * d].to_vec(),
                cam_mask,
                localization: k,
                loc_size: [h, w],
                fallback_visual,
                fallback_audio,
            });
        }
        if let Some(bar) = bar {
            bar.inc(n as u64);
        }
    }
    Ok(out)
}
