//! Bad input gives a typed error naming the input, never a panic or NaN.

use av_alignment::{
    AlignError, AlignmentLossConfig, AvcNegatives, PoolNormalization, alignment_loss, avc_loss,
    class_aware_pool, multilabel_bce,
};
use burn::tensor::{Device, Tensor};

fn z<const D: usize>(shape: [usize; D]) -> Tensor<D> {
    Tensor::zeros(shape, &Device::flex())
}

#[test]
fn mismatched_batches_and_classes_are_named() {
    let cfg = AlignmentLossConfig::default();
    let err = alignment_loss(z([2, 3, 4]), z([3, 3, 4]), z([2, 3]), z([2, 3]), &cfg).unwrap_err();
    assert!(matches!(err, AlignError::Shape { what: "visual embeddings", .. }), "{err}");
    let err = alignment_loss(z([2, 3, 4]), z([2, 3, 4]), z([2, 4]), z([2, 3]), &cfg).unwrap_err();
    assert!(matches!(err, AlignError::Shape { what: "audio class logits", .. }), "{err}");
    let err = multilabel_bce(z([2, 3]), z([2, 4])).unwrap_err();
    assert!(matches!(err, AlignError::Shape { what: "class labels", .. }), "{err}");
    let err =
        class_aware_pool(z([2, 8, 4, 4]), z([2, 3, 4, 5]), PoolNormalization::WeightedMean).unwrap_err();
    assert!(matches!(err, AlignError::Shape { what: "class weights", .. }), "{err}");
    let err = avc_loss(z([3, 4, 2]), AvcNegatives::AllPairs).unwrap_err();
    assert!(matches!(err, AlignError::Shape { .. }), "{err}");
    let err = avc_loss(z([3, 3, 2]), AvcNegatives::Neighbour).unwrap_err();
    assert!(err.to_string().contains("even"), "{err}");
}

#[test]
fn empty_batches_nan_and_bad_labels_are_rejected() {
    let cfg = AlignmentLossConfig::default();
    assert!(matches!(
        alignment_loss(z([0, 3, 4]), z([0, 3, 4]), z([0, 3]), z([0, 3]), &cfg),
        Err(AlignError::Empty { .. })
    ));
    assert!(matches!(multilabel_bce(z([0, 3]), z([0, 3])), Err(AlignError::Empty { .. })));
    let nan = Tensor::<2>::full([2, 3], f32::NAN, &Device::flex());
    assert!(matches!(
        multilabel_bce(nan.clone(), z([2, 3])),
        Err(AlignError::NonFinite { what: "class logits" })
    ));
    let err = alignment_loss(z([2, 3, 4]), z([2, 3, 4]), nan, z([2, 3]), &cfg).unwrap_err();
    assert!(matches!(err, AlignError::NonFinite { what: "audio class logits" }), "{err}");
    let labels = Tensor::<2>::full([2, 3], 1.5, &Device::flex());
    assert!(matches!(multilabel_bce(z([2, 3]), labels), Err(AlignError::LabelRange { .. })));
    let bad = AlignmentLossConfig { margin: 0.0, ..cfg };
    assert!(matches!(
        alignment_loss(z([2, 3, 4]), z([2, 3, 4]), z([2, 3]), z([2, 3]), &bad),
        Err(AlignError::Config(_))
    ));
}

#[test]
fn zero_embeddings_give_the_specified_degenerate_values() {
    // docs/reference_implementation.md §10.21: a valid class with an empty map has g = 0, so D² = 2 on its positive pair
    // and relu(1.4 - √2)² = 0 on its negatives.
    let device = Device::flex();
    let g = Tensor::<3>::zeros([2, 1, 4], &device);
    let logits = Tensor::<2>::full([2, 1], 3.0, &device);
    let out = alignment_loss(g.clone(), g, logits.clone(), logits, &AlignmentLossConfig::default()).unwrap();
    let pos = out.positive.into_scalar::<f32>();
    let neg = out.negative.into_scalar::<f32>();
    assert!((pos - 2.0).abs() < 1e-6, "{pos}");
    assert_eq!(neg, 0.0);
    assert_eq!((out.positive_pairs, out.negative_pairs), (2, 2));
}
