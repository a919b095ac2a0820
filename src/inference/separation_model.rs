//! [`SeparationModel`]: a trained separation network (Sound-of-Pixels' U-Net + synthesizer) as
//! written by `music_separation stream`, in one of two kinds of folder:
//! * **class-conditioned**: `model.bpk` + `model.json` (weights and [`SeparationNetConfig`]) and
//!   [`CLASSES_FILE`] (the class names, index = one-hot channel);
//! * **guided** (`stream --guide`): `model.bpk` + `model.json` (U-Net and projection,
//!   [`GuidedSeparatorConfig`]), [`CLASSES_FILE`], [`GUIDED_MARKER_FILE`] (statistics of the
//!   guide's vectors), `plan.json` (its `guide` names the vector: Visual, Audio or WholeFrame)
//!   and the guide itself in `guide/` (a localization model folder). The source is then chosen
//!   by its class, and the network is steered by the guide's vector of that class for the
//!   frame and the mixture (for Visual: the frame's features pooled where the class sounds).

use std::path::Path;

use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use av_separation::{
    Guidance, GuidanceKind, GuidedSeparatorConfig, MixConfig, Mixer, SeparationNet, SeparationNetConfig,
    separate,
};
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::inference::guided_separation::GuidedParts;
use crate::inference::localizer::Localizer;

/// The class-name file of a separation model folder (a JSON array of names).
pub const CLASSES_FILE: &str = "classes.json";

/// The file that marks a model folder of a *guided* separator (U-Net + the projection of a
/// localization model's vectors, written by `music_separation stream --guide`): the
/// per-channel statistics of the guide's vectors.
pub const GUIDED_MARKER_FILE: &str = "guide_stats.json";

/// A loaded separation network: class-conditioned, or guided by a localization model.
#[derive(Debug, Clone)]
pub struct SeparationModel {
    net: SeparationNet,
    classes: Vec<String>,
    mixer: Mixer,
    device: Device,
    guided: Option<Box<GuidedParts>>,
}

