//! Reading the committed safetensors fixtures and comparing tensors.
#![allow(dead_code, missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;

pub struct Fixture {
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
        Self { tensors }
    }

    pub fn values(&self, key: &str) -> &[f32] {
        &self.tensors.get(key).unwrap_or_else(|| panic!("no tensor {key}")).1
    }

    pub fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.tensors.get(key).unwrap_or_else(|| panic!("no tensor {key}")).clone();
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

/// Max |a - b| / max(1, max|b|): relative to the reference's scale.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let err = got.iter().zip(want).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(got.iter().all(|v| v.is_finite()), "{what}: non-finite values");
    assert!(err / scale <= tol, "{what}: max error {err} (scale {scale}) > tol {tol}");
    eprintln!("{what}: max error {:.2e} (relative {:.2e})", err, err / scale);
}
