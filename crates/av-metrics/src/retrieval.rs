//! Cross-modal retrieval from embeddings: recall@k and mAP, audio→image and image→audio
//! (the paper's supplement Fig. 5 shows the qualitative version of this protocol).
//!
//! * Similarity: cosine, `⟨a, b⟩ / (max(‖a‖, ε) · max(‖b‖, ε))` with ε = 1e-12 (the
//!   `F.normalize` convention, so a zero embedding has similarity 0 to everything).
//! * Ranking: gallery items by descending similarity, ties by ascending index.
//! * Recall@k: fraction of queries with at least one relevant item among the first `k`.
//! * AP of a query: `Σ_r P@r · rel_r / R` over ranks `r` (R = number of relevant items), equal
//!   to scikit-learn's `average_precision_score(rel, sim)` when no similarities tie; mAP is the
//!   mean over queries.
//! * Queries without any relevant gallery item are skipped and counted.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result, check_finite};

/// Which gallery items are relevant to a query.
#[derive(Debug, Clone, Copy)]
pub enum Relevance<'a> {
    /// Item `i` of one modality belongs with item `i` of the other (paired clips); needs the
    /// same number of audio and image embeddings.
    SameIndex,
    /// Items are relevant when their class labels are equal.
    SameLabel {
        /// Label of each audio embedding.
        audio: &'a [usize],
        /// Label of each image embedding.
        image: &'a [usize],
    },
}

/// Row-major `rows x dim` embeddings.
#[derive(Debug, Clone, Copy)]
pub struct Embeddings<'a> {
    data: &'a [f32],
    rows: usize,
    dim: usize,
}

impl<'a> Embeddings<'a> {
    /// Wraps `data` as `rows x dim`.
    ///
    /// # Errors
    /// [`MetricsError::Empty`] for a zero dimension, [`MetricsError::ShapeMismatch`] for a wrong
    /// length, [`MetricsError::NonFinite`] for a NaN.
    pub fn new(data: &'a [f32], rows: usize, dim: usize) -> Result<Self> {
        const OP: &str = "Embeddings::new";
        if rows == 0 || dim == 0 {
            return Err(MetricsError::Empty { op: OP, what: "embeddings" });
        }
        if data.len() != rows * dim {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{rows}x{dim} values"),
                actual: format!("{} values", data.len()),
            });
        }
        check_finite(OP, "embeddings", data)?;
        Ok(Self { data, rows, dim })
    }

    /// Number of embeddings.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Cosine similarities of every row of `a` with every row of `b`.
///
/// # Shapes
/// Returns `a.rows() x b.rows()`, row-major.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] when the dimensions differ.
pub fn cosine_similarity(a: &Embeddings<'_>, b: &Embeddings<'_>) -> Result<Vec<f64>> {
    if a.dim != b.dim {
        return Err(MetricsError::ShapeMismatch {
            op: "cosine_similarity",
            expected: format!("dimension {}", a.dim),
            actual: format!("dimension {}", b.dim),
        });
    }
    let norm = |x: &[f32]| x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt().max(1e-12);
    let nb: Vec<f64> = (0..b.rows).map(|j| norm(b.row(j))).collect();
    Ok((0..a.rows)
        .into_par_iter()
        .flat_map_iter(|i| {
            let ra = a.row(i);
            let na = norm(ra);
            let nb = &nb;
            (0..b.rows).map(move |j| {
                let dot: f64 = ra.iter().zip(b.row(j)).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
                dot / (na * nb[j])
            })
        })
        .collect())
}

/// Retrieval scores of one direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalSummary {
    /// `(k, recall@k)` for each requested `k`.
    pub recall_at: Vec<(usize, f64)>,
    /// Mean average precision.
    pub mean_average_precision: f64,
    /// Queries scored.
    pub queries: usize,
    /// Queries skipped for having no relevant gallery item.
    pub skipped_without_relevant: usize,
}

/// Both directions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossModalRetrieval {
    /// Audio queries, image gallery.
    pub audio_to_image: RetrievalSummary,
    /// Image queries, audio gallery.
    pub image_to_audio: RetrievalSummary,
}

/// Recall@k and mAP from a similarity matrix.
///
/// # Shapes
/// `similarity`: `n_query x n_gallery`, row-major.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] for a wrong length, [`MetricsError::NonFinite`] for a NaN,
/// [`MetricsError::InvalidParameter`] for `k = 0`, [`MetricsError::Empty`] when no query has a
/// relevant item.
pub fn retrieval_from_similarity(
    similarity: &[f64],
    n_query: usize,
    n_gallery: usize,
    relevant: impl Fn(usize, usize) -> bool + Sync,
    ks: &[usize],
) -> Result<RetrievalSummary> {
    const OP: &str = "retrieval_from_similarity";
    if similarity.len() != n_query * n_gallery || n_query == 0 || n_gallery == 0 {
        return Err(MetricsError::ShapeMismatch {
            op: OP,
            expected: format!("non-empty {n_query}x{n_gallery} similarity matrix"),
            actual: format!("{} values", similarity.len()),
        });
    }
    check_finite(OP, "similarity", similarity)?;
    if ks.contains(&0) {
        return Err(MetricsError::InvalidParameter {
            op: OP,
            name: "ks",
            reason: "k must be at least 1".into(),
        });
    }
    // Per query: Some((first relevant rank, AP)) or None without relevant items.
    let per_query: Vec<Option<(usize, f64)>> = (0..n_query)
        .into_par_iter()
        .map(|q| {
            let row = &similarity[q * n_gallery..(q + 1) * n_gallery];
            let mut order: Vec<usize> = (0..n_gallery).collect();
            order.sort_by(|&x, &y| row[y].total_cmp(&row[x]).then(x.cmp(&y)));
            let mut hits = 0usize;
            let mut ap = 0.0;
            let mut first = None;
            for (rank, &g) in order.iter().enumerate() {
                if relevant(q, g) {
                    hits += 1;
                    ap += hits as f64 / (rank + 1) as f64;
                    first.get_or_insert(rank);
                }
            }
            first.map(|f| (f, ap / hits as f64))
        })
        .collect();
    let scored: Vec<(usize, f64)> = per_query.iter().flatten().copied().collect();
    if scored.is_empty() {
        return Err(MetricsError::Empty { op: OP, what: "queries with a relevant gallery item" });
    }
    let n = scored.len() as f64;
    Ok(RetrievalSummary {
        recall_at: ks
            .iter()
            .map(|&k| (k, scored.iter().filter(|(f, _)| *f < k).count() as f64 / n))
            .collect(),
        mean_average_precision: scored.iter().map(|(_, ap)| ap).sum::<f64>() / n,
        queries: scored.len(),
        skipped_without_relevant: n_query - scored.len(),
    })
}

