//! What a loader does with a bad item, and the report that accounts for every item.
//!
//! Nothing is dropped silently: with [`SkipPolicy::Error`] the first bad item aborts the load
//! with its typed error; with [`SkipPolicy::Skip`] the item is left out and recorded in the
//! [`LoadReport`] with its reason, the file and the error message.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// What to do with an item whose files are missing or malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SkipPolicy {
    /// Fail with the item's error (the default).
    #[default]
    Error,
    /// Leave the item out and record it in the [`LoadReport`].
    Skip,
}

/// Why an item was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A file the item needs does not exist.
    MissingFile,
    /// The annotation (XML, JSON, text line) is malformed.
    MalformedAnnotation,
    /// A box is empty, inverted or not finite.
    InvalidBox,
    /// A box lies outside the image.
    BoxOutsideImage,
    /// The frame cannot be decoded.
    UnreadableImage,
    /// The audio cannot be decoded.
    UnreadableAudio,
    /// A class name is not in the vocabulary.
    UnknownClass,
    /// Anything else (I/O errors, bad `.npy` files).
    Other,
}

impl SkipReason {
    /// The reason an error stands for.
    pub fn of(error: &DataError) -> SkipReason {
        match error {
            DataError::Missing { .. } => SkipReason::MissingFile,
            DataError::Xml { .. } | DataError::Json { .. } | DataError::Text { .. } => {
                SkipReason::MalformedAnnotation
            }
            DataError::InvalidBox { .. } => SkipReason::InvalidBox,
            DataError::BoxOutsideImage { .. } => SkipReason::BoxOutsideImage,
            DataError::Image { .. } => SkipReason::UnreadableImage,
            DataError::Audio(_) => SkipReason::UnreadableAudio,
            DataError::UnknownClass { .. } => SkipReason::UnknownClass,
            _ => SkipReason::Other,
        }
    }
}

/// One skipped item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// The item's id (file stem, video id, ...).
    pub item: String,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// The offending file, when known.
    pub path: Option<PathBuf>,
    /// The full error message.
    pub message: String,
}

/// The account of one load: how many items were loaded and every item that was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Which loader ("flickr-test", "audioset", ...).
    pub dataset: String,
    /// The dataset root.
    pub root: PathBuf,
    /// Items loaded.
    pub loaded: usize,
    /// Items skipped (only with [`SkipPolicy::Skip`]).
    pub skipped: Vec<SkippedItem>,
}

impl LoadReport {
    /// An empty report.
    pub fn new(dataset: &str, root: impl Into<PathBuf>) -> Self {
        Self { dataset: dataset.to_string(), root: root.into(), loaded: 0, skipped: Vec::new() }
    }

    /// Number of skipped items per reason.
    pub fn counts(&self) -> BTreeMap<SkipReason, usize> {
        let mut m = BTreeMap::new();
        for s in &self.skipped {
            *m.entry(s.reason).or_insert(0) += 1;
        }
        m
    }

    /// One line: `"flickr-test: 249 loaded, 1 skipped (MissingFile: 1)"`.
    pub fn summary(&self) -> String {
        let counts: Vec<String> = self.counts().iter().map(|(r, n)| format!("{r:?}: {n}")).collect();
        if counts.is_empty() {
            format!("{}: {} loaded, 0 skipped", self.dataset, self.loaded)
        } else {
            format!(
                "{}: {} loaded, {} skipped ({})",
                self.dataset,
                self.loaded,
                self.skipped.len(),
                counts.join(", ")
            )
        }
    }

    /// Applies `policy` to one item's result: `Ok(Some(v))` for a good item (counted as loaded),
    /// `Ok(None)` for a skipped one (recorded), `Err` under [`SkipPolicy::Error`].
    pub(crate) fn take<T>(&mut self, policy: SkipPolicy, item: &str, result: Result<T>) -> Result<Option<T>> {
        match result {
            Ok(v) => {
                self.loaded += 1;
                Ok(Some(v))
            }
            Err(e) if policy == SkipPolicy::Skip => {
                self.skipped.push(SkippedItem {
                    item: item.to_string(),
                    reason: SkipReason::of(&e),
                    path: e.path().map(|p| p.to_path_buf()),
                    message: e.to_string(),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let missing = || DataError::Missing { what: "audio", path: "a.wav".into() };
        let mut r = LoadReport::new("t", "/");
        assert_eq!(r.take(SkipPolicy::Skip, "a", Ok(1)).unwrap(), Some(1));
        assert_eq!(r.take::<i32>(SkipPolicy::Skip, "b", Err(missing())).unwrap(), None);
        assert!(r.take::<i32>(SkipPolicy::Error, "c", Err(missing())).is_err());
        assert_eq!(r.loaded, 1);
        assert_eq!(r.counts().get(&SkipReason::MissingFile), Some(&1));
        assert_eq!(r.skipped[0].path.as_deref(), Some(std::path::Path::new("a.wav")));
        assert_eq!(r.summary(), "t: 1 loaded, 1 skipped (MissingFile: 1)");
    }
}
