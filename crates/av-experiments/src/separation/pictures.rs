//! Pictures and WAVs of a few test mixtures: spectrograms, masks and the guide's maps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use av_data::classes::Vocabulary;
use av_data::image_io::resize_bilinear;
use av_data::viz::{array_image, caption, grid, overlay, save_png};
use av_separation::{GuidanceKind, Mixer};
use image::RgbImage;

use av_align::Result;

use super::data::SeparationData;
use super::score::VariantOutput;
use super::{SeparationPlan, TrainingSet};

/// A `(256, 256)` array (rows low to high) as a picture, low rows at the bottom.
fn labelled(mut img: RgbImage, text: &str) -> RgbImage {
    caption(&mut img, text);
    img
}

/// Writes, for the first `plan.examples` test mixtures: `mixture.wav`, `gt_<n>_<class>.wav` and
/// `<variant>_<n>_<class>.wav` (Ours Visual and the whole-frame baseline, multi-source), and one
/// picture per mixture: per source, the mixture's log-spectrogram, the ideal mask, the
/// predicted masks of Ours Visual, the whole-frame baseline and Grad-CAM, and the frame with the
/// localization map `K^c` (rows of the picture = sources).
pub(super) fn write_examples(
    plan: &SeparationPlan,
    data: &SeparationData,
    outputs: &HashMap<(GuidanceKind, TrainingSet), VariantOutput>,
    mixer: &Mixer,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let names = Vocabulary::Music11.names();
    let rate = mixer.config().sample_rate;
    let shown = [
        (GuidanceKind::Visual, TrainingSet::MultiSource, "visual"),
        (GuidanceKind::WholeFrame, TrainingSet::MultiSource, "whole frame"),
        (GuidanceKind::GradCam, TrainingSet::MultiSource, "grad-cam"),
    ];
    for (i, item) in data.test.iter().enumerate().take(plan.examples) {
        let sub = dir.join(format!("{i:02}_{}", item.origin.id.replace('+', "_")));
        let mixture = mixer.reconstruct_mixture(&item.example.input.spectra)?;
        let mut stems: Vec<(String, Vec<f32>)> = vec![("mixture".into(), mixture)];
        for (n, &class) in item.origin.classes.iter().enumerate() {
            let cname = names.get(class).copied().unwrap_or("unknown");
            let len = mixer.config().output_len().min(item.example.sources[n].len());
            stems.push((format!("gt_{n}_{cname}"), item.example.sources[n][..len].to_vec()));
            for (kind, set, _) in &shown[..2] {
                if let Some(o) = outputs.get(&(*kind, *set)) {
                    stems.push((
                        format!("{}_{}_{n}_{cname}", kind.slug(), set.slug()),
                        o.estimates[i][n].clone(),
                    ));
                }
            }
        }
        let refs: Vec<(&str, &[f32])> = stems.iter().map(|(n, s)| (n.as_str(), s.as_slice())).collect();
        files.extend(av_separation::write_wavs(&sub, &refs, rate)?);

        let logmag = &item.example.input.log_magnitude;
        let (lo, hi) = logmag.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let lo = lo.max(hi - 12.0);
        let mut tiles = Vec::new();
        for (n, &class) in item.origin.classes.iter().enumerate() {
            let cname = names.get(class).copied().unwrap_or("?");
            tiles.push(labelled(array_image(logmag, lo, hi, true), "mixture log|X|"));
            tiles.push(labelled(
                array_image(&item.example.targets[n], 0.0, 1.0, false),
                &format!("ideal {cname}"),
            ));
            for (kind, set, label) in shown {
                let tile = match outputs.get(&(kind, set)) {
                    Some(o) => array_image(&o.masks[i][n], 0.0, 1.0, false),
                    None => RgbImage::new(256, 256),
                };
                tiles.push(labelled(tile, label));
            }
            let g = &item.guidance[n];
            let frame = data
                .frames
                .get(&item.frame_ids[n])
                .map(|f| resize_bilinear(f, 256, 256))
                .unwrap_or_else(|| RgbImage::new(256, 256));
            let max = g.localization.iter().copied().fold(0.0f32, f32::max);
            let k: Vec<f32> = g.localization.iter().map(|v| if max > 0.0 { v / max } else { 0.0 }).collect();
            let pic = overlay(&frame, &k, g.loc_size[1], g.loc_size[0], 0.6)?;
            tiles.push(labelled(pic, &format!("K^c {cname}")));
        }
        let picture = grid(&tiles, 6, 4, [255, 255, 255]);
        let path = sub.join("masks.png");
        save_png(&path, &picture)?;
        files.push(path);
    }
    Ok(files)
}
