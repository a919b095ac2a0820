//! [`Separator`]: one's own image + mixture -> the sound of a chosen object, as samples or WAV.
//!
//! The guide (a [`Localizer`]) turns the choice into a class: a class name, or a point on the
//! image (the class whose Eq. 8 localization map is highest there). Then:
//! * with a trained [`SeparationModel`] ([`Separator::with_model`]; the example
//!   `music_separation --image --audio` loads the shipped one by default) the class-conditioned
//!   U-Net extracts that class ([`SeparationMethod::ClassConditioned`]); every class the model
//!   knows can be named, also those the guide does not know;
//! * without one, the untrained Grad-CAM variant of the paper's Table 3: the guide's audio class
//!   map of the chosen class, resampled onto Sound-of-Pixels' warped spectrogram grid
//!   ([`av_separation::cam_to_grid`]), is the mask (binarised at 0.5 after unwarping)
//!   ([`SeparationMethod::GradCamMask`]).
//!
//! The mixture's phase is kept. The guide hears the first 5 s at 22 050 Hz; separation runs on
//! the first 65 535 samples at 11 025 Hz (Sound-of-Pixels' format).

use std::path::Path;

use av_audio::{Audio, ClipPolicy, fit_clip, resample, write_wav_f32};
use av_separation::{MixConfig, Mixer, SOP_SAMPLE_RATE, cam_to_grid};
use burn::tensor::activation::sigmoid;
use image::RgbImage;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::inference::localizer::Localizer;
use crate::inference::separation_model::SeparationModel;
use crate::model::MapSource;
use crate::model::to_vec;

/// Which source of a mixture to separate.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChoice {
    /// A class of the guide's vocabulary, by name (ASCII case ignored, e.g. `"violin"`).
    Class(String),
    /// The object at this pixel of the image (`x`, `y` in the image's own pixels): the class
    /// whose Eq. 8 localization map is highest there.
    Point(u32, u32),
}

/// How a source was separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeparationMethod {
    /// The trained class-conditioned U-Net of a [`SeparationModel`].
    ClassConditioned,
    /// The guide's audio class map used as the mask (untrained; Table 3's "Ours Grad-CAM").
    GradCamMask,
    /// The trained U-Net of a guided [`SeparationModel`], steered by this vector of its guide
    /// (Table 3's "Ours Visual" / "Ours Audio" / the whole-frame baseline).
    Guided(av_separation::GuidanceKind),
}

/// One separated source.
#[derive(Debug, Clone, PartialEq)]
pub struct SeparatedSource {
    /// The class separated: index in the guide's vocabulary (`None` for a class only the
    /// separation model knows, chosen by name).
    pub class: Option<usize>,
    /// How it was separated.
    pub method: SeparationMethod,
    /// Its name.
    pub name: String,
    /// The guide's audio probability of the class (0 for a class the guide does not know).
    pub audio_prob: f32,
    /// The source, mono at [`Separated::sample_rate`], as long as the mixture (samples past
    /// the last whole STFT frame are 0).
    pub samples: Vec<f32>,
    /// The mask on the warped grid, `(256, 256)`, rows low to high frequency.
    pub mask: Array2<f32>,
}

/// The result of [`Separator::separate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Separated {
    /// The mixture the sources were taken from (11 025 Hz, 65 535 samples).
    pub mixture: Vec<f32>,
    /// Sample rate of the mixture and the sources (Hz).
    pub sample_rate: u32,
    /// The guide's audio probabilities of every class.
    pub audio_probs: Vec<f32>,
    /// One entry per requested source, in the order asked.
    pub sources: Vec<SeparatedSource>,
}

impl Separated {
    /// What is left of the mixture once `source` is taken out (`mixture - samples`).
    pub fn residual(&self, source: &SeparatedSource) -> Vec<f32> {
        self.mixture.iter().zip(&source.samples).map(|(m, s)| m - s).collect()
    }

    /// Writes each source as `dir/<name>.wav` and the residual of each as
    /// `dir/<name>_residual.wav` (32-bit float WAV); returns the paths written.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Audio`] when a file cannot be written.
    pub fn write_wavs(&self, dir: impl AsRef<Path>) -> Result<Vec<std::path::PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut paths = Vec::new();
        for source in &self.sources {
            for (suffix, samples) in [("", source.samples.clone()), ("_residual", self.residual(source))] {
                let path = dir.join(format!("{}{suffix}.wav", source.name));
                write_wav_f32(&path, &Audio { samples, sample_rate: self.sample_rate })?;
                paths.push(path);
            }
        }
        Ok(paths)
    }
}

