//! Loader of `tests/fixtures/metrics_reference.safetensors`, written by
//! `python tools/reference/make_metrics_fixtures.py` (pins and command in that file's header).
#![allow(dead_code, clippy::unwrap_used)]

use safetensors::{Dtype, SafeTensors};

/// The fixture file, read once per test binary.
pub struct Fixtures {
    bytes: Vec<u8>,
}

/// A tensor as `f64` values with its shape.
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Fixtures {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/metrics_reference.safetensors");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        Self { bytes }
    }

    /// Tensor `name` converted to `f64` (f32, f64 and i64 are stored).
    pub fn get(&self, name: &str) -> Array {
        let st = SafeTensors::deserialize(&self.bytes).expect("valid safetensors");
        let t = st.tensor(name).unwrap_or_else(|e| panic!("missing tensor {name}: {e:?}"));
        let raw = t.data();
        let data = match t.dtype() {
            Dtype::F32 => {
                raw.chunks_exact(4).map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap()))).collect()
            }
            Dtype::F64 => raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
            Dtype::I64 => {
                raw.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect()
            }
            other => panic!("{name}: unexpected dtype {other:?}"),
        };
        Array { shape: t.shape().to_vec(), data }
    }

    /// Tensor `name` (stored as f32) as `f32` values.
    pub fn get_f32(&self, name: &str) -> Vec<f32> {
        self.get(name).data.iter().map(|&v| v as f32).collect()
    }

    /// A `rows x cols` tensor as rows.
    pub fn rows(&self, name: &str) -> Vec<Vec<f64>> {
        let a = self.get(name);
        let cols = *a.shape.last().unwrap();
        a.data.chunks_exact(cols).map(<[f64]>::to_vec).collect()
    }
}
