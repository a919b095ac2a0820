//! Temporary directories and safetensors files written by tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory under the system's temporary directory, unique to this process
/// and this call: `{tmp}/av-testkit-{tag}-{pid}-{n}`. Tests running in parallel, or calling it
/// twice with the same `tag`, never share one. It is not removed afterwards (a test that wants
/// it gone removes it).
///
/// # Panics
/// When the directory cannot be created.
#[track_caller]
pub fn tmp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("av-testkit-{tag}-{}-{n}", std::process::id()));
    // A leftover of an earlier process with the same id.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Writes `tensors` (name, shape, row-major values) as an `F32` safetensors file at `path`.
///
/// # Panics
/// When a shape does not match its values or the file cannot be written.
#[track_caller]
pub fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> =
        tensors.iter().map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), bytes)| {
            let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .unwrap_or_else(|e| panic!("tensor {name}: {e:?}"));
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path)
        .unwrap_or_else(|e| panic!("cannot write {}: {e:?}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_dirs_are_fresh_and_unique() {
        let (a, b) = (tmp_dir("same"), tmp_dir("same"));
        assert_ne!(a, b);
        assert!(a.is_dir() && b.is_dir());
        assert_eq!(std::fs::read_dir(&a).unwrap().count(), 0);
        std::fs::remove_dir_all(a).unwrap();
        std::fs::remove_dir_all(b).unwrap();
    }
}
