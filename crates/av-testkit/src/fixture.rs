//! Committed safetensors fixtures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

/// A safetensors fixture file, read and decoded once: its `F32` tensors as `f32` values, its
/// `F64` and `I64` tensors as `f64` values (every tensor is available as `f64` through
/// [`Fixture::get_f64`]). Values are little-endian row-major, with their shape.
#[derive(Debug, Clone)]
pub struct Fixture {
    name: String,
    f32s: HashMap<String, (Vec<usize>, Vec<f32>)>,
    f64s: HashMap<String, (Vec<usize>, Vec<f64>)>,
}

impl Fixture {
    /// `{manifest_dir}/tests/fixtures/{name}.safetensors`: pass `env!("CARGO_MANIFEST_DIR")`.
    ///
    /// # Panics
    /// When the file cannot be read or is not a safetensors file of `F32`, `F64` and `I64`
    /// tensors.
    #[track_caller]
    pub fn load(manifest_dir: &str, name: &str) -> Self {
        let path = Path::new(manifest_dir).join("tests/fixtures").join(format!("{name}.safetensors"));
        Self::read(&path, name)
    }

    /// The fixture at `path`, named after its file stem.
    ///
    /// # Panics
    /// As [`Fixture::load`].
    #[track_caller]
    pub fn open(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Self::read(path, &name)
    }

    #[track_caller]
    fn read(path: &Path, name: &str) -> Self {
        let bytes = std::fs::read(path)
            .unwrap_or_else(|e| panic!("cannot read fixture {} (is it committed?): {e}", path.display()));
        let st = SafeTensors::deserialize(&bytes)
            .unwrap_or_else(|e| panic!("{}: not a valid safetensors file: {e:?}", path.display()));
        let (mut f32s, mut f64s) = (HashMap::new(), HashMap::new());
        for (key, view) in st.tensors() {
            let (shape, raw) = (view.shape().to_vec(), view.data());
            match view.dtype() {
                Dtype::F32 => {
                    let values = raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                    f32s.insert(key, (shape, values.collect()));
                }
                Dtype::F64 => {
                    let values = raw.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()));
                    f64s.insert(key, (shape, values.collect()));
                }
                Dtype::I64 => {
                    let values =
                        raw.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64);
                    f64s.insert(key, (shape, values.collect()));
                }
                other => panic!("{name}/{key}: unexpected dtype {other:?}"),
            }
        }
        Self { name: name.to_string(), f32s, f64s }
    }

    /// The fixture's name (its file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `F32` tensor `key`: (shape, values), `None` when there is none.
    pub fn try_get(&self, key: &str) -> Option<&(Vec<usize>, Vec<f32>)> {
        self.f32s.get(key)
    }

    /// `F32` tensor `key`: (shape, values).
    ///
    /// # Panics
    /// When there is no `F32` tensor `key`.
    #[track_caller]
    pub fn get(&self, key: &str) -> &(Vec<usize>, Vec<f32>) {
        self.try_get(key).unwrap_or_else(|| {
            let kind = if self.f64s.contains_key(key) { " (stored as F64 or I64)" } else { "" };
            panic!("{}: no f32 tensor {key}{kind}", self.name)
        })
    }

    /// The values of `F32` tensor `key`.
    ///
    /// # Panics
    /// As [`Fixture::get`].
    #[track_caller]
    pub fn values(&self, key: &str) -> &[f32] {
        &self.get(key).1
    }

    /// The shape of `F32` tensor `key`.
    ///
    /// # Panics
    /// As [`Fixture::get`].
    #[track_caller]
    pub fn shape(&self, key: &str) -> &[usize] {
        &self.get(key).0
    }

    /// Tensor `key` of any stored dtype as `f64` values (`F32` and `I64` converted exactly):
    /// (shape, values).
    ///
    /// # Panics
    /// When there is no tensor `key`.
    #[track_caller]
    pub fn get_f64(&self, key: &str) -> (Vec<usize>, Vec<f64>) {
        if let Some((shape, values)) = self.f32s.get(key) {
            return (shape.clone(), values.iter().map(|&v| f64::from(v)).collect());
        }
        self.f64s.get(key).cloned().unwrap_or_else(|| panic!("{}: missing tensor {key}", self.name))
    }

    /// The `F32` tensors, sorted by key: (key, shape, values).
    pub fn f32_tensors(&self) -> Vec<(&str, &[usize], &[f32])> {
        let mut all: Vec<_> =
            self.f32s.iter().map(|(k, (s, v))| (k.as_str(), s.as_slice(), v.as_slice())).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Writes the `F32` tensors whose key starts with `prefix`, with the prefix stripped, as a
    /// safetensors file at `path` (e.g. the `w.*` weights of a fixture as a standalone
    /// state_dict), and returns `path`.
    ///
    /// # Panics
    /// When the file cannot be written.
    #[track_caller]
    pub fn write_stripped(&self, prefix: &str, path: impl Into<PathBuf>) -> PathBuf {
        let path = path.into();
        let tensors: Vec<(String, Vec<usize>, Vec<f32>)> = self
            .f32_tensors()
            .into_iter()
            .filter_map(|(k, s, v)| Some((k.strip_prefix(prefix)?.to_string(), s.to_vec(), v.to_vec())))
            .collect();
        crate::write_safetensors(&path, &tensors);
        path
    }
}