impl SeparationModel {
    /// Loads a model folder on the CPU (flex).
    ///
    /// # Errors
    /// As [`Self::from_dir_on`].
    #[cfg(feature = "flex")]
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::from_dir_on(dir, &Device::flex())
    }

    /// Loads a model folder onto `device`.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Checkpoint`] for missing or mismatched files, [`Error::Config`]
    /// when the class list does not fit the network's channels.
    pub fn from_dir_on(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let (net, mask, guided) = if dir.join(GUIDED_MARKER_FILE).is_file() {
            let config: GuidedSeparatorConfig = load_checkpoint_config(dir, "model")?;
            let model = load_checkpoint_weights(config.init(device)?, dir, "model")?;
            let parts = GuidedParts::load(dir, model.projection, device)?;
            (model.net, config.net.mask, Some(Box::new(parts)))
        } else {
            let config: SeparationNetConfig = load_checkpoint_config(dir, "model")?;
            (load_checkpoint_weights(config.init(device)?, dir, "model")?, config.mask, None)
        };
        let classes_path = dir.join(CLASSES_FILE);
        let text = std::fs::read_to_string(&classes_path).map_err(|e| Error::io(&classes_path, e))?;
        let classes: Vec<String> = serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
            path: classes_path.clone(),
            detail: format!("not a JSON list of class names: {e}"),
        })?;
        if classes.is_empty() || classes.len() > net.channels() {
            return Err(Error::Config(format!(
                "{} names {} classes for a network with {} guidance channels",
                classes_path.display(),
                classes.len(),
                net.channels()
            )));
        }
        if let Some(unknown) =
            guided.as_ref().and_then(|parts| classes.iter().find(|c| parts.guide_class(c).is_none()))
        {
            return Err(Error::Config(format!(
                "{}: the guide in {}/ does not know '{unknown}'",
                dir.display(),
                super::guided_separation::GUIDE_DIR
            )));
        }
        let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(mask))?;
        Ok(Self { net, classes, mixer, device: device.clone(), guided })
    }

    /// The guide's vector that steers a guided model (`None` for a class-conditioned one).
    pub fn guidance_kind(&self) -> Option<GuidanceKind> {
        self.guided.as_ref().map(|g| g.kind)
    }

    /// The localization model that guides a guided model.
    pub fn guide(&self) -> Option<&Localizer> {
        self.guided.as_ref().map(|g| &g.guide)
    }

    /// The class names, in channel order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The index of a class name: the same instrument (`av_data::classes::Instrument::from_name`,
    /// so the guide's AudioSet name "Guitar" finds "acoustic_guitar"), else the same name with
    /// ASCII case ignored.
    pub fn class_index(&self, name: &str) -> Option<usize> {
        use av_data::classes::Instrument;
        let wanted = Instrument::from_name(name);
        self.classes
            .iter()
            .position(|c| wanted.is_some() && Instrument::from_name(c) == wanted)
            .or_else(|| self.classes.iter().position(|c| c.eq_ignore_ascii_case(name)))
    }

    /// The data path's sample rate and clip length (11 025 Hz, 65 535 samples).
    pub fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    /// Separates class `class` from `mixture` (mono at the mixer's rate and length): the source
    /// ([`MixConfig::output_len`] samples) and the predicted mask on the warped grid `(256, 256)`.
    ///
    /// # Errors
    /// [`Error::Config`] for a class index out of range; separation errors for a mixture of the
    /// wrong rate or length.
    pub fn separate_class(&self, mixture: &[f32], class: usize) -> Result<(Vec<f32>, Array2<f32>)> {
        let k = self.net.channels();
        if class >= self.classes.len() {
            return Err(Error::Config(format!(
                "class {class} out of range ({} classes)",
                self.classes.len()
            )));
        }
        if self.guided.is_some() {
            return Err(Error::Config(
                "a guided separation model needs the frame: use separate_guided".into(),
            ));
        }
        let mut v = vec![0.0f32; k];
        v[class] = 1.0;
        let guidance = [Guidance::Vector(Tensor::from_data(TensorData::new(v, [1, k]), &self.device))];
        let rate = self.mixer.config().sample_rate;
        let mut out = separate(&self.net, &self.mixer, mixture, rate, &guidance, &self.device)?;
        let samples = out.sources.pop().unwrap_or_default();
        let mask = out.masks.pop().unwrap_or_else(|| Array2::zeros((0, 0)));
        Ok((samples, mask))
    }

    /// Separates the source of class `class` seen in `image` from `mixture` (mono at the mixer's
    /// rate and length) with a guided model: the guide's vector of that class for the frame and
    /// the mixture steers the network. Returns the source and its predicted mask, as
    /// [`Self::separate_class`].
    ///
    /// # Errors
    /// [`Error::Config`] for a class-conditioned model or a class out of range; guide and
    /// separation errors.
    pub fn separate_guided(
        &self,
        mixture: &[f32],
        image: &RgbImage,
        class: usize,
    ) -> Result<(Vec<f32>, Array2<f32>)> {
        let parts = self.guided.as_ref().ok_or_else(|| {
            Error::Config("a class-conditioned separation model needs no frame: use separate_class".into())
        })?;
        let name = self.classes.get(class).ok_or_else(|| {
            Error::Config(format!("class {class} out of range ({} classes)", self.classes.len()))
        })?;
        let guide_class = parts
            .guide_class(name)
            .ok_or_else(|| Error::Config(format!("the guide does not know '{name}'")))?;
        let rate = self.mixer.config().sample_rate;
        let guidance = parts.guidance(image, mixture, rate, guide_class, &self.device)?;
        let mut out = separate(&self.net, &self.mixer, mixture, rate, &[guidance], &self.device)?;
        let samples = out.sources.pop().unwrap_or_default();
        let mask = out.masks.pop().unwrap_or_else(|| Array2::zeros((0, 0)));
        Ok((samples, mask))
    }
}
