//! AVE cross-modal localization: A2V and V2A accuracy with the sliding-window search of the
//! MSSL supplement (Eq. 1 there).
//!
//! # Protocol
//! An AVE video has `T` one-second segments (T = 10), of which the annotated event covers the
//! segments `seg = [s_0, ..., s_{l-1}]` (ascending). Following the protocol of Tian et al.
//! (ECCV 2018, `YapengTian/AVE-ECCV18` `cmm_test.py`) that the supplement adopts:
//! * Only videos whose event is shorter than the video are used (videos with `l = T` are skipped;
//!   `cmm_test.py`: `if np.sum(x_test) == 10: continue`).
//! * **A2V** (visual localization from audio): the query is the event's audio `Â = A[seg]`;
//!   for every start `t = 0 ..= T − l`, `S(t) = Σ_{i<l} f(V[t + i], Â_i)` and
//!   `t* = argmin_t S(t)` (Eq. 1 of the supplement; `f` is a distance, lower = more
//!   corresponding). **V2A**: the query is `V[seg]`, `S(t) = Σ_i f(V̂_i, A[t + i])`.
//! * "Strict" accuracy: a video counts as correct only when `t*` equals the true start `s_0`
//!   exactly; accuracy = correct / evaluated videos. Ties go to the earliest start (`np.argmin`).
//!
//! The correspondence `f(visual segment, audio segment)` is the caller's (a model's distance, or
//! a negated similarity with [`ScoreOrder::HigherIsBetter`]). Window sums are taken in `f64`
//! (the reference sums `float32` network outputs).

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result};

/// Whether a lower or a higher correspondence score means "these segments belong together".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ScoreOrder {
    /// Distances: the window with the smallest sum wins (Eq. 1's `argmin`).
    #[default]
    LowerIsBetter,
    /// Similarities: the window with the largest sum wins.
    HigherIsBetter,
}

/// Which modality is localized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrossModalTask {
    /// Audio query, search over the visual segments.
    A2V,
    /// Visual query, search over the audio segments.
    V2A,
}

/// Result of the sliding-window search on one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPrediction {
    /// Predicted start segment `t*`.
    pub predicted_start: usize,
    /// True start `s_0`.
    pub true_start: usize,
    /// `predicted_start == true_start`.
    pub correct: bool,
    /// Window sums `S(t)`, `t = 0 ..= T − l`.
    pub window_scores: Vec<f64>,
}

/// Sliding-window search of one video.
///
/// `event[k]` tells whether segment `k` is part of the event; `score(v, a)` is the
/// correspondence between visual segment `v` and audio segment `a`.
///
/// # Errors
/// [`MetricsError::Empty`] when no segment is an event, [`MetricsError::NonFinite`] for a NaN
/// or infinite score.
pub fn sliding_window_localize(
    event: &[bool],
    task: CrossModalTask,
    order: ScoreOrder,
    mut score: impl FnMut(usize, usize) -> f64,
) -> Result<WindowPrediction> {
    const OP: &str = "sliding_window_localize";
    let seg: Vec<usize> = (0..event.len()).filter(|&k| event[k]).collect();
    let l = seg.len();
    if l == 0 {
        return Err(MetricsError::Empty { op: OP, what: "event segments of the video" });
    }
    let t_max = event.len() - l;
    let mut window_scores = Vec::with_capacity(t_max + 1);
    for t in 0..=t_max {
        let mut s = 0.0;
        for (i, &q) in seg.iter().enumerate() {
            let v = match task {
                CrossModalTask::A2V => score(t + i, q),
                CrossModalTask::V2A => score(q, t + i),
            };
            if !v.is_finite() {
                return Err(MetricsError::NonFinite {
                    op: OP,
                    what: "correspondence score",
                    index: t,
                    value: v,
                });
            }
            s += v;
        }
        window_scores.push(s);
    }
    let mut best = 0;
    for (t, &s) in window_scores.iter().enumerate() {
        let better = match order {
            ScoreOrder::LowerIsBetter => s < window_scores[best],
            ScoreOrder::HigherIsBetter => s > window_scores[best],
        };
        if better {
            best = t;
        }
    }
    Ok(WindowPrediction { predicted_start: best, true_start: seg[0], correct: best == seg[0], window_scores })
}

/// One test video with its full segment-by-segment score matrix.
///
/// # Shapes
/// `event`: `T`; `scores`: `T x T` row-major, `scores[v * T + a] = f(V_v, A_a)`.
#[derive(Debug, Clone, Copy)]
pub struct AveVideoScores<'a> {
    /// Event flag of each segment.
    pub event: &'a [bool],
    /// Correspondence between every visual and audio segment.
    pub scores: &'a [f64],
}

/// A2V and V2A results of a test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossModalSummary {
    /// A2V strict accuracy (fraction of evaluated videos).
    pub a2v_accuracy: f64,
    /// V2A strict accuracy.
    pub v2a_accuracy: f64,
    /// Number of videos evaluated.
    pub evaluated: usize,
    /// Videos skipped because the event covers every segment.
    pub skipped_full_length: usize,
    /// Per video, A2V prediction (`None` when skipped).
    pub a2v: Vec<Option<WindowPrediction>>,
    /// Per video, V2A prediction (`None` when skipped).
    pub v2a: Vec<Option<WindowPrediction>>,
}

