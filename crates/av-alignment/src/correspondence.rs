//! Audio-visual correspondence (AVC) losses, the coarse stage's `L_avc` (Eq. 3).

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::check::{finite, non_empty};
use crate::error::{AlignError, Result};

/// Which pairs are negatives for the AVC task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum AvcNegatives {
    /// MSSL `new/` (`main.py:15-45`): all `N (N - 1)` mismatched pairs of the batch, positive
    /// and negative cross-entropies averaged separately and weighted 1/2 each. The default.
    #[default]
    AllPairs,
    /// The original code: each clip against its neighbour in the batch (`i` with `i ^ 1`), one
    /// negative per positive, plain mean cross-entropy.
    Neighbour,
}

/// Balanced AVC loss over all pairs: `mean_{i=j} ce / 2 + mean_{i≠j} ce / 2`, with `ce` the
/// cross-entropy of pair `(audio i, visual j)` against "corresponding" (class 1) on the diagonal
/// and "not corresponding" (class 0) elsewhere.
///
/// # Shapes
/// `logits [N, N, 2]` (from `AvcMlp::forward_all_pairs`) -> scalar `[1]`. With `N = 1` there are
/// no negatives and the loss is the positive term alone.
///
/// # Errors
/// [`AlignError::Shape`] when the matrix is not square or the last axis is not 2,
/// [`AlignError::Empty`], [`AlignError::NonFinite`].
pub fn avc_all_pairs_loss(logits: Tensor<3>) -> Result<Tensor<1>> {
    let n = check_all_pairs(&logits)?;
    let device = logits.device();
    let logp = log_softmax(logits, 2);
    let eye = Tensor::<2>::eye(n, &device);
    let off = eye.clone().neg().add_scalar(1.0);
    let ce_pos = logp.clone().slice([0..n, 0..n, 1..2]).reshape([n, n]).neg();
    let ce_neg = logp.slice([0..n, 0..n, 0..1]).reshape([n, n]).neg();
    let pos = (ce_pos * eye).sum().div_scalar(n as f32);
    if n == 1 {
        return Ok(pos.div_scalar(2.0));
    }
    let neg = (ce_neg * off).sum().div_scalar((n * (n - 1)) as f32);
    Ok((pos + neg).div_scalar(2.0))
}

/// Plain mean cross-entropy over positive pairs (class 1) and negative pairs (class 0), e.g. the
/// neighbour negatives of the original code.
///
/// # Shapes
/// `positives [P, 2]`, `negatives [Q, 2]` -> scalar `[1]`.
///
/// # Errors
/// [`AlignError::Shape`], [`AlignError::Empty`] when both are empty, [`AlignError::NonFinite`].
pub fn avc_pairs_loss(positives: Tensor<2>, negatives: Tensor<2>) -> Result<Tensor<1>> {
    let [p, pt] = positives.dims();
    let [q, qt] = negatives.dims();
    if pt != 2 || qt != 2 {
        return Err(AlignError::Shape {
            what: "AVC pair logits",
            expected: "[P, 2] and [Q, 2]".into(),
            found: vec![p, pt, q, qt],
        });
    }
    if p + q == 0 {
        return Err(AlignError::Empty { what: "AVC pairs" });
    }
    finite(&positives, "AVC positive logits")?;
    finite(&negatives, "AVC negative logits")?;
    let mut total = None;
    if p > 0 {
        total = Some(log_softmax(positives, 1).slice([0..p, 1..2]).sum().neg());
    }
    if q > 0 {
        let neg = log_softmax(negatives, 1).slice([0..q, 0..1]).sum().neg();
        total = Some(match total {
            Some(t) => t + neg,
            None => neg,
        });
    }
    let total = total.ok_or(AlignError::Empty { what: "AVC pairs" })?;
    Ok(total.div_scalar((p + q) as f32))
}

/// The AVC loss of the all-pairs logits with the chosen negatives.
///
/// # Shapes
/// `logits [N, N, 2]` -> scalar `[1]`; [`AvcNegatives::Neighbour`] needs an even `N`.
///
/// # Errors
/// As [`avc_all_pairs_loss`] and [`avc_pairs_loss`]; [`AlignError::Shape`] for an odd batch
/// with neighbour negatives.
pub fn avc_loss(logits: Tensor<3>, negatives: AvcNegatives) -> Result<Tensor<1>> {
    match negatives {
        AvcNegatives::AllPairs => avc_all_pairs_loss(logits),
        AvcNegatives::Neighbour => {
            let [n, m, two] = logits.dims();
            if n != m || two != 2 || n % 2 != 0 || n == 0 {
                return Err(AlignError::Shape {
                    what: "AVC logits (neighbour negatives)",
                    expected: "[N, N, 2] with an even N (clip i is paired with clip i ^ 1)".into(),
                    found: vec![n, m, two],
                });
            }
            let flat = logits.reshape([n * n, 2]);
            let device = flat.device();
            let pos_idx: Vec<i64> = (0..n).map(|i| (i * n + i) as i64).collect();
            let neg_idx: Vec<i64> = (0..n).map(|i| (i * n + (i ^ 1)) as i64).collect();
            let pos_idx = Tensor::<1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(pos_idx, [n]),
                &device,
            );
            let neg_idx = Tensor::<1, burn::tensor::Int>::from_data(
                burn::tensor::TensorData::new(neg_idx, [n]),
                &device,
            );
            avc_pairs_loss(flat.clone().select(0, pos_idx), flat.select(0, neg_idx))
        }
    }
}

