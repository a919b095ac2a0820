//! Importing PyTorch weights, with every key remap in one table.
//!
//! | PyTorch key (torchvision / MSSL) | Burn path here | why |
//! |---|---|---|
//! | `layerL.B.downsample.0.*` | `layerL.B.downsample.conv.*` | Rust fields cannot be numbers |
//! | `layerL.B.downsample.1.*` | `layerL.B.downsample.bn.*` | same |
//! | `*.bn*.weight` / `*.bn*.bias` | `gamma` / `beta` | Burn's BatchNorm naming (PyTorchToBurnAdapter) |
//! | `*.bn*.num_batches_tracked` | (ignored) | Burn keeps no counter |
//! | `fc.weight`, `fc.bias` (1000 ImageNet classes) | (dropped) | the trunk has no classifier |
//! | `conv1_a.weight` (MSSL audio trunk, [`ResNetNaming::MsslAudio`]) | `conv1.weight` | one stem field; MSSL keeps both stems and uses `conv1_a` |
//! | `conv1.weight` (MSSL audio trunk's unused RGB stem) | (ignored) | never used by the audio trunk |
//!
//! Linear weights are transposed (`[out, in]` -> `[in, out]`) by burn-store's
//! `PyTorchToBurnAdapter`. ImageNet weights load unchanged into the stride-1 and dilated
//! `layer4` variants (strides and dilations carry no parameters), exactly as MSSL and SoP do.

use std::path::Path;

use burn::store::{
    ApplyError, ApplyResult, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};

use crate::error::{BackboneError, Result};
use crate::resnet::ResNet;

/// The key remaps for torchvision ResNet checkpoints: `(regex, replacement)`, applied in order.
pub const RESNET_KEY_REMAPS: [(&str, &str); 2] = [
    (r"^(.*)\.downsample\.0\.(.*)$", "$1.downsample.conv.$2"),
    (r"^(.*)\.downsample\.1\.(.*)$", "$1.downsample.bn.$2"),
];

/// Extra remaps for MSSL's audio trunk (`new/base_model.py:139-140`), applied before
/// [`RESNET_KEY_REMAPS`]: its unused RGB stem is set aside, then `conv1_a` becomes the stem.
pub const MSSL_AUDIO_KEY_REMAPS: [(&str, &str); 2] =
    [(r"^conv1\.(.*)$", "unused_rgb_stem.$1"), (r"^conv1_a\.(.*)$", "conv1.$1")];

/// Which naming the checkpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResNetNaming {
    /// torchvision `resnet18` (and MSSL's visual trunk).
    #[default]
    Torchvision,
    /// MSSL's audio trunk: `conv1_a` is the stem, `conv1` an unused RGB stem.
    MsslAudio,
}

/// Options of [`load_torchvision_resnet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResNetImport {
    /// Leave the stem (`conv1`) as initialised instead of loading it, e.g. to put ImageNet
    /// weights into a 1-channel audio trunk (MSSL trains its audio trunk from scratch).
    pub skip_stem: bool,
    /// Fail when the file holds tensors other than the ImageNet `fc` and BN counters.
    pub strict_unused: bool,
    /// Key naming of the file.
    pub naming: ResNetNaming,
}

impl Default for ResNetImport {
    fn default() -> Self {
        Self { skip_stem: false, strict_unused: true, naming: ResNetNaming::Torchvision }
    }
}

/// Loads torchvision ResNet-18 weights (`.safetensors`, or `.pth`/`.pt` through burn-store's
/// PyTorch reader) into `model`.
///
/// A model with `layer5` gets the file's `layer4` copied into it, as MSSL's
/// `resnet/resnet.py:253-264` does.
///
/// # Errors
/// [`BackboneError::Io`] / [`BackboneError::Format`] for an unreadable file,
/// [`BackboneError::MissingKey`] naming the first missing tensor, [`BackboneError::ShapeMismatch`]
/// naming the tensor and both shapes, [`BackboneError::UnusedKeys`] in strict mode.
pub fn load_torchvision_resnet(
    mut model: ResNet,
    path: impl AsRef<Path>,
    options: ResNetImport,
) -> Result<ResNet> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(BackboneError::Io { path: path.to_path_buf(), detail: "no such file".into() });
    }
    let has_layer5 = model.layer5.is_some();
    let mut remaps: Vec<(&str, &str)> = match options.naming {
        ResNetNaming::Torchvision => vec![],
        ResNetNaming::MsslAudio => MSSL_AUDIO_KEY_REMAPS.to_vec(),
    };
    remaps.extend(RESNET_KEY_REMAPS);
    let first_pass: Option<TensorFilter> = options.skip_stem.then_some(not_stem as TensorFilter);
    let result = apply_file(&mut model, path, &remaps, first_pass)?;
    let ignored = |key: &str| {
        key.ends_with("num_batches_tracked")
            || key.starts_with("fc.")
            || key.starts_with("unused_rgb_stem.")
            || (options.skip_stem && key.starts_with("conv1."))
    };
    check(
        path,
        &result,
        |p| (has_layer5 && p.starts_with("layer5")) || (options.skip_stem && p.starts_with("conv1.")),
        ignored,
        options.strict_unused,
    )?;
    if has_layer5 {
        // Second pass: the file's layer4 into layer5 only.
        remaps.push((r"^layer4\.(.*)$", "layer5.$1"));
        let result = apply_file(&mut model, path, &remaps, Some(only_layer5))?;
        check(path, &result, |p| !p.starts_with("layer5"), |_| true, false)?;
    }
    Ok(model)
}

