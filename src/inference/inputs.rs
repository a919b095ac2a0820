//! What a model folder says about its inputs (`inputs.json`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inference::hearing::SilenceRule;
use crate::model::{ClassCombine, LocalizeConfig, MapSource};
use crate::preprocess::AudioWindow;

/// The file of a model folder that holds its [`InputSpec`].
pub const INPUTS_FILE: &str = "inputs.json";

/// How a model's inputs are made and what its outputs mean; stored as `inputs.json` beside
/// `model.bpk` and `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Frames are resized to `image_size x image_size` pixels (256 in the paper).
    pub image_size: u32,
    /// The class names, in the order of the model's outputs.
    pub class_names: Vec<String>,
    /// Which part of a clip the model hears.
    #[serde(default)]
    pub audio: AudioWindow,
    /// When a clip counts as holding no sounding object (default: only digital silence and
    /// near-silence, below -60 dBFS, until a confidence threshold is calibrated).
    #[serde(default)]
    pub silence: SilenceRule,
    /// The per-class maps [`crate::inference::Localizer`] draws by default (default
    /// [`MapSource::Alignment`], Eq. 8), chosen per model on validation scenes: the shipped
    /// localization model uses [`MapSource::AlignmentCentred`] (docs/results.md §9.9).
    #[serde(default)]
    pub maps: MapSource,
    /// How [`crate::inference::Localizer`] combines the heard classes' maps into one (default
    /// [`ClassCombine::WeightedMean`], the paper's), chosen per model on validation scenes:
    /// the shipped localization model uses [`ClassCombine::PeakMax`] (docs/results.md §9.11).
    #[serde(default)]
    pub combine: ClassCombine,
}

impl InputSpec {
    /// The localization settings this folder names: its map source and class combination,
    /// the rest as [`LocalizeConfig::default`].
    pub fn localize_config(&self) -> LocalizeConfig {
        LocalizeConfig { source: self.maps, combine: self.combine, ..LocalizeConfig::default() }
    }

    /// Reads `dir/inputs.json`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] when the file is missing or invalid.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let path = dir.join(INPUTS_FILE);
        if !path.is_file() {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                detail: format!(
                    "has no {INPUTS_FILE} (frame size and class names of the model); model folders written by \
                     `flickr_localize train` have one"
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let spec: Self = serde_json::from_str(&text)
            .map_err(|e| Error::Checkpoint { path: path.clone(), detail: e.to_string() })?;
        spec.validate().map_err(|detail| Error::Checkpoint { path, detail })?;
        Ok(spec)
    }

    /// Writes `dir/inputs.json` (atomically), creating `dir`.
    ///
    /// # Errors
    /// [`Error::Data`] / [`Error::Io`] when it cannot be written.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(av_data::files::write_json(&dir.join(INPUTS_FILE), self)?)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.image_size < 16 {
            return Err(format!("image_size {} is under 16 pixels", self.image_size));
        }
        if self.class_names.is_empty() {
            return Err("no class names".into());
        }
        Ok(())
    }
}
