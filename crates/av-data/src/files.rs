//! Small file helpers shared by the loaders and writers: text, JSON, id lists, directory listings.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DataError, Result, io_err, json_err};

/// Extensions tried, in order, for frames.
pub const IMAGE_EXTS: [&str; 3] = ["jpg", "png", "jpeg"];
/// Extensions tried, in order, for audio.
pub const AUDIO_EXTS: [&str; 6] = ["wav", "flac", "mp3", "ogg", "m4a", "aac"];

/// Reads a UTF-8 text file.
///
/// # Errors
/// [`DataError::Missing`] (with `what`), [`DataError::Io`].
pub fn read_text(path: &Path, what: &'static str) -> Result<String> {
    if !path.exists() {
        return Err(DataError::Missing { what, path: path.to_path_buf() });
    }
    std::fs::read_to_string(path).map_err(io_err(path))
}

/// Reads and deserialises a JSON file.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`], [`DataError::Json`] (with serde's line/column).
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<T> {
    let text = read_text(path, what)?;
    serde_json::from_str(&text).map_err(json_err(path))
}

/// Writes a value as pretty JSON with a trailing newline (deterministic for ordered types),
/// atomically: into `<path>.tmp`, then renamed over `path`, so a reader (or a resumed run) never
/// sees half a file. The one JSON writer of the workspace.
///
/// # Errors
/// [`DataError::Json`], [`DataError::Io`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(json_err(path))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text + "\n").map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Creates a directory and its parents.
///
/// # Errors
/// [`DataError::Io`].
pub fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(io_err(path))
}

/// `dir/stem.ext` for the first extension in `exts` that exists.
pub fn find_with_ext(dir: &Path, stem: &str, exts: &[&str]) -> Option<PathBuf> {
    exts.iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.is_file())
}

/// Like [`find_with_ext`], but a [`DataError::Missing`] naming the first candidate when none exists.
///
/// # Errors
/// [`DataError::Missing`].
pub fn require_with_ext(dir: &Path, stem: &str, exts: &[&str], what: &'static str) -> Result<PathBuf> {
    find_with_ext(dir, stem, exts).ok_or_else(|| DataError::Missing {
        what,
        path: dir.join(format!("{stem}.{}", exts.first().copied().unwrap_or(""))),
    })
}

/// Entries of a directory, sorted by name.
///
/// # Errors
/// [`DataError::Missing`] for a missing directory, [`DataError::Io`].
pub fn list_dir(dir: &Path, what: &'static str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(DataError::Missing { what, path: dir.to_path_buf() });
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        out.push(entry.map_err(io_err(dir))?.path());
    }
    out.sort();
    Ok(out)
}

/// The file name without a known media/annotation extension.
pub fn strip_known_ext(name: &str) -> &str {
    const KNOWN: [&str; 13] =
        ["jpg", "jpeg", "png", "wav", "flac", "mp3", "ogg", "m4a", "aac", "mp4", "xml", "json", "npy"];
    match name.rsplit_once('.') {
        Some((stem, ext)) if KNOWN.contains(&ext.to_ascii_lowercase().as_str()) => stem,
        _ => name,
    }
}

/// Reads an id list: one item per line; the first comma-separated field is the id, with any
/// directory and known extension removed (`10000130166,202` and `frames/2432219254.png` give
/// `10000130166` and `2432219254`). Blank lines and lines starting with `#` are ignored.
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`], [`DataError::Text`] for a line whose id is empty.
pub fn read_id_list(path: &Path) -> Result<Vec<String>> {
    let text = read_text(path, "id list")?;
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let field = line.split(',').next().unwrap_or("").trim();
        let name = field.rsplit(['/', '\\']).next().unwrap_or(field);
        let id = strip_known_ext(name);
        if id.is_empty() {
            return Err(DataError::Text { path: path.to_path_buf(), line: i + 1, detail: "empty id".into() });
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Writes an id list, one id per line.
///
/// # Errors
/// [`DataError::Io`].
pub fn write_id_list(path: &Path, ids: &[String]) -> Result<()> {
    let mut text = ids.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(io_err(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn id_lists() {
        let dir = std::env::temp_dir().join(format!("av-data-ids-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let p = dir.join("ids.txt");
        std::fs::write(&p, "# header\n10000130166,202\n\nframes/2432219254.png\nplain\n").unwrap();
        assert_eq!(read_id_list(&p).unwrap(), vec!["10000130166", "2432219254", "plain"]);
        std::fs::write(&p, "ok\n,5\n").unwrap();
        assert!(matches!(read_id_list(&p), Err(DataError::Text { line: 2, .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
