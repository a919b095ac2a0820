//! Dataset manifests: every file of a dataset with its size and SHA-256, the dataset kind and,
//! for generated data, the generator's seed and configuration. A run records the manifest of
//! the data it used, and [`verify_manifest`] tells whether a directory still holds exactly that.
//!
//! File format (`manifest.json` at the dataset root, pretty JSON):
//! ```json
//! { "format": 1, "kind": "audioset", "created_by": "av-data 0.1.0",
//!   "generator": { "seed": 7, "config": { ... }, "asset_pack_sha256": "..." },
//!   "files": [ { "path": "val/audio/val_000000.wav", "bytes": 441044, "sha256": "9f86..." } ] }
//! ```
//! Paths are relative to the root, with `/` separators, sorted; the manifest does not list itself.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result, io_err};
use crate::files::{read_json, write_json};

/// File name of the manifest at a dataset root.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Which layout a dataset directory follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// SoundNet-Flickr training pairs ([`crate::layouts::flickr::FlickrTrainLayout`]).
    FlickrTrain,
    /// The annotated SoundNet-Flickr test set ([`crate::layouts::flickr::FlickrTestLayout`]).
    FlickrTest,
    /// A generated benchmark in the Flickr layout (`train/` pairs, `val/` and `test/` annotated).
    Flickr,
    /// AudioSet-instrument ([`crate::layouts::audioset::AudioSetLayout`]).
    AudioSet,
    /// MUSIC ([`crate::layouts::music::MusicLayout`]).
    Music,
    /// AVE ([`crate::layouts::ave::AveLayout`]).
    Ave,
}

/// How a generated dataset was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    /// The generator seed.
    pub seed: u64,
    /// The full generator configuration.
    pub config: serde_json::Value,
    /// SHA-256 over the embedded asset pack (see [`crate::bench::AssetPack::fingerprint`]).
    pub asset_pack_sha256: String,
}

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the dataset root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// A dataset manifest (see the module docs for the JSON format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version (1).
    pub format: u32,
    /// The dataset layout.
    pub kind: DatasetKind,
    /// The program that wrote the manifest.
    pub created_by: String,
    /// Seed and configuration when the data was generated.
    pub generator: Option<GeneratorInfo>,
    /// Every file under the root except the manifest itself, sorted by path.
    pub files: Vec<FileEntry>,
}

/// The outcome of [`verify_manifest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Files whose size and checksum match.
    pub ok: usize,
    /// Files whose size or checksum differs.
    pub changed: Vec<String>,
    /// Files listed in the manifest that are gone.
    pub missing: Vec<String>,
    /// Files present under the root but not listed.
    pub extra: Vec<String>,
}

impl VerifyReport {
    /// True when every listed file matches and nothing was added.
    pub fn is_clean(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Lower-case hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Size and SHA-256 of a file, read in 64 KiB chunks.
///
/// # Errors
/// [`DataError::Io`].
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total, hex(&hasher.finalize())))
}

/// Every regular file under `root` (recursively), as sorted `/`-separated relative paths,
/// excluding the root's `manifest.json`.
///
/// # Errors
/// [`DataError::Missing`] for a missing root, [`DataError::Io`].
pub fn list_files(root: &Path) -> Result<Vec<String>> {
    if !root.is_dir() {
        return Err(DataError::Missing { what: "dataset root", path: root.to_path_buf() });
    }
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let ty = entry.file_type().map_err(io_err(&dir))?;
            let child = rel.join(entry.file_name());
            if ty.is_dir() {
                stack.push(child);
            } else if ty.is_file() {
                let s: Vec<String> =
                    child.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                let s = s.join("/");
                if s != MANIFEST_FILE {
                    out.push(s);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hashes every file under `root` (in parallel) into a manifest.
///
/// # Errors
/// As [`list_files`] and [`hash_file`].
pub fn build_manifest(root: &Path, kind: DatasetKind, generator: Option<GeneratorInfo>) -> Result<Manifest> {
    let files = list_files(root)?
        .into_par_iter()
        .map(|rel| {
            let (bytes, sha256) = hash_file(&root.join(&rel))?;
            Ok(FileEntry { path: rel, bytes, sha256 })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Manifest {
        format: 1,
        kind,
        created_by: format!("av-data {}", env!("CARGO_PKG_VERSION")),
        generator,
        files,
    })
}

/// Builds the manifest of `root` and writes it to `root/manifest.json`.
///
/// # Errors
/// As [`build_manifest`], plus [`DataError::Io`] / [`DataError::Json`] when writing.
pub fn write_manifest(root: &Path, kind: DatasetKind, generator: Option<GeneratorInfo>) -> Result<Manifest> {
    let m = build_manifest(root, kind, generator)?;
    write_json(&root.join(MANIFEST_FILE), &m)?;
    Ok(m)
}

/// Reads a manifest file.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`], [`DataError::Json`].
pub fn read_manifest(path: &Path) -> Result<Manifest> {
    let m: Manifest = read_json(path, "manifest")?;
    if m.format != 1 {
        return Err(DataError::Manifest {
            path: path.to_path_buf(),
            detail: format!("unknown format {}", m.format),
        });
    }
    Ok(m)
}

/// Checks `root` against `root/manifest.json`: sizes and checksums of every listed file, and
/// files that were added.
///
/// # Errors
/// As [`read_manifest`] and [`list_files`]; differences are reported in the [`VerifyReport`],
/// not as errors.
pub fn verify_manifest(root: &Path) -> Result<VerifyReport> {
    let manifest = read_manifest(&root.join(MANIFEST_FILE))?;
    let present = list_files(root)?;
    let listed: std::collections::BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let extra = present.iter().filter(|p| !listed.contains(p.as_str())).cloned().collect();
    let checks: Vec<(String, Option<bool>)> = manifest
        .files
        .par_iter()
        .map(|f| {
            let path = root.join(&f.path);
            if !path.is_file() {
                return Ok((f.path.clone(), None));
            }
            let (bytes, sha) = hash_file(&path)?;
            Ok((f.path.clone(), Some(bytes == f.bytes && sha == f.sha256)))
        })
        .collect::<Result<_>>()?;
    let mut report = VerifyReport { extra, ..Default::default() };
    for (path, status) in checks {
        match status {
            None => report.missing.push(path),
            Some(true) => report.ok += 1,
            Some(false) => report.changed.push(path),
        }
    }
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn write_verify_and_detect_changes() {
        let root = std::env::temp_dir().join(format!("av-data-manifest-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), b"abc").unwrap();
        std::fs::write(root.join("sub/b.txt"), b"hello").unwrap();
        let m = write_manifest(&root, DatasetKind::Ave, None).unwrap();
        assert_eq!(m.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["a.txt", "sub/b.txt"]);
        assert!(verify_manifest(&root).unwrap().is_clean());
        std::fs::write(root.join("a.txt"), b"abd").unwrap();
        std::fs::write(root.join("c.txt"), b"new").unwrap();
        std::fs::remove_file(root.join("sub/b.txt")).unwrap();
        let r = verify_manifest(&root).unwrap();
        assert_eq!(
            (r.changed, r.missing, r.extra),
            (vec!["a.txt".into()], vec!["sub/b.txt".into()], vec!["c.txt".into()])
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
