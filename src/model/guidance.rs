//! What the coarse-to-fine model hands a sound separator for one source of a known class: the
//! vectors of Table 3's guidance variants (paper §3.3, §4.4) and the maps they come from.
//!
//! For source `i` of class `c` (its frame and the *mixture* audio through the model):
//! * **visual** `f_v^c`: Eq. 5 pooling of `F_v` with the localization map `K^c` (Eq. 8); when
//!   `K^c` is all zeros (the audio branch hears no `c`, so `g_a^c = 0`), pooled with the visual
//!   class map `W_v^c` instead, and uniformly when that is empty too;
//! * **audio** `f_a^c`: Eq. 5 pooling of `F_a` with the audio class map `W_a^c` (uniformly when it
//!   is all zeros);
//! * **whole frame**: the max over positions of `F_v` (Sound-of-Pixels' frame vector).

use av_alignment::{PoolNormalization, class_aware_pool};
use burn::tensor::{Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::to_vec;
use crate::model::{AvFeatures, AvModel, MapSource};

/// The guide's output for one source (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassGuidance {
    /// `f_v^c`, `D` values.
    pub visual: Vec<f32>,
    /// `f_a^c`, `D` values.
    pub audio: Vec<f32>,
    /// Max over positions of `F_v`, `D` values.
    pub whole_frame: Vec<f32>,
    /// `K^c` at feature resolution, row-major `loc_size[0] x loc_size[1]`.
    pub localization: Vec<f32>,
    /// `[h, w]` of [`Self::localization`].
    pub loc_size: [usize; 2],
    /// `W_a^c` at feature resolution, row-major `audio_map_size[0] x audio_map_size[1]`
    /// (time cells x mel cells).
    pub audio_map: Vec<f32>,
    /// `[ta, fa]` of [`Self::audio_map`].
    pub audio_map_size: [usize; 2],
    /// Whether `K^c` was all zeros (the visual vector then used `W_v^c` or uniform weights).
    pub fallback_visual: bool,
    /// Whether `W_a^c` was all zeros (uniform weights for the audio vector).
    pub fallback_audio: bool,
}

impl AvModel {
    /// The guidance of each element `i` of a batch for its class `classes[i]`.
    ///
    /// # Shapes
    /// `features` of a batch of `N`; `classes` of length `N`, each below the class count.
    ///
    /// # Errors
    /// [`Error::Config`] for a class count mismatch or a class out of range; model errors.
    pub fn class_guidance(&self, features: &AvFeatures, classes: &[usize]) -> Result<Vec<ClassGuidance>> {
        let c = self.num_classes();
        let [n, d, h, w] = features.f_v.dims();
        let [_, _, ta, fa] = features.f_a.dims();
        if classes.len() != n || classes.iter().any(|&k| k >= c) {
            return Err(Error::Config(format!(
                "{} classes for a batch of {n} (each below {c}): {classes:?}",
                classes.len()
            )));
        }
        let device = features.f_v.device();
        let loc = to_vec(self.class_localization_maps(features, MapSource::Alignment)?)?; // [n, C, h, w]
        let wa = to_vec(self.class_maps(features.f_a.clone(), false)?)?; // [n, C, ta, fa]
        let wv = to_vec(self.class_maps(features.f_v.clone(), true)?)?; // [n, C, h, w]
        let plane = |maps: &[f32], i: usize, len: usize| -> Vec<f32> {
            let k = classes[i];
            maps[(i * c + k) * len..(i * c + k + 1) * len].to_vec()
        };
        let is_empty = |x: &[f32]| x.iter().sum::<f32>() <= 0.0;
        let mut visual_weights = Vec::with_capacity(n * h * w);
        let mut audio_weights = Vec::with_capacity(n * ta * fa);
        let mut fallbacks = Vec::with_capacity(n);
        for i in 0..n {
            let (k, wvc, wac) = (plane(&loc, i, h * w), plane(&wv, i, h * w), plane(&wa, i, ta * fa));
            let fb_v = is_empty(&k);
            let fb_a = is_empty(&wac);
            visual_weights.extend(if !fb_v {
                k
            } else if !is_empty(&wvc) {
                wvc
            } else {
                vec![1.0; h * w]
            });
            audio_weights.extend(if fb_a { vec![1.0; ta * fa] } else { wac });
            fallbacks.push((fb_v, fb_a));
        }
        let visual_weights = Tensor::<4>::from_data(TensorData::new(visual_weights, [n, 1, h, w]), &device);
        let audio_weights = Tensor::<4>::from_data(TensorData::new(audio_weights, [n, 1, ta, fa]), &device);
        let visual =
            to_vec(class_aware_pool(features.f_v.clone(), visual_weights, PoolNormalization::WeightedMean)?)?;
        let audio =
            to_vec(class_aware_pool(features.f_a.clone(), audio_weights, PoolNormalization::WeightedMean)?)?;
        let f_v = to_vec(features.f_v.clone())?;
        Ok((0..n)
            .map(|i| {
                let fv = &f_v[i * d * h * w..(i + 1) * d * h * w];
                let whole_frame = (0..d)
                    .map(|ch| fv[ch * h * w..(ch + 1) * h * w].iter().copied().fold(f32::MIN, f32::max))
                    .collect();
                let (fallback_visual, fallback_audio) = fallbacks[i];
                ClassGuidance {
                    visual: visual[i * d..(i + 1) * d].to_vec(),
                    audio: audio[i * d..(i + 1) * d].to_vec(),
                    whole_frame,
                    localization: plane(&loc, i, h * w),
                    loc_size: [h, w],
                    audio_map: plane(&wa, i, ta * fa),
                    audio_map_size: [ta, fa],
                    fallback_visual,
                    fallback_audio,
                }
            })
            .collect())
    }
}