#[cfg(feature = "burn")]
mod burn_helpers {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::Fixture;

    impl Fixture {
        /// `F32` tensor `key` as a Burn tensor of rank `D` on `device`.
        ///
        /// # Panics
        /// As [`Fixture::get`], or when the rank is not `D`.
        #[track_caller]
        pub fn tensor<const D: usize>(&self, key: &str, device: &Device) -> Tensor<D> {
            let (shape, values) = self.get(key).clone();
            Tensor::from_data(TensorData::new(values, shape), device)
        }

        /// Asserts that `actual` has the shape of reference `key` and matches it within
        /// `tol` of the reference's peak ([`crate::assert_close_to_peak`]).
        ///
        /// # Panics
        /// When the shapes differ or the error is above the tolerance.
        #[track_caller]
        pub fn assert_tensor<const D: usize>(&self, key: &str, actual: Tensor<D>, tol: f32) {
            let what = format!("{}/{key}", self.name);
            let (shape, expected) = self.get(key);
            assert_eq!(&actual.dims().to_vec(), shape, "{what}: shape");
            crate::assert_close_to_peak(&what, &to_vec(actual), expected, tol);
        }
    }

    /// `max |a - b| / max(max |b|, 1e-6)`: the largest error relative to the reference `b`'s
    /// peak, computed with Burn's ops on the tensors' device.
    pub fn max_rel_err<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        let scale = b.clone().abs().max().into_scalar::<f32>().max(1e-6);
        a.sub(b).abs().max().into_scalar::<f32>() / scale
    }

    /// The values of a Burn tensor, converted to `f32`.
    ///
    /// # Panics
    /// When the data cannot be read as `f32`.
    pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
    }
}

#[cfg(feature = "burn")]
pub use burn_helpers::{max_rel_err, to_vec};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_keys() {
        let dir = crate::tmp_dir("fixture");
        let path = dir.join("demo.safetensors");
        crate::write_safetensors(
            &path,
            &[("w.a".into(), vec![2, 2], vec![1.0, 2.0, 3.0, -4.5]), ("in.x".into(), vec![1], vec![0.25])],
        );
        let fx = Fixture::open(&path);
        assert_eq!(fx.name(), "demo");
        assert_eq!(fx.shape("w.a"), &[2, 2]);
        assert_eq!(fx.values("w.a"), &[1.0, 2.0, 3.0, -4.5]);
        assert_eq!(fx.get_f64("in.x"), (vec![1], vec![0.25]));
        assert!(fx.try_get("nope").is_none());
        let keys: Vec<_> = fx.f32_tensors().into_iter().map(|t| t.0).collect();
        assert_eq!(keys, ["in.x", "w.a"]);
        let stripped = Fixture::open(fx.write_stripped("w.", dir.join("weights.safetensors")));
        assert_eq!(stripped.f32_tensors(), [("a", &[2usize, 2][..], &[1.0f32, 2.0, 3.0, -4.5][..])]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