/// Audio→image and image→audio recall@k and mAP from embeddings (cosine similarity).
///
/// # Shapes
/// `audio`: `N_a x D`, `image`: `N_i x D`; with [`Relevance::SameIndex`], `N_a == N_i`; with
/// [`Relevance::SameLabel`], one label per embedding.
///
/// # Errors
/// [`MetricsError::ShapeMismatch`] for inconsistent sizes, and the errors of
/// [`retrieval_from_similarity`].
pub fn evaluate_retrieval(
    audio: &Embeddings<'_>,
    image: &Embeddings<'_>,
    relevance: Relevance<'_>,
    ks: &[usize],
) -> Result<CrossModalRetrieval> {
    const OP: &str = "evaluate_retrieval";
    match relevance {
        Relevance::SameIndex if audio.rows != image.rows => {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{} image embeddings (one per audio)", audio.rows),
                actual: format!("{}", image.rows),
            });
        }
        Relevance::SameLabel { audio: la, image: li } if la.len() != audio.rows || li.len() != image.rows => {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{} audio and {} image labels", audio.rows, image.rows),
                actual: format!("{} and {}", la.len(), li.len()),
            });
        }
        _ => {}
    }
    let sim_ai = cosine_similarity(audio, image)?;
    let (na, ni) = (audio.rows, image.rows);
    let sim_ia: Vec<f64> = (0..ni * na).map(|k| sim_ai[(k % na) * ni + k / na]).collect();
    let rel = |q_audio: usize, g_image: usize| match relevance {
        Relevance::SameIndex => q_audio == g_image,
        Relevance::SameLabel { audio, image } => audio[q_audio] == image[g_image],
    };
    Ok(CrossModalRetrieval {
        audio_to_image: retrieval_from_similarity(&sim_ai, na, ni, rel, ks)?,
        image_to_audio: retrieval_from_similarity(&sim_ia, ni, na, |q, g| rel(g, q), ks)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_ranking() {
        // One query, gallery similarities [0.9, 0.8, 0.7, 0.6], relevant = {1, 3}:
        // ranks 2 and 4 → AP = (1/2 + 2/4) / 2 = 0.5; recall@1 = 0, recall@2 = 1.
        let sim = [0.9, 0.8, 0.7, 0.6];
        let s = retrieval_from_similarity(&sim, 1, 4, |_, g| g == 1 || g == 3, &[1, 2]).expect("summary");
        assert_eq!(s.recall_at, vec![(1, 0.0), (2, 1.0)]);
        assert_eq!(s.mean_average_precision, 0.5);
        assert!(retrieval_from_similarity(&sim, 1, 4, |_, _| false, &[1]).is_err());
        assert!(retrieval_from_similarity(&sim, 1, 4, |_, _| true, &[0]).is_err());
        assert!(retrieval_from_similarity(&sim[..3], 1, 4, |_, _| true, &[1]).is_err());
    }

    #[test]
    fn perfect_embeddings_retrieve_their_pair() {
        // Audio i and image i point the same way: recall@1 = mAP = 1 both ways.
        let a = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let i = [2.0f32, 0.1, 0.1, 3.0, 1.0, 1.2];
        let ea = Embeddings::new(&a, 3, 2).expect("audio");
        let ei = Embeddings::new(&i, 3, 2).expect("image");
        let r = evaluate_retrieval(&ea, &ei, Relevance::SameIndex, &[1, 5]).expect("retrieval");
        for s in [&r.audio_to_image, &r.image_to_audio] {
            assert_eq!(s.recall_at[0], (1, 1.0));
            assert_eq!(s.mean_average_precision, 1.0);
        }
        // Labels: audio 0 and 2 share label 7 with image 0 only.
        let r =
            evaluate_retrieval(&ea, &ei, Relevance::SameLabel { audio: &[7, 1, 7], image: &[7, 1, 9] }, &[1])
                .expect("retrieval");
        // Image 2 (label 9) has no relevant audio: skipped.
        assert_eq!(r.image_to_audio.skipped_without_relevant, 1);
        assert_eq!(r.audio_to_image.queries, 3);
        assert!(matches!(
            evaluate_retrieval(&ea, &Embeddings::new(&i[..4], 2, 2).expect("e"), Relevance::SameIndex, &[1]),
            Err(MetricsError::ShapeMismatch { .. })
        ));
    }
}