/// A guide model (a [`Localizer`]) used to separate the sound of chosen objects.
///
/// ```no_run
/// use av_align::inference::{Separator, SourceChoice};
///
/// let separator = Separator::from_dir("assets/checkpoints/flickr_compact")?;
/// let out = separator.separate_files("duet.jpg", "duet.wav", &[SourceChoice::Class("violin".into())])?;
/// out.write_wavs("separated")?; // separated/violin.wav, separated/violin_residual.wav
/// # Ok::<(), av_align::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Separator {
    guide: Localizer,
    mixer: Mixer,
    model: Option<SeparationModel>,
}

impl Separator {
    /// Loads a guide model folder (as [`Localizer::from_dir`]).
    ///
    /// # Errors
    /// As [`Localizer::from_dir`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        Self::new(Localizer::from_dir(dir)?)
    }

    /// A separator over a loaded guide.
    ///
    /// # Errors
    /// [`Error::Separation`] (never for the built-in Sound-of-Pixels settings).
    pub fn new(guide: Localizer) -> Result<Self> {
        Ok(Self { guide, mixer: Mixer::new(MixConfig::sound_of_pixels())?, model: None })
    }

    /// A separator of a guided model whose own guide (its `guide/` folder) also picks the class
    /// of a clicked point.
    ///
    /// ```no_run
    /// use av_align::inference::{SeparationModel, Separator, SourceChoice};
    ///
    /// let model = SeparationModel::from_dir("assets/checkpoints/separation_audio_guided")?;
    /// let separator = Separator::guided(model)?;
    /// let out = separator.separate_files("duet.jpg", "duet.wav", &[SourceChoice::Point(120, 80)])?;
    /// out.write_wavs("separated")?; // the clicked instrument and its residual
    /// # Ok::<(), av_align::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] for a class-conditioned model (it has no guide: use
    /// [`Self::from_dir`] and [`Self::with_model`]).
    pub fn guided(model: SeparationModel) -> Result<Self> {
        let guide = model
            .guide()
            .cloned()
            .ok_or_else(|| Error::Config("a class-conditioned model has no guide of its own".into()))?;
        Ok(Self::new(guide)?.with_model(model))
    }

    /// Separates with a trained model (class-conditioned or guided) instead of the Grad-CAM mask.
    pub fn with_model(mut self, model: SeparationModel) -> Self {
        self.model = Some(model);
        self
    }

    /// The trained separation model, if any.
    pub fn model(&self) -> Option<&SeparationModel> {
        self.model.as_ref()
    }

    /// The guide.
    pub fn guide(&self) -> &Localizer {
        &self.guide
    }

    /// Separates the chosen sources of an image file and a mixture file.
    ///
    /// # Errors
    /// As [`Self::separate`], and [`Error::Data`] / [`Error::Audio`] for unreadable files.
    pub fn separate_files(
        &self,
        image: impl AsRef<Path>,
        audio: impl AsRef<Path>,
        choices: &[SourceChoice],
    ) -> Result<Separated> {
        let image = av_data::image_io::load_rgb(image)?;
        let audio = av_audio::load_mono(audio.as_ref())?;
        self.separate(&image, &audio.samples, audio.sample_rate, choices)
    }

    /// Separates the chosen sources of `samples` (mono, `sample_rate` Hz) seen with `image`.
    ///
    /// # Errors
    /// [`Error::Config`] for no choice, an unknown class name or a point outside the image;
    /// [`Error::SilentSource`] when a chosen source would come out all zeros (saying why);
    /// audio, model and separation errors.
    pub fn separate(
        &self,
        image: &RgbImage,
        samples: &[f32],
        sample_rate: u32,
        choices: &[SourceChoice],
    ) -> Result<Separated> {
        if choices.is_empty() {
            return Err(Error::Config("no source chosen: give a class name or a point".into()));
        }
        let model = self.guide.model();
        let logmel = self.guide.audio().logmel(samples, sample_rate)?;
        let frames = logmel.dim().0;
        let features = self.guide.features(image, &logmel)?;
        let names = &self.guide.inputs().class_names;
        let audio_probs = to_vec(sigmoid(features.logits_a.clone()))?;
        let cams = model.class_maps(features.f_a.clone(), false)?; // [1, C, ta, fa]
        let [_, c, ta, fa] = cams.dims();
        let cams = to_vec(cams)?;
        let mut point_maps = None;
        let rate = SOP_SAMPLE_RATE;
        let at_rate = resample(samples, sample_rate, rate)?;
        let mixture = fit_clip(&at_rate, self.mixer.config().clip_len, ClipPolicy::default())?;
        // The mixture's STFT for the Grad-CAM mask path (the separation model analyses its own).
        let mut analysed = None;
        let mut sources = Vec::with_capacity(choices.len());
        for choice in choices {
            let (class, name): (Option<usize>, String) = match choice {
                SourceChoice::Class(name) => {
                    let known = names.iter().position(|n| n.eq_ignore_ascii_case(name));
                    let model_knows = self.model.as_ref().and_then(|m| m.class_index(name)).is_some();
                    if known.is_none() && !model_knows {
                        let mut all: Vec<String> = names.clone();
                        if let Some(m) = &self.model {
                            all.extend(m.classes().iter().filter(|c| !names.contains(c)).cloned());
                        }
                        return Err(Error::Config(format!(
                            "unknown class '{name}'; known: {}",
                            all.join(", ")
                        )));
                    }
                    (
                        known,
                        known
                            .and_then(|k| names.get(k).cloned())
                            .unwrap_or_else(|| name.to_ascii_lowercase()),
                    )
                }
                SourceChoice::Point(x, y) => {
                    let (w, h) = image.dimensions();
                    if *x >= w || *y >= h {
                        return Err(Error::Config(format!("point ({x}, {y}) is outside the {w}x{h} image")));
                    }
                    let (v, mh, mw) = match &point_maps {
                        Some(known) => known,
                        None => {
                            let maps = model.class_localization_maps(&features, MapSource::Alignment)?;
                            let [_, _, mh, mw] = maps.dims();
                            &*point_maps.insert((to_vec(maps)?, mh, mw))
                        }
                    };
                    let (mh, mw) = (*mh, *mw);
                    let (px, py) = ((*x as usize * mw) / w as usize, (*y as usize * mh) / h as usize);
                    let k = (0..c)
                        .max_by(|&a, &b| v[(a * mh + py) * mw + px].total_cmp(&v[(b * mh + py) * mw + px]))
                        .unwrap_or(0);
                    (Some(k), names.get(k).cloned().unwrap_or_else(|| format!("class {k}")))
                }
            };
            let audio_prob = class.and_then(|k| audio_probs.get(k).copied()).unwrap_or(0.0);
            let (mut samples, mask, method) = match &self.model {
                Some(sep) => {
                    let k = sep.class_index(&name).ok_or_else(|| {
                        Error::Config(format!(
                            "the separation model does not know '{name}'; it knows: {}",
                            sep.classes().join(", ")
                        ))
                    })?;
                    match sep.guidance_kind() {
                        Some(kind) => {
                            let (samples, mask) = sep.separate_guided(&mixture, image, k)?;
                            (samples, mask, SeparationMethod::Guided(kind))
                        }
                        None => {
                            let (samples, mask) = sep.separate_class(&mixture, k)?;
                            (samples, mask, SeparationMethod::ClassConditioned)
                        }
                    }
                }
                None => {
                    let k = class.unwrap_or(0);
                    let cam = &cams[k * ta * fa..(k + 1) * ta * fa];
                    let mask = cam_to_grid(cam, ta, fa, frames, &self.mixer)?;
                    let input = match &analysed {
                        Some(input) => input,
                        None => &*analysed.insert(self.mixer.analyze(&mixture, rate)?),
                    };
                    (self.mixer.reconstruct(&input.spectra, &mask)?, mask, SeparationMethod::GradCamMask)
                }
            };
            // The inverse STFT covers whole frames (65 280 samples); pad to the mixture's length.
            samples.resize(mixture.len(), 0.0);
            if samples.iter().all(|&v| v == 0.0) {
                let reason = if mixture.iter().all(|&v| v == 0.0) {
                    "the mixture itself is silent".to_string()
                } else if method != SeparationMethod::GradCamMask {
                    format!("the separation model's mask for '{name}' keeps nothing of this mixture")
                } else if mask.iter().all(|&m| m < 0.5) {
                    format!(
                        "the guide's audio map of '{name}' keeps no time-frequency cell (audio probability \
                         {audio_prob:.2}): it hears no {name} in this mixture"
                    )
                } else {
                    "the mask keeps only cells where the mixture has no energy".to_string()
                };
                return Err(Error::SilentSource { class: name, reason });
            }
            sources.push(SeparatedSource { class, method, name, audio_prob, samples, mask });
        }
        Ok(Separated { mixture, sample_rate: rate, audio_probs, sources })
    }
}
