//! Borrowed 2-D score maps (a localization heat map on the evaluation grid).

use crate::error::{MetricsError, Result, check_finite};

/// A borrowed, row-major `height x width` map of `f32` scores (higher = more likely sounding).
///
/// # Shapes
/// `data.len() == height * width`; pixel `(y, x)` is `data[y * width + x]`.
///
/// Construction checks the length and that every value is finite, so the metric functions
/// never see a NaN.
#[derive(Debug, Clone, Copy)]
pub struct ScoreMap<'a> {
    data: &'a [f32],
    width: usize,
    height: usize,
}

impl<'a> ScoreMap<'a> {
    /// Wraps `data` as a `height x width` map.
    ///
    /// # Errors
    /// [`MetricsError::Empty`] for a zero-sized grid, [`MetricsError::ShapeMismatch`] when
    /// `data.len() != width * height`, [`MetricsError::NonFinite`] for a NaN or infinite value.
    pub fn new(data: &'a [f32], width: usize, height: usize) -> Result<Self> {
        const OP: &str = "ScoreMap::new";
        if width == 0 || height == 0 {
            return Err(MetricsError::Empty { op: OP, what: "map grid" });
        }
        let expected = width.checked_mul(height).ok_or_else(|| MetricsError::InvalidParameter {
            op: OP,
            name: "width*height",
            reason: "overflows usize".into(),
        })?;
        if data.len() != expected {
            return Err(MetricsError::ShapeMismatch {
                op: OP,
                expected: format!("{height}x{width} = {expected} values"),
                actual: format!("{} values", data.len()),
            });
        }
        check_finite(OP, "map", data)?;
        Ok(Self { data, width, height })
    }

    /// Wraps data already known to be finite and of length `width * height` (a slice of a
    /// validated buffer).
    pub(crate) fn from_validated(data: &'a [f32], width: usize, height: usize) -> Self {
        debug_assert_eq!(data.len(), width * height);
        Self { data, width, height }
    }

    /// The values, row-major (`height * width`).
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Width in pixels (number of columns).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels (number of rows).
    pub fn height(&self) -> usize {
        self.height
    }

    /// Largest value (the map is non-empty by construction).
    pub fn max(&self) -> f32 {
        crate::kernels::max_f32(self.data)
    }

    /// Smallest value.
    pub fn min(&self) -> f32 {
        crate::kernels::min_f32(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_shape_and_values() {
        let v = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
        let m = ScoreMap::new(&v, 3, 2).expect("valid map");
        assert_eq!((m.width(), m.height(), m.max(), m.min()), (3, 2, 5.0, 0.0));
        assert!(matches!(ScoreMap::new(&v, 4, 2), Err(MetricsError::ShapeMismatch { .. })));
        assert!(matches!(ScoreMap::new(&[], 0, 2), Err(MetricsError::Empty { .. })));
        let bad = [0.0f32, f32::NAN];
        assert!(matches!(ScoreMap::new(&bad, 2, 1), Err(MetricsError::NonFinite { index: 1, .. })));
    }
}
