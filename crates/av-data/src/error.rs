//! The one error type of `av-data`. Every variant that concerns a file names it.

use std::path::{Path, PathBuf};

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading, writing or generating a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read, listed or written.
    #[error("I/O error on {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error (in the message, so not repeated as a `source`).
        error: std::io::Error,
    },
    /// A file the layout requires does not exist.
    #[error("missing {what}: {path} does not exist")]
    Missing {
        /// What the file should hold ("audio", "frame", "annotation", ...).
        what: &'static str,
        /// The path that was looked for (the first candidate when several extensions are tried).
        path: PathBuf,
    },
    /// An XML file is not well-formed or lacks required elements.
    #[error("malformed XML in {path}: {detail}")]
    Xml {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A JSON file is not valid JSON or does not have the expected structure.
    #[error("malformed JSON in {path}: {detail}")]
    Json {
        /// The file.
        path: PathBuf,
        /// What was wrong (serde's message, with line and column).
        detail: String,
    },
    /// A text file (id list, AVE annotations, split list) has a malformed line.
    #[error("malformed line {line} in {path}: {detail}")]
    Text {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        detail: String,
    },
    /// A NumPy `.npy` file cannot be read or has the wrong shape or dtype.
    #[error("bad .npy file {path}: {detail}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A bounding box is empty, inverted or not finite.
    #[error("invalid box in {path}: {detail}")]
    InvalidBox {
        /// The annotation file.
        path: PathBuf,
        /// The box and what is wrong with it.
        detail: String,
    },
    /// A bounding box lies (partly) outside the image it annotates.
    #[error("box {bbox:?} in {path} lies outside the {width}x{height} image")]
    BoxOutsideImage {
        /// The annotation file.
        path: PathBuf,
        /// The box as written in the file: Flickr XML `[xmin, ymin, xmax, ymax]` (1-based
        /// pixels), COCO `[x, y, w, h]` (normalised; then `width = height = 1`).
        bbox: [f64; 4],
        /// Width of the canvas the box refers to.
        width: u32,
        /// Height of the canvas the box refers to.
        height: u32,
    },
    /// An image file cannot be decoded (or encoded).
    #[error("unreadable image {path}: {detail}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        detail: String,
    },
    /// An audio file cannot be decoded or written (the inner error names the file).
    #[error(transparent)]
    Audio(#[from] av_audio::AudioError),
    /// A class name in an annotation is not part of the vocabulary.
    #[error("unknown class {name:?} in {path}")]
    UnknownClass {
        /// The annotation file.
        path: PathBuf,
        /// The name found.
        name: String,
    },
    /// A manifest check failed.
    #[error("manifest {path}: {detail}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What did not match.
        detail: String,
    },
    /// The committed asset pack is inconsistent (a bug in the pack, not in user data).
    #[error("asset pack: {name}: {detail}")]
    Asset {
        /// The asset.
        name: String,
        /// What was wrong.
        detail: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A map or picture has another size than the one it is drawn with.
    #[error("{what}: expected {expected}, got {found} values")]
    Shape {
        /// What was drawn.
        what: &'static str,
        /// The expected size, in words.
        expected: String,
        /// The number of values received.
        found: usize,
    },
    /// A map holds NaN or infinite values.
    #[error("{what} holds NaN or infinite values")]
    NonFinite {
        /// What was drawn.
        what: &'static str,
    },
}

impl DataError {
    /// The file this error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Missing { path, .. }
            | DataError::Xml { path, .. }
            | DataError::Json { path, .. }
            | DataError::Text { path, .. }
            | DataError::Npy { path, .. }
            | DataError::InvalidBox { path, .. }
            | DataError::BoxOutsideImage { path, .. }
            | DataError::Image { path, .. }
            | DataError::UnknownClass { path, .. }
            | DataError::Manifest { path, .. } => Some(path),
            DataError::Audio(_)
            | DataError::Asset { .. }
            | DataError::InvalidConfig(_)
            | DataError::Shape { .. }
            | DataError::NonFinite { .. } => None,
        }
    }
}

/// `DataError::Io` for `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |error| DataError::Io { path: path.to_path_buf(), error }
}

/// `DataError::Json` for `path`.
pub(crate) fn json_err(path: &Path) -> impl FnOnce(serde_json::Error) -> DataError + '_ {
    move |e| DataError::Json { path: path.to_path_buf(), detail: e.to_string() }
}
