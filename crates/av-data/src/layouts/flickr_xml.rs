//! The per-image XML annotations of the SoundNet-Flickr test set (Senocak et al.), as the public
//! localization code reads them (LVS `utils.py:testset_gt`, EZ-VSL `load_all_bboxes`): every
//! `<bbox>` element under the root's children is one annotator's box; its first child element is
//! skipped by those readers and the next four are `xmin, ymin, xmax, ymax`, 1-based pixel indices
//! on the 256x256 image.
//!
//! This reader accepts that and the usual variants: coordinates found by tag name
//! (`<xmin>`...`<ymax>`, in any order) or by position (the four children after the first),
//! `<bndbox>` as well as `<bbox>`, an optional `<size><width>/<height>` giving the canvas, a class
//! name from a `<name>`/`<class>`/`<label>` child of the box or of its parent, and the annotator
//! from an `annotator` attribute. [`flickr_xml`] writes files that both this reader and the
//! Python readers above accept.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bbox::BBox;
use crate::error::{DataError, Result};
use crate::files::read_text;

/// One annotator's box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotatedBox {
    /// The box in pixel edges (see [`crate::bbox`]), clamped to the canvas.
    pub bbox: BBox,
    /// Annotator number, when the file says.
    pub annotator: Option<u32>,
    /// Class name, when the file says.
    pub label: Option<String>,
}

/// A parsed annotation file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlickrAnnotation {
    /// Canvas width the coordinates refer to (from `<size>`, else the default, 256).
    pub width: u32,
    /// Canvas height.
    pub height: u32,
    /// Every box, in file order.
    pub boxes: Vec<AnnotatedBox>,
}

fn xml_err(path: &Path, detail: impl Into<String>) -> DataError {
    DataError::Xml { path: path.to_path_buf(), detail: detail.into() }
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, names: &[&str]) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && names.contains(&c.tag_name().name()))
}

fn number(path: &Path, node: roxmltree::Node<'_, '_>) -> Result<f64> {
    let text = node.text().unwrap_or("").trim();
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| xml_err(path, format!("<{}> is not a number: {text:?}", node.tag_name().name())))
}

/// Parses an annotation file's text. `canvas` is used when the file has no `<size>`;
/// `tolerance` (pixels) is the slack allowed outside the canvas before a box is rejected.
///
/// # Errors
/// [`DataError::Xml`] (not well-formed, no box, non-numeric coordinate), [`DataError::InvalidBox`]
/// (empty or inverted), [`DataError::BoxOutsideImage`].
pub fn parse_flickr_xml(
    path: &Path,
    text: &str,
    canvas: (u32, u32),
    tolerance: f64,
) -> Result<FlickrAnnotation> {
    let doc = roxmltree::Document::parse(text).map_err(|e| xml_err(path, e.to_string()))?;
    let root = doc.root_element();
    let (mut width, mut height) = canvas;
    if let Some(size) = child(root, &["size"]) {
        let dim = |n: &str| child(size, &[n]).map(|c| number(path, c)).transpose();
        if let (Some(w), Some(h)) = (dim("width")?, dim("height")?) {
            if !(w >= 1.0 && h >= 1.0) {
                return Err(xml_err(path, format!("bad <size> {w}x{h}")));
            }
            (width, height) = (w as u32, h as u32);
        }
    }
    let mut boxes = Vec::new();
    for node in
        root.descendants().filter(|n| n.is_element() && matches!(n.tag_name().name(), "bbox" | "bndbox"))
    {
        let named: Vec<_> = ["xmin", "ymin", "xmax", "ymax"].iter().map(|n| child(node, &[n])).collect();
        let coords: Vec<f64> = if named.iter().all(Option::is_some) {
            named.into_iter().flatten().map(|c| number(path, c)).collect::<Result<_>>()?
        } else {
            let elems: Vec<_> = node.children().filter(|c| c.is_element()).collect();
            if elems.len() != 5 {
                return Err(xml_err(
                    path,
                    format!("<{}> needs <xmin> <ymin> <xmax> <ymax> children", node.tag_name().name()),
                ));
            }
            elems[1..].iter().map(|&c| number(path, c)).collect::<Result<_>>()?
        };
        let raw = [coords[0], coords[1], coords[2], coords[3]];
        let bbox = BBox::from_flickr(raw[0], raw[1], raw[2], raw[3]);
        if !bbox.is_valid() {
            return Err(DataError::InvalidBox {
                path: path.to_path_buf(),
                detail: format!("xmin/ymin/xmax/ymax = {raw:?} is empty or inverted"),
            });
        }
        if !bbox.is_inside(width, height, tolerance) {
            return Err(DataError::BoxOutsideImage { path: path.to_path_buf(), bbox: raw, width, height });
        }
        let (w, h) = (f64::from(width), f64::from(height));
        let bbox = BBox::new(bbox.x0.max(0.0), bbox.y0.max(0.0), bbox.x1.min(w), bbox.y1.min(h));
        let label_of = |n: roxmltree::Node<'_, '_>| {
            child(n, &["name", "class", "label"]).and_then(|c| c.text()).map(|t| t.trim().to_string())
        };
        let label = label_of(node).or_else(|| node.parent_element().and_then(label_of));
        let annotator = node
            .attribute("annotator")
            .map(str::to_string)
            .or_else(|| child(node, &["annotator"]).and_then(|c| c.text()).map(str::to_string))
            .and_then(|t| t.trim().parse::<u32>().ok());
        boxes.push(AnnotatedBox { bbox, annotator, label });
    }
    if boxes.is_empty() {
        return Err(xml_err(path, "no <bbox> element"));
    }
    Ok(FlickrAnnotation { width, height, boxes })
}

