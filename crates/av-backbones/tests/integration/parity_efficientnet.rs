//! EfficientNet-Lite's trunk against PyTorch, in eval mode (BN running statistics, plain CPU
//! device) and train mode (batch statistics, autodiff device).
//!
//! Fixture: `tests/fixtures/efficientnet_lite.safetensors`, written by
//! `/work/venv-torch/bin/python tools/reference/make_efficientnet_fixtures.py` (a twin with every
//! channel count divided by 8 and 12 of the 16 blocks; weights under the PyTorch port's keys,
//! leading underscores included, imported with [`EFFICIENTNET_LITE_KEY_REMAPS`] as the
//! pretrained file is). Inputs: 2 x 3 x 64 x 64 (TensorFlow "same" pads one more row / column
//! after at each stride 2) and 2 x 3 x 50 x 71 (odd sides, padded symmetrically at some
//! layers). Tolerance: max abs error <= 1e-4 x max |reference output|.

use crate::common::{TOL, fixture, weights_file};
use av_backbones::weights::load_pytorch_state_dict;
use av_backbones::{BackboneError, EFFICIENTNET_LITE_KEY_REMAPS, EfficientNetLiteConfig};
use burn::tensor::{Device, Tensor};

#[test]
fn efficientnet_lite_trunk_matches_pytorch() {
    let fx = fixture("efficientnet_lite");
    let file = weights_file(&fx);
    let config = EfficientNetLiteConfig::new().with_blocks(12).with_width_divisor(8);
    for (mode, device) in [("eval", Device::flex()), ("train", Device::flex().autodiff())] {
        let net = load_pytorch_state_dict(config.init(&device), &file, &EFFICIENTNET_LITE_KEY_REMAPS, false)
            .unwrap();
        for input in ["even", "odd"] {
            let x: Tensor<4> = fx.tensor(&format!("in.{input}"), &device);
            fx.assert_tensor(&format!("{mode}.{input}"), net.forward(x), TOL);
        }
    }
}

#[test]
fn a_shallower_trunk_takes_the_first_blocks_and_a_deeper_one_is_a_typed_error() {
    let fx = fixture("efficientnet_lite");
    let file = weights_file(&fx);
    let device = Device::flex();
    let shallow = EfficientNetLiteConfig::new().with_blocks(11).with_width_divisor(8);
    // Block 11 of the file is unused by an 11-block trunk: strict import names it.
    match load_pytorch_state_dict(shallow.init(&device), &file, &EFFICIENTNET_LITE_KEY_REMAPS, false) {
        Err(BackboneError::UnusedKeys { example, .. }) => {
            assert!(example.starts_with("blocks.11."), "{example}")
        }
        other => panic!("expected block 11 as unused, got {other:?}"),
    }
    assert!(
        load_pytorch_state_dict(shallow.init(&device), &file, &EFFICIENTNET_LITE_KEY_REMAPS, true).is_ok()
    );
    let deep = EfficientNetLiteConfig::new().with_blocks(13).with_width_divisor(8);
    match load_pytorch_state_dict(deep.init(&device), &file, &EFFICIENTNET_LITE_KEY_REMAPS, true) {
        Err(BackboneError::MissingKey { key, .. }) => assert!(key.starts_with("blocks.12."), "{key}"),
        other => panic!("expected block 12 as missing, got {other:?}"),
    }
}
