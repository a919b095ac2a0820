//! Loader of `tests/fixtures/metrics_reference.safetensors`, written by
//! `python tools/reference/make_metrics_fixtures.py` (pins and command in that file's header),
//! read with `av-testkit`.
#![allow(dead_code, clippy::unwrap_used)]

use av_testkit::Fixture;

/// The fixture file, read once per test binary.
pub struct Fixtures(Fixture);

/// A tensor as `f64` values with its shape.
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Fixtures {
    pub fn load() -> Self {
        Self(Fixture::load(env!("CARGO_MANIFEST_DIR"), "metrics_reference"))
    }

    /// Tensor `name` converted to `f64` (f32, f64 and i64 are stored).
    pub fn get(&self, name: &str) -> Array {
        let (shape, data) = self.0.get_f64(name);
        Array { shape, data }
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