/// Reads and parses an annotation file (see [`parse_flickr_xml`]).
///
/// # Errors
/// [`DataError::Missing`], [`DataError::Io`] and those of [`parse_flickr_xml`].
pub fn read_flickr_xml(path: &Path, canvas: (u32, u32), tolerance: f64) -> Result<FlickrAnnotation> {
    let text = read_text(path, "annotation")?;
    parse_flickr_xml(path, &text, canvas, tolerance)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Writes an annotation file's text: one `<object>` per entry of `objects` (its boxes, one per
/// annotator, with the class name as the box's first child), coordinates as 1-based inclusive
/// integers. No `<size>` element is written, because the Python readers would take its children
/// for a box; the canvas is the 256x256 frame.
pub fn flickr_xml(filename: &str, objects: &[Vec<AnnotatedBox>]) -> String {
    let mut s = String::from("<annotation>\n");
    s.push_str(&format!("  <filename>{}</filename>\n", escape(filename)));
    for boxes in objects {
        s.push_str("  <object>\n");
        for b in boxes {
            let [xmin, ymin, xmax, ymax] = b.bbox.to_flickr();
            match b.annotator {
                Some(a) => s.push_str(&format!("    <bbox annotator=\"{a}\">\n")),
                None => s.push_str("    <bbox>\n"),
            }
            s.push_str(&format!("      <name>{}</name>\n", escape(b.label.as_deref().unwrap_or("object"))));
            s.push_str(&format!(
                "      <xmin>{xmin}</xmin>\n      <ymin>{ymin}</ymin>\n      <xmax>{xmax}</xmax>\n      <ymax>{ymax}</ymax>\n"
            ));
            s.push_str("    </bbox>\n");
        }
        s.push_str("  </object>\n");
    }
    s.push_str("</annotation>\n");
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const P: &str = "x.xml";

    #[test]
    fn positional_and_named_coordinates() {
        let lvs = "<annotation><object><bbox><difficult>0</difficult><xmin>11</xmin><ymin>21</ymin>\
                   <xmax>100</xmax><ymax>256</ymax></bbox></object></annotation>";
        let a = parse_flickr_xml(Path::new(P), lvs, (256, 256), 0.0).unwrap();
        assert_eq!(a.boxes[0].bbox, BBox::new(10.0, 20.0, 100.0, 256.0));
        let positional = "<a><o><bbox><n>x</n><c>11</c><c>21</c><c>100</c><c>256</c></bbox></o></a>";
        assert_eq!(parse_flickr_xml(Path::new(P), positional, (256, 256), 0.0).unwrap(), a);
    }

    #[test]
    fn written_files_read_back() {
        let b = |x0, annotator| AnnotatedBox {
            bbox: BBox::new(x0, 5.0, x0 + 10.0, 50.0),
            annotator: Some(annotator),
            label: Some("violin".into()),
        };
        let objects = vec![vec![b(0.0, 1), b(0.0, 2)], vec![b(100.0, 1)]];
        let text = flickr_xml("a.jpg", &objects);
        let a = parse_flickr_xml(Path::new(P), &text, (256, 256), 0.0).unwrap();
        assert_eq!(a.boxes, objects.concat());
    }

    #[test]
    fn errors_name_the_file() {
        let p = Path::new("anno/1.xml");
        let bad = parse_flickr_xml(p, "<annotation><bbox>", (256, 256), 0.0).unwrap_err();
        assert!(matches!(&bad, DataError::Xml { path, .. } if path == p), "{bad}");
        let outside =
            "<a><o><bbox><xmin>1</xmin><ymin>1</ymin><xmax>300</xmax><ymax>10</ymax></bbox></o></a>";
        let e = parse_flickr_xml(p, outside, (256, 256), 1.0).unwrap_err();
        assert!(matches!(e, DataError::BoxOutsideImage { width: 256, .. }), "{e}");
        let inverted =
            "<a><o><bbox><xmin>50</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bbox></o></a>";
        assert!(matches!(parse_flickr_xml(p, inverted, (256, 256), 1.0), Err(DataError::InvalidBox { .. })));
        assert!(matches!(parse_flickr_xml(p, "<a/>", (256, 256), 1.0), Err(DataError::Xml { .. })));
    }
}
