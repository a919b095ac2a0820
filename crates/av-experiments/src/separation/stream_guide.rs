//! What tells a streamed run's network which source to extract: the oracle class (the control
//! run) or a frozen coarse-to-fine guide (Table 3's Visual, Audio, whole-frame and Grad-CAM rows)
//! run on every source of every step's mixtures.
//!
//! With a guide, each source's vector is computed afresh from its own frame (the solo scene's
//! image at the guide's frame size) and the *mixture* audio, exactly as in
//! [`super::prepare_data`]; it is standardised with per-channel statistics measured once on 64
//! fixed training mixtures (`guide_stats.json`, a fixed affine map in front of the trained
//! projection) and projected to the K synthesizer channels by the trained
//! [`GuidanceProjection`]. The guide must know every MUSIC class (a guide trained on the MUSIC-11
//! vocabulary does): a source whose class has no guide class is a typed error, never dropped.

use std::collections::HashMap;
use std::path::Path;

use av_align::preprocess::{AudioPreprocess, AudioWindow, fit_frame};
use av_align::{Error, Result};
use av_data::classes::Vocabulary;
use av_separation::{
    Guidance, GuidanceKind, GuidanceProjection, GuidedSeparator, MixExample, Mixer, SeparationNet,
    SourceGuidance, guidance_for,
};
use burn::module::Module;
use burn::tensor::Device;
use image::RgbImage;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::FeatureStats;
use super::guide::{Guide, Query, guide_queries};
use super::stream::oracle_guidance;

/// Name of the guide-vector statistics in a run folder and in its model folder (the facade's
/// marker of a guided model folder).
pub const GUIDE_STATS_FILE: &str = av_align::inference::GUIDED_MARKER_FILE;

/// The guidance of a streamed run (a field of [`super::stream::StreamPlan`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum StreamGuide {
    /// A one-hot vector of the source's true class over the K channels (the control run).
    #[default]
    OracleClass,
    /// A vector of a frozen coarse-to-fine model, projected to K channels by a trained
    /// `σ(Linear(D, K))`.
    Model {
        /// Which vector: `Visual`, `Audio` or `WholeFrame` (`GradCam` is not trained).
        kind: GuidanceKind,
        /// The guide's model folder (as written by `flickr_localize train`: `<run>/model`).
        checkpoint: String,
        /// Seed of the projection's initialisation.
        projection_seed: u64,
    },
}

impl StreamGuide {
    /// A short name for tables and logs.
    pub fn name(&self) -> String {
        match self {
            StreamGuide::OracleClass => "oracle class".into(),
            StreamGuide::Model { kind, .. } => kind.name().to_string(),
        }
    }

    /// Checks that a trained variant was chosen.
    ///
    /// # Errors
    /// [`Error::Config`] for Grad-CAM (a mask, nothing to train) or an empty checkpoint path.
    pub fn validate(&self) -> Result<()> {
        match self {
            StreamGuide::OracleClass => Ok(()),
            StreamGuide::Model { kind, checkpoint, .. } => {
                if !kind.is_trained() {
                    return Err(Error::Config(
                        "Grad-CAM guidance is a mask, not a trained variant: it is scored beside a guided run".into(),
                    ));
                }
                if checkpoint.is_empty() {
                    return Err(Error::Config("a guided run needs the guide's model folder".into()));
                }
                Ok(())
            }
        }
    }
}

/// The network a streamed run trains: the bare U-Net (oracle class) or U-Net + projection.
pub trait StreamNet: Module {
    /// The U-Net and synthesizer.
    fn net(&self) -> &SeparationNet;
    /// The projection of a guide's vector, if the run has one.
    fn projection(&self) -> Option<&GuidanceProjection>;
    /// The same with another U-Net and synthesizer.
    fn with_net(self, net: SeparationNet) -> Self;
}

