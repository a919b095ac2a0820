//! [`SeparationModel`]: a trained class-conditioned separation network (Sound-of-Pixels' U-Net +
//! synthesizer, steered by a one-hot class vector), as written by `music_separation stream`: a
//! folder with `model.bpk` + `model.json` (weights and [`SeparationNetConfig`]) and
//! [`CLASSES_FILE`] (the class names, index = one-hot channel).

use std::path::Path;

use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights};
use av_separation::{Guidance, MixConfig, Mixer, SeparationNet, SeparationNetConfig, separate};
use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array2;

use crate::error::{Error, Result};

/// The class-name file of a separation model folder (a JSON array of names).
pub const CLASSES_FILE: &str = "classes.json";

/// The file that marks a model folder of a *guided* separator (U-Net + the projection of a
/// localization model's vectors, written by `music_separation stream --guide`): the
/// per-channel statistics of the guide's vectors.
pub const GUIDED_MARKER_FILE: &str = "guide_stats.json";

/// A loaded class-conditioned separation network.
#[derive(Debug, Clone)]
pub struct SeparationModel {
    net: SeparationNet,
    classes: Vec<String>,
    mixer: Mixer,
    device: Device,
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
        if dir.join(GUIDED_MARKER_FILE).is_file() {
            return Err(Error::Config(format!(
                "{} holds a separator guided by a localization model's vectors (it has {}); \
                 SeparationModel takes class-conditioned models such as assets/checkpoints/separation_oracle",
                dir.display(),
                GUIDED_MARKER_FILE
            )));
        }
        let config: SeparationNetConfig = load_checkpoint_config(dir, "model")?;
        let net = load_checkpoint_weights(config.init(device)?, dir, "model")?;
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
        let mixer = Mixer::new(MixConfig::sound_of_pixels().with_mask(config.mask))?;
        Ok(Self { net, classes, mixer, device: device.clone() })
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
        let mut v = vec![0.0f32; k];
        v[class] = 1.0;
        let guidance = [Guidance::Vector(Tensor::from_data(TensorData::new(v, [1, k]), &self.device))];
        let rate = self.mixer.config().sample_rate;
        let mut out = separate(&self.net, &self.mixer, mixture, rate, &guidance, &self.device)?;
        let samples = out.sources.pop().unwrap_or_default();
        let mask = out.masks.pop().unwrap_or_else(|| Array2::zeros((0, 0)));
        Ok((samples, mask))
    }
}
