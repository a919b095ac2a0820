//! The guide of a *guided* separation model folder (written by `music_separation stream
//! --guide`): the frozen coarse-to-fine model in `guide/`, the variant's vector of it
//! ([`ClassGuidance`](crate::model::ClassGuidance)), standardised with the per-channel statistics
//! of [`GUIDED_MARKER_FILE`](super::GUIDED_MARKER_FILE) and projected to the U-Net's K channels by
//! the trained `σ(Linear(D, K))`.

use std::path::Path;

use av_separation::{Guidance, GuidanceKind, GuidanceProjection};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::inference::localizer::Localizer;
use crate::preprocess::{AudioPreprocess, AudioWindow};

/// The folder of the guide inside a guided separation model folder.
pub const GUIDE_DIR: &str = "guide";

/// Per-channel mean and standard deviation of the guide's raw vectors (the statistics the
/// projection was trained behind).
#[derive(Debug, Clone, Deserialize)]
struct VectorStats {
    mean: Vec<f32>,
    std: Vec<f32>,
}

/// What turns a frame and a mixture into the guided network's K-vector.
#[derive(Debug, Clone)]
pub(crate) struct GuidedParts {
    pub(crate) kind: GuidanceKind,
    pub(crate) guide: Localizer,
    projection: GuidanceProjection,
    stats: VectorStats,
    audio: AudioPreprocess,
}

impl GuidedParts {
    /// Loads the guide (`dir/guide`), the statistics and the variant (`plan.json`'s
    /// `guide.Model.kind`) of a guided model folder.
    pub(crate) fn load(dir: &Path, projection: GuidanceProjection, device: &Device) -> Result<Self> {
        let read = |name: &str| -> Result<serde_json::Value> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::Checkpoint { path: path.clone(), detail: format!("not JSON: {e}") })
        };
        let bad = |file: &str, detail: String| Error::Checkpoint { path: dir.join(file), detail };
        let stats: VectorStats = serde_json::from_value(read(super::GUIDED_MARKER_FILE)?)
            .map_err(|e| bad(super::GUIDED_MARKER_FILE, format!("not a mean/std pair: {e}")))?;
        let kind: GuidanceKind = serde_json::from_value(read("plan.json")?["guide"]["Model"]["kind"].clone())
            .map_err(|e| bad("plan.json", format!("names no guide vector (guide.Model.kind): {e}")))?;
        let d = projection.linear.weight.dims()[0];
        if stats.mean.len() != d || stats.std.len() != d || !kind.is_trained() {
            return Err(bad(
                super::GUIDED_MARKER_FILE,
                format!(
                    "{} / {} statistics for a projection of {d} inputs ({kind:?})",
                    stats.mean.len(),
                    stats.std.len()
                ),
            ));
        }
        let guide_dir = dir.join(GUIDE_DIR);
        if !guide_dir.is_dir() {
            return Err(Error::Checkpoint {
                path: guide_dir,
                detail:
                    "a guided separation model folder carries its guide (a localization model folder) here"
                        .into(),
            });
        }
        Ok(Self {
            kind,
            guide: Localizer::from_dir_on(&guide_dir, device)?,
            projection,
            stats,
            audio: AudioPreprocess::new(AudioWindow::WholeClip)?,
        })
    }

    /// The index of a class name in the guide's vocabulary (same instrument, or same name with
    /// ASCII case ignored).
    pub(crate) fn guide_class(&self, name: &str) -> Option<usize> {
        use av_data::classes::Instrument;
        let names = &self.guide.inputs().class_names;
        let wanted = Instrument::from_name(name);
        names
            .iter()
            .position(|c| wanted.is_some() && Instrument::from_name(c) == wanted)
            .or_else(|| names.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }

    /// The guidance of guide class `class` for `image` and the mixture (`rate` Hz, the whole
    /// clip as in training), on `device`.
    pub(crate) fn guidance(
        &self,
        image: &RgbImage,
        mixture: &[f32],
        rate: u32,
        class: usize,
        device: &Device,
    ) -> Result<Guidance> {
        let logmel = self.audio.logmel(mixture, rate)?;
        let features = self.guide.features(image, &logmel)?;
        let g = self
            .guide
            .model()
            .class_guidance(&features, &[class])?
            .pop()
            .ok_or_else(|| Error::Config("the guide gave no vector for the source".into()))?;
        let mut v = match self.kind {
            GuidanceKind::Audio => g.audio,
            GuidanceKind::WholeFrame => g.whole_frame,
            _ => g.visual,
        };
        for ((x, m), s) in v.iter_mut().zip(&self.stats.mean).zip(&self.stats.std) {
            *x = (*x - m) / s;
        }
        let d = v.len();
        Ok(self.projection.guidance(Tensor::from_data(TensorData::new(v, [1, d]), device)))
    }
}