/// [`avc_loss`] when some clips hold no sounding object (`sounding[i] == false`: a noise, hum
/// or outside-vocabulary clip with no class, paired with its own frame): such a clip's own pair
/// (audio `i`, frame `i`) is a **negative** instead of a positive. With every clip sounding it is
/// [`avc_loss`] exactly.
///
/// [`AvcNegatives::AllPairs`]: `mean_P ce / 2 + mean_Q ce / 2` with `P` the own pairs of the
/// sounding clips and `Q` all mismatched pairs plus the own pairs of the other clips (a half
/// without pairs contributes 0). [`AvcNegatives::Neighbour`]: plain mean cross-entropy over the
/// same own pairs and the neighbour pairs `(i, i ^ 1)` plus the own pairs of the other clips.
///
/// # Shapes
/// `logits [N, N, 2]`, `sounding` of length `N` -> scalar `[1]`.
///
/// # Errors
/// As [`avc_loss`]; [`AlignError::Shape`] when `sounding` has another length than `N`.
pub fn avc_loss_with_sounding(
    logits: Tensor<3>,
    negatives: AvcNegatives,
    sounding: &[bool],
) -> Result<Tensor<1>> {
    let [n, m, two] = logits.dims();
    if sounding.len() != n {
        return Err(AlignError::Shape {
            what: "sounding flags",
            expected: format!("{n} flags (one per clip of the AVC logits)"),
            found: vec![sounding.len()],
        });
    }
    if sounding.iter().all(|&s| s) {
        return avc_loss(logits, negatives);
    }
    check_all_pairs(&logits)?;
    let device = logits.device();
    match negatives {
        AvcNegatives::AllPairs => {
            let flags: Vec<f32> = sounding.iter().map(|&s| if s { 1.0 } else { 0.0 }).collect();
            let s = Tensor::<2>::from_data(burn::tensor::TensorData::new(flags, [n, 1]), &device);
            let eye = Tensor::<2>::eye(n, &device);
            let own_sounding = eye.clone() * s.clone();
            let own_silent = eye.clone() * s.neg().add_scalar(1.0);
            let off = eye.neg().add_scalar(1.0);
            let logp = log_softmax(logits, 2);
            let ce_pos = logp.clone().slice([0..n, 0..n, 1..2]).reshape([n, n]).neg();
            let ce_neg = logp.slice([0..n, 0..n, 0..1]).reshape([n, n]).neg();
            let p = sounding.iter().filter(|&&s| s).count();
            let q = n * (n - 1) + (n - p);
            let neg = (ce_neg * (off + own_silent)).sum().div_scalar(q as f32);
            if p == 0 {
                return Ok(neg.div_scalar(2.0));
            }
            let pos = (ce_pos * own_sounding).sum().div_scalar(p as f32);
            Ok((pos + neg).div_scalar(2.0))
        }
        AvcNegatives::Neighbour => {
            if n % 2 != 0 {
                return Err(AlignError::Shape {
                    what: "AVC logits (neighbour negatives)",
                    expected: "[N, N, 2] with an even N (clip i is paired with clip i ^ 1)".into(),
                    found: vec![n, m, two],
                });
            }
            let flat = logits.reshape([n * n, 2]);
            let own = |keep: bool| -> Vec<i64> {
                (0..n).filter(|&i| sounding[i] == keep).map(|i| (i * n + i) as i64).collect()
            };
            let pos_idx = own(true);
            let mut neg_idx: Vec<i64> = (0..n).map(|i| (i * n + (i ^ 1)) as i64).collect();
            neg_idx.extend(own(false));
            let select = |idx: Vec<i64>| {
                let k = idx.len();
                let idx = Tensor::<1, burn::tensor::Int>::from_data(
                    burn::tensor::TensorData::new(idx, [k]),
                    &device,
                );
                flat.clone().select(0, idx)
            };
            let positives =
                if pos_idx.is_empty() { Tensor::<2>::zeros([0, 2], &device) } else { select(pos_idx) };
            avc_pairs_loss(positives, select(neg_idx))
        }
    }
}

/// Checks all-pairs AVC logits `[N, N, 2]` (non-empty, square, two classes, finite); returns `N`.
fn check_all_pairs(logits: &Tensor<3>) -> Result<usize> {
    let [n, m, two] = logits.dims();
    non_empty(&[n, m, two], "AVC logits")?;
    if n != m || two != 2 {
        return Err(AlignError::Shape {
            what: "AVC logits",
            expected: "[N, N, 2] (all audio x visual pairs, 2 classes)".into(),
            found: vec![n, m, two],
        });
    }
    finite(logits, "AVC logits")?;
    Ok(n)
}
