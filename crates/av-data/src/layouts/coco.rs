//! The COCO-style box file of the AudioSet-instrument subset (`utils/normav.json` of the official
//! code): `images` (`id`, `width`, `height`), `annotations` (`image_id`, `category_id`,
//! `bbox = [x, y, w, h]` normalised by the image size, `area`, `iscrowd`, `segmentation`) and
//! `categories` (`id` 0..14, `name`, `supercategory`).

use serde::{Deserialize, Serialize};

/// A whole COCO file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    /// Category list (`id` = class index).
    pub categories: Vec<CocoCategory>,
    /// One entry per box.
    pub annotations: Vec<CocoAnnotation>,
    /// One entry per annotated frame.
    #[serde(default)]
    pub images: Vec<CocoImage>,
}

/// A category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CocoCategory {
    /// Class index.
    pub id: usize,
    /// Display name (`"Banjo"`, ...).
    pub name: String,
    /// Parent name (the official file repeats the name).
    #[serde(default)]
    pub supercategory: String,
}

/// A box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Annotation id.
    pub id: u64,
    /// Frame id: `clip_index * 10 + frame` (1 fps frames 0..9 of a 10-s clip).
    pub image_id: u64,
    /// Class index.
    pub category_id: usize,
    /// `[x, y, w, h]` normalised by the image width and height.
    pub bbox: [f64; 4],
    /// Box area in pixels of the original image (informative).
    #[serde(default)]
    pub area: f64,
    /// COCO crowd flag (always 0 here).
    #[serde(default)]
    pub iscrowd: u8,
    /// Unused placeholder (`[[0.0]]` in the official file).
    #[serde(default)]
    pub segmentation: serde_json::Value,
}

/// A frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CocoImage {
    /// Frame id (see [`CocoAnnotation::image_id`]).
    pub id: u64,
    /// Width of the original frame in pixels.
    pub width: u32,
    /// Height of the original frame in pixels.
    pub height: u32,
    /// Path relative to the split directory (absent in the official file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}
