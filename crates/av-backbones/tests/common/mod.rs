//! Shared helpers of the av-backbones integration tests: reading the committed safetensors
//! fixtures of `tools/reference/make_backbone_fixtures.py` and comparing outputs.
#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;

pub struct Fixture {
    pub name: String,
    pub tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Fixture {
    pub fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.safetensors"));
        let bytes = std::fs::read(&path).expect("fixture is committed");
        let st = SafeTensors::deserialize(&bytes).expect("valid safetensors");
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(k, v)| {
                let values =
                    v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                (k, (v.shape().to_vec(), values))
            })
            .collect();
        Self { name: name.into(), tensors }
    }

    pub fn get(&self, key: &str) -> &(Vec<usize>, Vec<f32>) {
        self.tensors.get(key).unwrap_or_else(|| panic!("{}: no tensor {key}", self.name))
    }

    pub fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.get(key).clone();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Writes the `w.*` tensors (prefix stripped) as a standalone state_dict file.
    pub fn weights_file(&self) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("av-backbones-parity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.safetensors", self.name));
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = self
            .tensors
            .iter()
            .filter_map(|(k, (shape, values))| {
                let name = k.strip_prefix("w.")?;
                let bytes: &[u8] = bytemuck_f32(values);
                Some((
                    name.to_string(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                        .unwrap(),
                ))
            })
            .collect();
        safetensors::serialize_to_file(views, None, &path).unwrap();
        path
    }

    /// Asserts `actual` matches reference `key` within 1e-4 of the reference's scale.
    pub fn assert_close<const D: usize>(&self, key: &str, actual: Tensor<D>) {
        let (shape, expected) = self.get(key);
        assert_eq!(&actual.dims().to_vec(), shape, "{}/{key}: shape", self.name);
        let actual: Vec<f32> = actual.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let scale = expected.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let err = actual.iter().zip(expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!(
            "{}/{key}: max abs error {err:.2e} (scale {scale:.2e}, relative {:.2e})",
            self.name,
            err / scale
        );
        assert!(err <= 1e-4 * scale, "{}/{key}: max abs error {err} vs scale {scale}", self.name);
    }
}

/// Little-endian f32 slice as bytes (the test platforms are little-endian).
pub fn bytemuck_f32(values: &[f32]) -> &[u8] {
    // SAFETY-free: build via iterator would allocate; slices of f32 are plain old data.
    let ptr = values.as_ptr().cast::<u8>();
    // The workspace denies unsafe code in library crates; this test helper only reinterprets.
    #[allow(unsafe_code)]
    unsafe {
        std::slice::from_raw_parts(ptr, std::mem::size_of_val(values))
    }
}

/// Writes `tensors` (name -> (shape, values)) as a safetensors file at `path`.
pub fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, shape, values)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    bytemuck_f32(values),
                )
                .unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A per-process temporary directory.
pub fn tmp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("av-backbones-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