impl StreamNet for SeparationNet {
    fn net(&self) -> &SeparationNet {
        self
    }
    fn projection(&self) -> Option<&GuidanceProjection> {
        None
    }
    fn with_net(self, net: SeparationNet) -> Self {
        net
    }
}

impl StreamNet for GuidedSeparator {
    fn net(&self) -> &SeparationNet {
        &self.net
    }
    fn projection(&self) -> Option<&GuidanceProjection> {
        Some(&self.projection)
    }
    fn with_net(self, net: SeparationNet) -> Self {
        Self { net, ..self }
    }
}

/// The mixtures of a batch and where their sources come from.
#[derive(Clone, Copy)]
pub struct BatchSources<'a> {
    /// The mixtures.
    pub examples: &'a [&'a MixExample],
    /// The class of each source of each mixture (all mixtures with the same source count).
    pub classes: &'a [&'a [usize]],
    /// The scene id of each source of each mixture (its frame's key in `frames`).
    pub ids: &'a [Vec<String>],
    /// The frames of the sources at the guide's size (unused by the oracle).
    pub frames: &'a HashMap<String, RgbImage>,
}

impl BatchSources<'_> {
    fn sources_per_mixture(&self) -> usize {
        self.classes.first().map_or(0, |c| c.len())
    }
}

/// A loaded guide with what it needs to turn mixtures into vectors.
#[derive(Debug)]
pub struct GuideContext {
    /// The frozen model (plain device).
    pub guide: Guide,
    /// The guide's audio front end (the whole mixture, resampled to its rate).
    pub audio: AudioPreprocess,
    /// Per-channel statistics of the trained variant's raw vectors (set by [`Self::calibrate`]).
    pub stats: FeatureStats,
    /// The plain device the guide runs on.
    pub device: Device,
}

impl GuideContext {
    /// Loads the guide and checks that it knows every MUSIC class.
    ///
    /// # Errors
    /// As [`Guide::load`]; [`Error::Config`] when a MUSIC class has no guide class.
    pub fn load(checkpoint: &Path, device: &Device) -> Result<Self> {
        let guide = Guide::load(checkpoint, device)?;
        let missing: Vec<&str> = (0..Vocabulary::Music11.len())
            .filter(|&c| guide.map_class(c).is_none())
            .map(|c| Vocabulary::Music11.names()[c])
            .collect();
        if !missing.is_empty() {
            return Err(Error::Config(format!(
                "the guide {} does not know {} (vocabulary {:?}); train one on the MUSIC-11 vocabulary",
                checkpoint.display(),
                missing.join(", "),
                guide.vocabulary
            )));
        }
        Ok(Self {
            guide,
            audio: AudioPreprocess::new(AudioWindow::WholeClip)?,
            stats: FeatureStats::default(),
            device: device.clone(),
        })
    }

    /// The guide's frame size (pixels), for [`take_frames`].
    pub fn frame_size(&self) -> u32 {
        self.guide.image_size
    }

    /// The guide's raw output for every source of the batch (source `n` of mixture `m` at
    /// `m * N + n`).
    ///
    /// # Errors
    /// [`Error::Config`] for a missing frame or an unknown class; audio and model errors.
    pub fn raw(&self, batch: BatchSources<'_>, mixer: &Mixer, with_cam: bool) -> Result<Vec<SourceGuidance>> {
        let rate = mixer.config().sample_rate;
        let logmels = batch
            .examples
            .par_iter()
            .map(|ex| self.audio.logmel(&ex.input.mixture, rate))
            .collect::<Result<Vec<_>>>()?;
        let mut queries = Vec::new();
        for (m, (cls, names)) in batch.classes.iter().zip(batch.ids).enumerate() {
            for (&music_class, id) in cls.iter().zip(names) {
                let frame = batch
                    .frames
                    .get(id)
                    .ok_or_else(|| Error::Config(format!("no frame for source {id} of a guided mixture")))?;
                let guide_class = self
                    .guide
                    .map_class(music_class)
                    .ok_or_else(|| Error::Config(format!("MUSIC class {music_class} has no guide class")))?;
                queries.push(Query { frame, mix: m, music_class, guide_class });
            }
        }
        guide_queries(&self.guide, &queries, &logmels, with_cam, mixer, &self.device, None)
    }