/// A2V and V2A accuracy over `videos` (see the module documentation for the protocol).
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] when a score matrix is not `T x T`, [`MetricsError::Empty`]
/// when a video has no event segment or no video is evaluated, [`MetricsError::NonFinite`] for
/// a NaN score.
pub fn evaluate_cross_modal(videos: &[AveVideoScores<'_>], order: ScoreOrder) -> Result<CrossModalSummary> {
    let mut a2v = Vec::with_capacity(videos.len());
    let mut v2a = Vec::with_capacity(videos.len());
    let (mut hits_a2v, mut hits_v2a, mut evaluated, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    for (i, v) in videos.iter().enumerate() {
        let t = v.event.len();
        if v.scores.len() != t * t {
            return Err(MetricsError::ShapeMismatch {
                op: "evaluate_cross_modal",
                expected: format!("{t}x{t} scores for video {i}"),
                actual: format!("{} values", v.scores.len()),
            });
        }
        if v.event.iter().all(|&e| e) && t > 0 {
            skipped += 1;
            a2v.push(None);
            v2a.push(None);
            continue;
        }
        let f = |vis: usize, aud: usize| v.scores[vis * t + aud];
        let pa = sliding_window_localize(v.event, CrossModalTask::A2V, order, f)?;
        let pv = sliding_window_localize(v.event, CrossModalTask::V2A, order, f)?;
        hits_a2v += usize::from(pa.correct);
        hits_v2a += usize::from(pv.correct);
        evaluated += 1;
        a2v.push(Some(pa));
        v2a.push(Some(pv));
    }
    if evaluated == 0 {
        return Err(MetricsError::Empty { op: "evaluate_cross_modal", what: "videos with a short event" });
    }
    Ok(CrossModalSummary {
        a2v_accuracy: hits_a2v as f64 / evaluated as f64,
        v2a_accuracy: hits_v2a as f64 / evaluated as f64,
        evaluated,
        skipped_full_length: skipped,
        a2v,
        v2a,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance = |v − a| shifted so that visual segment v matches audio segment v + shift.
    fn matrix(t: usize, shift: isize) -> Vec<f64> {
        (0..t * t)
            .map(|k| {
                let (v, a) = ((k / t) as isize, (k % t) as isize);
                (v + shift - a).abs() as f64
            })
            .collect()
    }

    #[test]
    fn hand_computed_windows() {
        // T = 5, event on segments 1..=2, perfect synchrony: both tasks find start 1.
        let event = [false, true, true, false, false];
        let m = matrix(5, 0);
        let f = |v: usize, a: usize| m[v * 5 + a];
        let p =
            sliding_window_localize(&event, CrossModalTask::A2V, ScoreOrder::LowerIsBetter, f).expect("a2v");
        // S(t) = |t - 1| + |t + 1 - 2| = 2|t - 1| for t = 0..=3.
        assert_eq!(p.window_scores, vec![2.0, 0.0, 2.0, 4.0]);
        assert!(p.correct);
        // Audio lags vision by one segment (visual v matches audio v + 1): A2V finds the visual
        // window starting at 0, V2A the audio window at 2; both are wrong in the strict sense.
        let m = matrix(5, 1);
        let f = |v: usize, a: usize| m[v * 5 + a];
        let a2v =
            sliding_window_localize(&event, CrossModalTask::A2V, ScoreOrder::LowerIsBetter, f).expect("a2v");
        let v2a =
            sliding_window_localize(&event, CrossModalTask::V2A, ScoreOrder::LowerIsBetter, f).expect("v2a");
        assert_eq!((a2v.predicted_start, v2a.predicted_start), (0, 2));
        assert!(!a2v.correct && !v2a.correct);
        // Similarities: negate and flip the order, same answer.
        let g = |v: usize, a: usize| -m[v * 5 + a];
        let s =
            sliding_window_localize(&event, CrossModalTask::V2A, ScoreOrder::HigherIsBetter, g).expect("v2a");
        assert_eq!(s.predicted_start, 2);
    }

    #[test]
    fn accuracy_skips_full_length_and_rejects_bad_input() {
        let short = [false, true, true, false, false];
        let full = [true; 5];
        let sync = matrix(5, 0);
        let lag = matrix(5, 1);
        let videos = [
            AveVideoScores { event: &short, scores: &sync },
            AveVideoScores { event: &short, scores: &lag },
            AveVideoScores { event: &full, scores: &sync },
        ];
        let s = evaluate_cross_modal(&videos, ScoreOrder::LowerIsBetter).expect("summary");
        assert_eq!((s.evaluated, s.skipped_full_length), (2, 1));
        assert_eq!((s.a2v_accuracy, s.v2a_accuracy), (0.5, 0.5));
        assert!(s.a2v[2].is_none());

        let none = [false; 5];
        let e = evaluate_cross_modal(
            &[AveVideoScores { event: &none, scores: &sync }],
            ScoreOrder::LowerIsBetter,
        );
        assert!(matches!(e, Err(MetricsError::Empty { .. })));
        let e = evaluate_cross_modal(
            &[AveVideoScores { event: &short, scores: &sync[..24] }],
            ScoreOrder::LowerIsBetter,
        );
        assert!(matches!(e, Err(MetricsError::ShapeMismatch { .. })));
        let mut nan = sync.clone();
        nan[6] = f64::NAN;
        let e = evaluate_cross_modal(
            &[AveVideoScores { event: &short, scores: &nan }],
            ScoreOrder::LowerIsBetter,
        );
        assert!(matches!(e, Err(MetricsError::NonFinite { .. })));
    }
}
