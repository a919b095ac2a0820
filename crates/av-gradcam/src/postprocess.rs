//! What happens to a raw class activation map before it is used: ReLU, the original code's
//! threshold and binarisation, normalisation and upsampling.

use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

/// How maps are scaled to `[0, 1]`, per image and per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CamNormalization {
    /// Left as they are (MSSL `new/`: `relu(CAM)`, un-normalised).
    #[default]
    None,
    /// Divided by the map's maximum (the paper's Grad-CAM); a map whose maximum is `<= 0`
    /// becomes all zeros.
    Max,
    /// `(m - min) / (max(m - min) + 1e-7)`, as `pytorch_grad_cam.utils.image.scale_cam_image`.
    MinMax,
}

/// Post-processing of raw maps `Σ_k α_k A_k`, applied in this order: subtract `threshold`,
/// ReLU, binarise, normalise, upsample.
///
/// The presets name the variants of the reference code (docs/reference_implementation.md §3.4, §10.5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CamPostprocess {
    /// Clamp negative values to 0 (every variant does).
    pub relu: bool,
    /// Subtracted before the ReLU: the original code's `relu(cam - 0.1)` uses `Some(0.1)`.
    pub threshold: Option<f32>,
    /// Replace every positive value by 1 (the original audio CAM's `pcam = 1[cam > 0.1]`).
    pub binarize: bool,
    /// Scaling to `[0, 1]`.
    pub normalization: CamNormalization,
    /// Bilinear upsampling (half-pixel centres, PyTorch `align_corners=False`, equal to cv2's
    /// `INTER_LINEAR` when enlarging) to `[height, width]`, e.g. the input image size.
    pub output_size: Option<[usize; 2]>,
}

impl Default for CamPostprocess {
    fn default() -> Self {
        Self::mssl_new()
    }
}

impl CamPostprocess {
    /// MSSL `new/` (`stage_two.py:49-79`): `relu(CAM)`, nothing else. The default.
    pub fn mssl_new() -> Self {
        Self {
            relu: true,
            threshold: None,
            binarize: false,
            normalization: CamNormalization::None,
            output_size: None,
        }
    }

    /// The paper's Grad-CAM (Eq. 4): ReLU, then divided by the per-map maximum.
    pub fn paper() -> Self {
        Self { normalization: CamNormalization::Max, ..Self::mssl_new() }
    }

    /// The original visual CAM (`CAMVisual`, `detector.py:282-301`): `relu(cam - 0.1)`.
    pub fn original_visual() -> Self {
        Self { threshold: Some(0.1), ..Self::mssl_new() }
    }

    /// The original audio CAM (`CAMAudio`, `detector.py:303-342`): `1[cam > 0.1]`.
    pub fn original_audio() -> Self {
        Self { threshold: Some(0.1), binarize: true, ..Self::mssl_new() }
    }

    /// `pytorch_grad_cam`'s output: ReLU, min-max scaling, resize to the input size.
    pub fn pytorch_grad_cam(output_size: [usize; 2]) -> Self {
        Self { normalization: CamNormalization::MinMax, output_size: Some(output_size), ..Self::mssl_new() }
    }

    /// The same settings with another output size.
    pub fn with_output_size(self, output_size: Option<[usize; 2]>) -> Self {
        Self { output_size, ..self }
    }

    /// Applies the steps to maps `[N, C, H, W]` (one map per image and class).
    ///
    /// # Shapes
    /// `[N, C, H, W]` -> `[N, C, H', W']` (`output_size` or unchanged).
    pub fn apply(&self, maps: Tensor<4>) -> Tensor<4> {
        let mut m = maps;
        if let Some(t) = self.threshold {
            m = m.sub_scalar(t);
        }
        if self.relu {
            m = m.clamp_min(0.0);
        }
        if self.binarize {
            m = m.greater_elem(0.0).float();
        }
        m = normalize(m, self.normalization);
        match self.output_size {
            Some(size) => upsample_bilinear(m, size),
            None => m,
        }
    }
}

/// Per-map normalisation of `[N, C, H, W]`.
pub fn normalize(maps: Tensor<4>, how: CamNormalization) -> Tensor<4> {
    let [n, c, h, w] = maps.dims();
    let flat = maps.reshape([n, c, h * w]);
    let out = match how {
        CamNormalization::None => flat,
        CamNormalization::Max => {
            let max = flat.clone().max_dim(2);
            // Maps whose maximum is <= 0 become zeros rather than NaN or sign-flipped.
            let positive = max.clone().greater_elem(0.0).float();
            let safe = max.clamp_min(f32::MIN_POSITIVE);
            (flat / safe).clamp_min(0.0) * positive
        }
        CamNormalization::MinMax => {
            let shifted = flat.clone() - flat.min_dim(2);
            let max = shifted.clone().max_dim(2);
            shifted / max.add_scalar(1e-7)
        }
    };
    out.reshape([n, c, h, w])
}

/// Bilinear resize with half-pixel centres (PyTorch `F.interpolate(mode="bilinear",
/// align_corners=False)`, MSSL `new/main.py:105-107`).
///
/// # Shapes
/// `[N, C, H, W]` -> `[N, C, size[0], size[1]]`.
pub fn upsample_bilinear(maps: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
    let [_, _, h, w] = maps.dims();
    if [h, w] == size {
        return maps;
    }
    interpolate(
        maps,
        InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false).with_output_size(size),
    )
}
