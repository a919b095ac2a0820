//! [`Localizer`]: a trained model folder -> named per-class maps of one's own image and clip.

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::inference::hearing::Hearing;
use crate::inference::inputs::InputSpec;
use crate::model::to_vec;
use crate::model::{AvFeatures, AvModel, LocalizeConfig};
use crate::overlay::{overlay, save_png};
use crate::preprocess::{AudioPreprocess, AudioWindow, frame_tensor, logmel_tensor, model_frame};
use crate::train::load_model;

/// A trained model with everything needed to feed it: frame side, class names, audio window.
///
/// ```no_run
/// let sounds = av_align::Localizer::from_dir("assets/checkpoints/flickr_broad")?
///     .localize_files("frame.jpg", "clip.wav")?;
/// for class in sounds.ranked().iter().take(3) {
///     println!("{}: p = {:.2}", class.name, class.audio_prob);
/// }
/// # Ok::<(), av_align::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Localizer {
    model: AvModel,
    inputs: InputSpec,
    audio: AudioPreprocess,
    config: LocalizeConfig,
    device: Device,
}

impl Localizer {
    /// Loads a model folder (`model.bpk`, `model.json`, `inputs.json`) onto the device that
    /// [`crate::select_device`] picks.
    ///
    /// # Errors
    /// [`Error::Device`], and as [`Localizer::from_dir_on`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let device = crate::select_device()?;
        Self::from_dir_on(dir, &device)
    }

    /// Loads a model folder onto `device`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] for a missing or invalid `inputs.json`, [`Error::Backbone`] for
    /// missing or mismatched weights, [`Error::Config`] when the class names do not match the
    /// model.
    pub fn from_dir_on(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let inputs = InputSpec::load(dir)?;
        let (model, _) = load_model(dir, device)?;
        Self::new(model, inputs, device)
    }

    /// Wraps a model (e.g. one just trained) with its input description.
    ///
    /// # Errors
    /// [`Error::Config`] when the model has another class count than `inputs.class_names`.
    pub fn new(model: AvModel, inputs: InputSpec, device: &Device) -> Result<Self> {
        if model.num_classes() != inputs.class_names.len() {
            return Err(Error::Config(format!(
                "the model has {} classes, its input description names {}",
                model.num_classes(),
                inputs.class_names.len()
            )));
        }
        let audio = AudioPreprocess::new(inputs.audio)?;
        let config = inputs.localize_config();
        Ok(Self { model, inputs, audio, config, device: device.clone() })
    }

    /// Map source, class mixing and validity threshold (default: [`LocalizeConfig::default`]
    /// with the model folder's [`InputSpec::maps`] and [`InputSpec::combine`]); its `output_size` is ignored (maps come at
    /// the image's size).
    pub fn with_config(mut self, config: LocalizeConfig) -> Self {
        self.config = config;
        self
    }

    /// Hears another part of each clip than the model folder says (e.g. the SoundNet-Flickr
    /// test protocol's whole clip).
    pub fn with_audio_window(mut self, window: AudioWindow) -> Self {
        self.audio = self.audio.with_window(window);
        self
    }

    /// The model.
    pub fn model(&self) -> &AvModel {
        &self.model
    }

    /// Frame side, class names, audio window.
    pub fn inputs(&self) -> &InputSpec {
        &self.inputs
    }

    /// The maps it draws: map source, class mixing and combination, validity threshold (the
    /// model folder's choice, or what [`Localizer::with_config`] set).
    pub fn config(&self) -> &LocalizeConfig {
        &self.config
    }

    /// The audio preprocessing in use.
    pub fn audio(&self) -> &AudioPreprocess {
        &self.audio
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Localizes the sounds of an image file and an audio file (any size; WAV, FLAC, MP3,
    /// OGG/Vorbis, MP4/AAC).
    ///
    /// # Errors
    /// [`Error::Data`] / [`Error::Audio`] naming an unreadable file; model errors.
    pub fn localize_files(&self, image: impl AsRef<Path>, audio: impl AsRef<Path>) -> Result<SoundMap> {
        let image = av_data::image_io::load_rgb(image)?;
        let audio = av_audio::load_mono(audio.as_ref())?;
        self.localize(&image, &audio.samples, audio.sample_rate)
    }

    /// Localizes the sounds of an image and a clip (`samples` mono at `sample_rate` Hz).
    ///
    /// # Errors
    /// [`Error::Audio`] for an empty or non-finite clip or a zero rate; model errors.
    pub fn localize(&self, image: &RgbImage, samples: &[f32], sample_rate: u32) -> Result<SoundMap> {
        let (waveform, level) = self.audio.waveform_and_level(samples, sample_rate)?;
        let logmel = self.audio.logmel_of_waveform(&waveform)?;
        self.localize_heard(image, &logmel, map_size(image), Some(level))
    }

    /// Localizes with a log-mel already computed (by [`Self::audio`]); maps at the image's size.
    /// Without the waveform, only the confidence gate of the [`crate::inference::SilenceRule`] applies.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite log-mel; model errors.
    pub fn localize_logmel(&self, image: &RgbImage, logmel: &Array2<f32>) -> Result<SoundMap> {
        self.localize_logmel_at(image, logmel, map_size(image))
    }

    /// As [`Self::localize_logmel`], with the maps at `[height, width]` (e.g. the model's own
    /// frame side, as the SoundNet-Flickr protocol scores them).
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite log-mel, [`Error::Config`] for a zero size; model
    /// errors.
    pub fn localize_logmel_at(
        &self,
        image: &RgbImage,
        logmel: &Array2<f32>,
        size: [usize; 2],
    ) -> Result<SoundMap> {
        self.localize_heard(image, logmel, size, None)
    }

    fn localize_heard(
        &self,
        image: &RgbImage,
        logmel: &Array2<f32>,
        [height, width]: [usize; 2],
        level_dbfs: Option<f32>,
    ) -> Result<SoundMap> {
        if height == 0 || width == 0 {
            return Err(Error::Config(format!("map size {height} x {width} is empty")));
        }
        let features = self.features(image, logmel)?;
        let config = LocalizeConfig { output_size: Some([height, width]), ..self.config };
        let loc = self.model.localize(&features, &config)?;
        let agnostic = to_vec(loc.agnostic)?;
        let per_class = to_vec(loc.per_class)?;
        let audio_probs = to_vec(loc.audio_probs)?;
        let visual_probs = to_vec(loc.visual_probs)?;
        let plane = height * width;
        let valid = loc.valid.into_iter().next().unwrap_or_default();
        let classes = self
            .inputs
            .class_names
            .iter()
            .enumerate()
            .map(|(c, name)| ClassMap {
                index: c,
                name: name.clone(),
                audio_prob: audio_probs.get(c).copied().unwrap_or(0.0),
                visual_prob: visual_probs.get(c).copied().unwrap_or(0.0),
                in_mixture: valid.get(c).copied().unwrap_or(false),
                map: per_class.get(c * plane..(c + 1) * plane).map(<[f32]>::to_vec).unwrap_or_default(),
            })
            .collect();
        let confidence = audio_probs.iter().copied().fold(0.0f32, f32::max);
        let hearing = self.inputs.silence.judge(confidence, level_dbfs);
        Ok(SoundMap { width: width as u32, height: height as u32, agnostic, classes, hearing })
    }

    /// The model's features of one image and log-mel (the image goes through
    /// [`model_frame`]): the building block of the other calls.
    ///
    /// # Errors
    /// [`Error::NonFinite`] for a non-finite log-mel; model errors.
    pub fn features(&self, image: &RgbImage, logmel: &Array2<f32>) -> Result<AvFeatures> {
        let frame = model_frame(image, self.inputs.image_size);
        self.model.features(frame_tensor(&frame, &self.device), logmel_tensor(logmel, &self.device)?)
    }
}

/// The sounds of one image and clip.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundMap {
    /// Map width in pixels: the image's, or less when its longer side exceeds
    /// [`MAX_MAP_SIDE`].
    pub width: u32,
    /// Map height in pixels.
    pub height: u32,
    /// Where anything sounds: the per-class maps mixed by the audio probabilities, divided by
    /// its maximum; `height x width` row-major values in `[0, 1]`.
    pub agnostic: Vec<f32>,
    /// Every class of the model, in the model's order.
    pub classes: Vec<ClassMap>,
    /// Whether anything the model knows sounds in the clip (the model folder's
    /// [`crate::inference::SilenceRule`]); when not, the maps mean nothing and should not be drawn.
    pub hearing: Hearing,
}