/// Loads a PyTorch `state_dict` saved as `.safetensors` (or `.pth`/`.pt`) into any module whose
/// field names mirror it, after the `(regex, replacement)` `remaps`. Linear weights are
/// transposed and BN `weight/bias` renamed by burn-store's `PyTorchToBurnAdapter`. Every tensor
/// of the module must be present with the right shape; tensors in the file that the module does
/// not use are an error unless `allow_unused` (BN `num_batches_tracked` counters are always
/// ignored).
///
/// # Errors
/// As [`load_torchvision_resnet`].
pub fn load_pytorch_state_dict<M: ModuleSnapshot>(
    mut model: M,
    path: impl AsRef<Path>,
    remaps: &[(&str, &str)],
    allow_unused: bool,
) -> Result<M> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(BackboneError::Io { path: path.to_path_buf(), detail: "no such file".into() });
    }
    let result = apply_file(&mut model, path, remaps, None)?;
    check(path, &result, |_| false, |k| k.ends_with("num_batches_tracked"), !allow_unused)?;
    Ok(model)
}

/// A predicate on Burn tensor paths: which tensors of the module to load.
type TensorFilter = fn(&str, &str) -> bool;

fn not_stem(path: &str, _container: &str) -> bool {
    !path.starts_with("conv1.")
}

fn only_layer5(path: &str, _container: &str) -> bool {
    path.starts_with("layer5.")
}

/// Applies a weight file to a module with the given remaps and optional filter, tolerating
/// partial matches (the result is checked by the caller).
fn apply_file<M: ModuleSnapshot>(
    model: &mut M,
    path: &Path,
    remaps: &[(&str, &str)],
    filter: Option<TensorFilter>,
) -> Result<ApplyResult> {
    let format = |detail: String| BackboneError::Format { path: path.to_path_buf(), detail };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "pth" || ext == "pt" {
        let mut store = PytorchStore::from_file(path).allow_partial(true).validate(false);
        for (from, to) in remaps {
            store = store.with_key_remapping(*from, *to);
        }
        if let Some(f) = filter {
            store = store.with_predicate(f);
        }
        model.load_from(&mut store).map_err(|e| format(e.to_string()))
    } else {
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .allow_partial(true)
            .validate(false);
        for (from, to) in remaps {
            store = store.with_key_remapping(*from, *to);
        }
        if let Some(f) = filter {
            store = store.with_predicate(f);
        }
        model.load_from(&mut store).map_err(|e| format(e.to_string()))
    }
}

/// Turns an [`ApplyResult`] into typed errors: shape mismatches first, then missing tensors
/// (except those `may_miss` allows), then unused ones (except `ignored`) when `strict`.
fn check(
    path: &Path,
    result: &ApplyResult,
    may_miss: impl Fn(&str) -> bool,
    ignored: impl Fn(&str) -> bool,
    strict: bool,
) -> Result<()> {
    let file = || path.to_path_buf();
    if let Some(err) = result.errors.first() {
        return Err(match err {
            ApplyError::ShapeMismatch { path: key, expected, found } => BackboneError::ShapeMismatch {
                path: file(),
                key: key.clone(),
                expected: expected.to_vec(),
                found: found.to_vec(),
            },
            other => BackboneError::Apply { path: file(), detail: format!("{other:?}") },
        });
    }
    let missing: Vec<&String> = result.missing.iter().map(|(p, _)| p).filter(|p| !may_miss(p)).collect();
    if let Some(first) = missing.first() {
        return Err(BackboneError::MissingKey {
            path: file(),
            key: (*first).clone(),
            more: missing.len() - 1,
        });
    }
    let unused: Vec<&String> = result.unused.iter().filter(|k| !ignored(k)).collect();
    if strict && let Some(first) = unused.first() {
        return Err(BackboneError::UnusedKeys {
            path: file(),
            count: unused.len(),
            example: (*first).clone(),
        });
    }
    Ok(())
}
