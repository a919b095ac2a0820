//! Fuzzing on stable Rust: property tests over byte inputs for the checkpoint and weight readers
//! of av-backbones: burnpack weights (`load_checkpoint_weights`), the config JSON next to them
//! (`model.json`, `load_checkpoint_config`), and PyTorch imports (`.pth` / `.safetensors`,
//! `load_pytorch_state_dict`). Each input is arbitrary bytes or a structure-aware mutation of a
//! valid seed file (a checkpoint written by `save_checkpoint`, the committed `heads.pth` /
//! `heads.safetensors` fixtures): bit flips, inserted / deleted / overwritten bytes, truncation,
//! header fields set to huge values. Property: `Ok` or a typed `BackboneError` — never a panic,
//! never a hang (each case must finish in 2 s), never a huge allocation (no single request of
//! 256 MiB or more); see `av_testkit::fuzz`.
//!
//! CI runs a fixed-seed, small budget; `AV_FUZZ_CASES=5000 cargo test -p av-backbones --test
//! fuzz_checkpoints` runs longer (and `AV_FUZZ_SEED=<u64>` explores other inputs).
#![allow(missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use av_backbones::checkpoint::{load_checkpoint_config, load_checkpoint_weights, save_checkpoint};
use av_backbones::weights::load_pytorch_state_dict;
use av_backbones::{BackboneError, ProjectionHead, ProjectionHeadConfig, ResNetConfig};
use av_testkit::fuzz::{bounded, config, input, scratch};
use burn::tensor::Device;
use proptest::prelude::*;

fn head_config() -> ProjectionHeadConfig {
    ProjectionHeadConfig::new().with_d_input(4).with_d_hidden(6).with_d_output(3)
}

fn small_head() -> ProjectionHead {
    head_config().init(&Device::flex())
}

/// A checkpoint `model` (`model.bpk` + `model.json`) of the small head, as bytes.
fn checkpoint_seed(tag: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = scratch(tag);
    let paths = save_checkpoint(&small_head(), &head_config(), &dir, "model").unwrap();
    (std::fs::read(paths.weights).unwrap(), std::fs::read(paths.config).unwrap())
}

fn config_seeds() -> Vec<Vec<u8>> {
    let resnet = burn::config::config_to_json(&ResNetConfig::audio().with_base_width(4)).into_bytes();
    vec![checkpoint_seed("fuzz-json-seed").1, resnet]
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

fn typed(r: Result<impl Sized, BackboneError>) {
    if let Err(e) = r {
        let _ = e.to_string();
    }
}

fn write(tag: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = scratch(tag);
    std::fs::write(dir.join(name), bytes).unwrap();
    dir
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn burnpack_weights_never_panic(bytes in input(vec![checkpoint_seed("fuzz-bpk-seed").0])) {
        let dir = write("fuzz-bpk", "model.bpk", &bytes);
        let head = small_head();
        bounded("load_checkpoint_weights", || typed(load_checkpoint_weights(head, &dir, "model")));
    }

    #[test]
    fn model_json_never_panics(bytes in input(config_seeds())) {
        let dir = write("fuzz-json", "model.json", &bytes);
        bounded("load_checkpoint_config", || {
            typed(load_checkpoint_config::<ProjectionHeadConfig>(&dir, "model"));
            typed(load_checkpoint_config::<ResNetConfig>(&dir, "model"));
        });
    }

    #[test]
    fn pytorch_pth_never_panics(bytes in input(vec![fixture("heads.pth")])) {
        let dir = write("fuzz-pth", "w.pth", &bytes);
        let head = small_head();
        bounded("load_pytorch_state_dict(.pth)", || {
            typed(load_pytorch_state_dict(head, dir.join("w.pth"), &[], true));
        });
    }

    #[test]
    fn safetensors_never_panic(bytes in input(vec![fixture("heads.safetensors")])) {
        let dir = write("fuzz-st", "w.safetensors", &bytes);
        let head = small_head();
        bounded("load_pytorch_state_dict(.safetensors)", || {
            typed(load_pytorch_state_dict(head, dir.join("w.safetensors"), &[], true));
        });
    }
}

// --- regression tests: crashes the fuzzer found (minimal inputs) ---------------------------------