/// One class of a [`SoundMap`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMap {
    /// Index in the model's classes.
    pub index: usize,
    /// Class name.
    pub name: String,
    /// Probability that the clip holds this class's sound (`σ(logit_a)`).
    pub audio_prob: f32,
    /// Probability that the image shows this class (`σ(logit_v)`).
    pub visual_prob: f32,
    /// Whether the class entered the class-agnostic map (audio probability above the
    /// threshold, or the most probable class).
    pub in_mixture: bool,
    /// Where this class's sound comes from (Eq. 8 by default: cosine of the class's audio
    /// embedding with the visual feature at each position, in `[0, 1]`); `height x width`.
    pub map: Vec<f32>,
}

impl SoundMap {
    /// The classes by decreasing audio probability.
    pub fn ranked(&self) -> Vec<&ClassMap> {
        let mut order: Vec<&ClassMap> = self.classes.iter().collect();
        order.sort_by(|a, b| b.audio_prob.total_cmp(&a.audio_prob));
        order
    }

    /// The class of this name (ASCII case ignored).
    pub fn class(&self, name: &str) -> Option<&ClassMap> {
        self.classes.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The class-agnostic map blended over `image` (resized to the image when sizes differ).
    ///
    /// # Errors
    /// [`Error::Data`] as [`crate::overlay::overlay`] (a map of another size, NaN values).
    pub fn overlay(&self, image: &RgbImage) -> Result<RgbImage> {
        Ok(overlay(image, &self.agnostic, self.width as usize, self.height as usize, 0.6)?)
    }

    /// One class's map, divided by its own maximum, blended over `image`.
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown class name; as [`Self::overlay`].
    pub fn class_overlay(&self, image: &RgbImage, name: &str) -> Result<RgbImage> {
        let class = self.class(name).ok_or_else(|| Error::Config(format!("no class named '{name}'")))?;
        let peak = class.map.iter().fold(0.0f32, |a, &b| a.max(b));
        let shown: Vec<f32> = class.map.iter().map(|&v| if peak > 0.0 { v / peak } else { 0.0 }).collect();
        Ok(overlay(image, &shown, self.width as usize, self.height as usize, 0.6)?)
    }

    /// Reads an image file, blends the class-agnostic map over it and saves the PNG at `out`.
    ///
    /// # Errors
    /// [`Error::Data`] for an unreadable image or a PNG that cannot be written.
    pub fn overlay_file(&self, image: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<()> {
        let image = av_data::image_io::load_rgb(image)?;
        Ok(save_png(out, &self.overlay(&image)?)?)
    }
}

/// The longest side of the maps [`Localizer::localize`] returns: maps come at the image's size,
/// scaled down (keeping the aspect ratio) when its longer side exceeds this, so memory stays
/// bounded for any photo (15 maps of a 40-megapixel image would take 2.4 GB); overlays are
/// drawn at the full image size.
pub const MAX_MAP_SIDE: u32 = 1024;

/// `[height, width]` of the maps of `image` (see [`MAX_MAP_SIDE`]).
fn map_size(image: &RgbImage) -> [usize; 2] {
    let (w, h) = image.dimensions();
    let long = w.max(h).max(1);
    if long <= MAX_MAP_SIDE {
        return [h as usize, w as usize];
    }
    let scale = f64::from(MAX_MAP_SIDE) / f64::from(long);
    let side = |x: u32| ((f64::from(x) * scale).round() as usize).max(1);
    [side(h), side(w)]
}
