//! Pictures of localization: the frame with its sounding boxes beside the maps.

use std::path::{Path, PathBuf};

use av_data::bbox::BBox;
use av_data::image_io::resize_bilinear;
use av_data::viz::{caption, draw_box, grid, overlay, save_png};

use av_align::Result;

use crate::bench::BenchData;
use crate::eval::SceneMaps;

/// Writes one picture per scene: the frame with its sounding boxes, the class-agnostic overlay
/// and the per-class overlays of the two most probable audio classes. Returns the paths.
///
/// # Errors
/// [`av_align::Error::Data`] (a picture that cannot be written or a map of another size).
pub fn write_overlays(
    data: &BenchData,
    maps: &[SceneMaps],
    dir: &Path,
    count: usize,
) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (i, (m, truth)) in maps.iter().zip(&data.truths).take(count).enumerate() {
        // Pictures are drawn at >= 256 px whatever the model's frame size.
        let small = &data.dataset.samples()[i].frame;
        let side = small.width().max(256);
        let scale = side as f64 / small.width() as f64;
        let frame = &resize_bilinear(small, side, side);
        let mut annotated = frame.clone();
        for o in truth.objects.iter().filter(|o| o.sounding) {
            let b = BBox::new(o.bbox[0] * scale, o.bbox[1] * scale, o.bbox[2] * scale, o.bbox[3] * scale);
            draw_box(&mut annotated, &b, [0, 255, 0], 2, false);
        }
        caption(&mut annotated, "input + sounding boxes");
        let mut tiles = vec![annotated];
        let mut agn = overlay(frame, &m.agnostic, m.size, m.size, 0.6)?;
        caption(&mut agn, "all sounds");
        tiles.push(agn);
        let mut order: Vec<usize> = (0..m.audio_probs.len()).collect();
        order.sort_by(|&a, &b| m.audio_probs[b].total_cmp(&m.audio_probs[a]));
        let plane = m.size * m.size;
        for &c in order.iter().take(2) {
            // Each class map is shown divided by its own maximum (its values are cosines in [0, 1]).
            let class_map = &m.per_class[c * plane..(c + 1) * plane];
            let peak = class_map.iter().fold(0.0f32, |a, &b| a.max(b));
            let shown: Vec<f32> =
                class_map.iter().map(|&v| if peak > 0.0 { v / peak } else { 0.0 }).collect();
            let mut t = overlay(frame, &shown, m.size, m.size, 0.6)?;
            let name = data.class_names.get(c).map_or("?", String::as_str);
            let sounds =
                if truth.objects.iter().any(|o| o.sounding && o.class == c) { "plays" } else { "silent" };
            caption(&mut t, &format!("{name} p={:.2} ({sounds})", m.audio_probs[c]));
            tiles.push(t);
        }
        let picture = grid(&tiles, tiles.len() as u32, 4, [255, 255, 255]);
        let path = dir.join(format!("{}.png", truth.id));
        save_png(&path, &picture)?;
        paths.push(path);
    }
    Ok(paths)
}