    /// Measures the per-channel statistics of `kind`'s vectors on `raw` and keeps them.
    pub fn calibrate(&mut self, kind: GuidanceKind, mut raw: Vec<SourceGuidance>) {
        self.stats = FeatureStats::of(raw.iter_mut().map(|g| vector_of(kind, g).as_slice()));
    }

    /// The guidance of every source index `n` of a batch (one [`Guidance`] per source index),
    /// standardised and projected (on `device`, which may track gradients).
    ///
    /// # Errors
    /// As [`Self::raw`] and [`guidance_for`].
    pub fn guidance(
        &self,
        kind: GuidanceKind,
        batch: BatchSources<'_>,
        mixer: &Mixer,
        projection: Option<&GuidanceProjection>,
        device: &Device,
    ) -> Result<Vec<Guidance>> {
        let mut raw = self.raw(batch, mixer, kind == GuidanceKind::GradCam)?;
        if kind != GuidanceKind::GradCam {
            for g in &mut raw {
                self.stats.apply(vector_of(kind, g));
            }
        }
        let sources = batch.sources_per_mixture();
        (0..sources)
            .map(|n| {
                let picked: Vec<&SourceGuidance> =
                    (0..batch.classes.len()).map(|m| &raw[m * sources + n]).collect();
                Ok(guidance_for(kind, &picked, projection, device)?)
            })
            .collect()
    }
}

/// The raw vector a variant uses (the visual one for Visual, and for Grad-CAM, which uses none).
fn vector_of(kind: GuidanceKind, g: &mut SourceGuidance) -> &mut Vec<f32> {
    match kind {
        GuidanceKind::WholeFrame => &mut g.whole_frame,
        GuidanceKind::Audio => &mut g.audio,
        _ => &mut g.visual,
    }
}

/// How a batch is conditioned: the oracle class, or a guide (with the frames of the sources).
pub enum Conditioner<'a> {
    /// One-hot true classes over `k` channels.
    Oracle {
        /// The synthesizer's K.
        k: usize,
    },
    /// A guide's vector (or Grad-CAM mask) of `kind`.
    Guide {
        /// The guide.
        context: &'a GuideContext,
        /// Which variant.
        kind: GuidanceKind,
    },
}

impl Conditioner<'_> {
    /// The guidance of each source index of a batch of mixtures.
    ///
    /// # Errors
    /// As [`GuideContext::guidance`].
    pub fn guidance(
        &self,
        batch: BatchSources<'_>,
        mixer: &Mixer,
        projection: Option<&GuidanceProjection>,
        device: &Device,
    ) -> Result<Vec<Guidance>> {
        match self {
            Conditioner::Oracle { k } => Ok((0..batch.sources_per_mixture())
                .map(|n| oracle_guidance(batch.classes, n, *k, device))
                .collect()),
            Conditioner::Guide { context, kind } => context.guidance(*kind, batch, mixer, projection, device),
        }
    }
}

/// Takes the images out of `scenes` into `frames` at `size` pixels (when a guide needs them).
pub fn take_frames(
    scenes: &mut [av_data::bench::Scene],
    size: Option<u32>,
    frames: &mut HashMap<String, RgbImage>,
) {
    let Some(size) = size else { return };
    for scene in scenes {
        let image = std::mem::take(&mut scene.image);
        let (w, h) = image.dimensions();
        let image = if (w, h) == (size, size) { image } else { fit_frame(&image, size) };
        frames.insert(scene.id.clone(), image);
    }
}

/// The ids of the sources of a pair mixed by `MixSpec::pair` (`"<a>+<b>"`).
pub fn pair_ids(spec_id: &str) -> Vec<String> {
    spec_id.split('+').map(str::to_string).collect()
}
