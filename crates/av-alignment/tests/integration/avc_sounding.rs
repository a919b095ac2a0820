//! The AVC loss with clips that hold no sounding object (no-class training negatives): their own
//! pair is a negative; with every clip sounding the loss is the plain AVC loss, bit for bit.
//! Reference: the cross-entropies written out in f64 from the same logits (tolerance 1e-6).

#![allow(clippy::unwrap_used)]

use av_alignment::{AlignError, AvcNegatives, avc_loss, avc_loss_with_sounding};
use burn::tensor::{Device, Tensor, TensorData};

const N: usize = 4;

fn logits() -> (Vec<f32>, Tensor<3>) {
    let values: Vec<f32> = (0..N * N * 2).map(|k| ((k * 37 % 23) as f32 - 11.0) / 7.0).collect();
    let t = Tensor::from_data(TensorData::new(values.clone(), [N, N, 2]), &Device::flex());
    (values, t)
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// `-log softmax(logits[i, j])[class]` in f64.
fn ce(values: &[f32], i: usize, j: usize, class: usize) -> f64 {
    let a = f64::from(values[(i * N + j) * 2]);
    let b = f64::from(values[(i * N + j) * 2 + 1]);
    let lse = a.max(b) + ((a - a.max(b)).exp() + (b - a.max(b)).exp()).ln();
    lse - if class == 0 { a } else { b }
}

#[test]
fn with_every_clip_sounding_it_is_the_plain_avc_loss() {
    for negatives in [AvcNegatives::AllPairs, AvcNegatives::Neighbour] {
        let (_, t) = logits();
        let plain = scalar(avc_loss(t.clone(), negatives).unwrap());
        let flagged = scalar(avc_loss_with_sounding(t, negatives, &[true; N]).unwrap());
        assert_eq!(plain.to_bits(), flagged.to_bits(), "{negatives:?}");
    }
}

#[test]
fn a_silent_clip_pair_with_its_own_frame_is_a_negative() {
    let sounding = [true, false, true, true];
    let (v, t) = logits();
    // All pairs: positives = own pairs of sounding clips; negatives = mismatched pairs and the
    // silent clip's own pair; each half weighted 1/2.
    let pos: Vec<f64> = (0..N).filter(|&i| sounding[i]).map(|i| ce(&v, i, i, 1)).collect();
    let mut neg: Vec<f64> = (0..N)
        .flat_map(|i| (0..N).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| ce(&v, i, j, 0))
        .collect();
    neg.extend((0..N).filter(|&i| !sounding[i]).map(|i| ce(&v, i, i, 0)));
    let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
    let want = 0.5 * mean(&pos) + 0.5 * mean(&neg);
    let got = scalar(avc_loss_with_sounding(t.clone(), AvcNegatives::AllPairs, &sounding).unwrap());
    assert!((got - want).abs() < 1e-6, "all pairs: {got} vs {want}");

    // Neighbour: one plain mean over the own pairs of sounding clips, the (i, i^1) pairs and the
    // silent clip's own pair.
    let mut all: Vec<f64> = pos.clone();
    all.extend((0..N).map(|i| ce(&v, i, i ^ 1, 0)));
    all.extend((0..N).filter(|&i| !sounding[i]).map(|i| ce(&v, i, i, 0)));
    let want = mean(&all);
    let got = scalar(avc_loss_with_sounding(t.clone(), AvcNegatives::Neighbour, &sounding).unwrap());
    assert!((got - want).abs() < 1e-6, "neighbour: {got} vs {want}");

    // No sounding clip at all: the negative half alone.
    let none = [false; N];
    let mut neg_all: Vec<f64> = (0..N)
        .flat_map(|i| (0..N).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| ce(&v, i, j, 0))
        .collect();
    neg_all.extend((0..N).map(|i| ce(&v, i, i, 0)));
    let got = scalar(avc_loss_with_sounding(t, AvcNegatives::AllPairs, &none).unwrap());
    assert!((got - 0.5 * mean(&neg_all)).abs() < 1e-6);
}

#[test]
fn flags_of_another_length_are_a_shape_error() {
    let (_, t) = logits();
    let err = avc_loss_with_sounding(t, AvcNegatives::AllPairs, &[true, false]).unwrap_err();
    assert!(matches!(err, AlignError::Shape { what: "sounding flags", .. }), "{err:?}");
}
