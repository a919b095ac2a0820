//! How much the embeddings Eq. 8 compares tell apart: the per-class audio embeddings of two
//! instruments sounding in one clip, and the visual embeddings of the positions of one frame.
//! Near-identical class embeddings or positions give class-agnostic, frame-wide maps.

use serde::{Deserialize, Serialize};

use av_align::Result;
use av_align::model::AvModel;
use burn::tensor::Device;

use super::generalization::TestSet;
use crate::eval::to_vec;

/// Mean cosines over a test set (every scene counted; NaN where no pair exists).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSpread {
    /// Mean cosine between the audio embeddings `g_a^c`, `g_a^{c'}` of two different classes
    /// sounding in the same clip.
    pub same_clip_classes: f64,
    /// Pairs behind [`EmbeddingSpread::same_clip_classes`].
    pub same_clip_pairs: usize,
    /// Mean cosine between the audio embeddings of the first sounding classes of two clips
    /// of one batch whose classes differ (the reference: unrelated sounds).
    pub other_clips: f64,
    /// Pairs behind [`EmbeddingSpread::other_clips`].
    pub other_clip_pairs: usize,
    /// Mean over frames and positions of the cosine between a position's visual embedding and
    /// the frame's mean embedding (1: every position is the same vector).
    pub positions_to_frame_mean: f64,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
}

/// The [`EmbeddingSpread`] of `model` on `set`, in batches of 16 (the batch also bounds the
/// other-clip pairs).
///
/// # Errors
/// Model errors.
pub fn embedding_spread(model: &AvModel, set: &TestSet, device: &Device) -> Result<EmbeddingSpread> {
    let truths = &set.data.truths;
    let (mut same, mut same_n, mut other, mut other_n, mut spread, mut frames) = (0.0, 0, 0.0, 0, 0.0, 0);
    let indices: Vec<usize> = (0..truths.len()).collect();
    for chunk in indices.chunks(16) {
        let batch = set.data.dataset.batch(chunk, &vec![false; chunk.len()], device)?;
        let features = model.features(batch.frames, batch.logmels)?;
        let audio = model.class_embeddings(&features)?.audio;
        let [_, c, d] = audio.dims();
        let g_a = to_vec(audio)?;
        let positions = model.visual_embedding_map(features.f_v.clone());
        let [_, p, _] = positions.dims();
        let g_v = to_vec(positions)?;
        let class_vec = |k: usize, class: usize| &g_a[(k * c + class) * d..(k * c + class + 1) * d];
        let sounding = |i: usize| -> Vec<usize> {
            truths[i].objects.iter().filter(|o| o.sounding && o.class < c).map(|o| o.class).collect()
        };
        for (k, &i) in chunk.iter().enumerate() {
            let classes = sounding(i);
            for (a, &ca) in classes.iter().enumerate() {
                for &cb in classes[a + 1..].iter().filter(|&&cb| cb != ca) {
                    same += dot(class_vec(k, ca), class_vec(k, cb));
                    same_n += 1;
                }
            }
            let frame = &g_v[k * p * d..(k + 1) * p * d];
            let mut mean = vec![0.0f32; d];
            for position in frame.chunks(d) {
                mean.iter_mut().zip(position).for_each(|(m, v)| *m += v);
            }
            let norm = dot(&mean, &mean).sqrt();
            if norm > 0.0 {
                spread += frame.chunks(d).map(|position| dot(position, &mean) / norm).sum::<f64>() / p as f64;
                frames += 1;
            }
            for (l, &j) in chunk.iter().enumerate().skip(k + 1) {
                if let (Some(&ci), Some(&cj)) = (classes.first(), sounding(j).first())
                    && ci != cj
                {
                    other += dot(class_vec(k, ci), class_vec(l, cj));
                    other_n += 1;
                }
            }
        }
    }
    let mean = |s: f64, n: usize| if n == 0 { f64::NAN } else { s / n as f64 };
    Ok(EmbeddingSpread {
        same_clip_classes: mean(same, same_n),
        same_clip_pairs: same_n,
        other_clips: mean(other, other_n),
        other_clip_pairs: other_n,
        positions_to_frame_mean: mean(spread, frames),
    })
}
