//! The Sound-of-Pixels log-frequency warp of spectrograms and its inverse for masks
//! (SoP `utils.py:warpgrid`, lines 12-26, used in `main.py:43-48` and `main.py:115-118`;
//! docs/reference_implementation.md §8.2).
//!
//! SoP builds a sampling grid in `float64`, casts it to `float32` and calls
//! `F.grid_sample(bilinear, zeros padding)` with PyTorch 0.4 semantics (`align_corners=True`):
//! a grid value `g` in [-1, 1] reads the source at `((g + 1) / 2) * (size - 1)`. Columns are
//! sampled on `x = linspace(-1, 1, W_out)`; rows on
//! * warp (linear 512 bins -> 256 log bins): `y' = (21^((y + 1) / 2) - 11) / 10`,
//! * unwarp (256 log bins -> 512 linear bins): `y' = ln(10 y + 11) / ln(21) * 2 - 1`,
//!
//! with `y = linspace(-1, 1, H_out)`. The grid is separable, so the bilinear sample is one
//! interpolation along rows followed by one along columns; both are reproduced here with the
//! same `float32` arithmetic as the reference.

use ndarray::Array2;

use crate::error::{AudioError, Result};

/// Which of the two SoP grids to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarpDirection {
    /// Linear-frequency spectrogram to log-frequency (network input and targets).
    LinearToLog,
    /// Log-frequency masks back to linear frequency (before resynthesis).
    LogToLinear,
}

/// Two-tap linear interpolation weights for one output index (zero padding outside).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Taps {
    lo: i64,
    w_lo: f32,
    w_hi: f32,
}

impl Taps {
    /// Taps reading the source at `((g + 1) / 2) * (size - 1)` in f32, as PyTorch's
    /// `grid_sampler_unnormalize(align_corners=True)`.
    fn from_grid(g: f32, size: usize) -> Self {
        let src = ((g + 1.0) / 2.0) * (size as f32 - 1.0);
        let lo = src.floor();
        let w_hi = src - lo;
        Self { lo: lo as i64, w_lo: 1.0 - w_hi, w_hi }
    }

    fn sample(&self, read: impl Fn(usize) -> f32, size: usize) -> f32 {
        let at = |i: i64| if (0..size as i64).contains(&i) { read(i as usize) } else { 0.0 };
        self.w_lo * at(self.lo) + self.w_hi * at(self.lo + 1)
    }
}

/// `np.linspace(-1, 1, n)` in f64, then cast to f32 as SoP's grid is.
fn linspace_pm1(n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![-1.0],
        _ => {
            let step = 2.0 / (n - 1) as f64;
            (0..n).map(|i| if i == n - 1 { 1.0 } else { -1.0 + i as f64 * step }).collect()
        }
    }
}

/// A log-frequency warp (or unwarp) between `in_rows` and `out_rows` frequency bins.
#[derive(Debug, Clone, PartialEq)]
pub struct FreqWarp {
    direction: WarpDirection,
    in_rows: usize,
    out_rows: usize,
    rows: Vec<Taps>,
}

impl FreqWarp {
    /// A warp from `in_rows` to `out_rows` bins in the given direction.
    ///
    /// # Errors
    /// [`AudioError::InvalidConfig`] if either size is below 2.
    pub fn new(direction: WarpDirection, in_rows: usize, out_rows: usize) -> Result<Self> {
        if in_rows < 2 || out_rows < 2 {
            return Err(AudioError::InvalidConfig(format!(
                "frequency warp needs at least 2 input and output rows, got {in_rows} and {out_rows}"
            )));
        }
        let rows = linspace_pm1(out_rows)
            .into_iter()
            .map(|y| {
                let g = match direction {
                    WarpDirection::LinearToLog => (21f64.powf((y + 1.0) / 2.0) - 11.0) / 10.0,
                    WarpDirection::LogToLinear => (y * 10.0 + 11.0).ln() / 21f64.ln() * 2.0 - 1.0,
                };
                Taps::from_grid(g as f32, in_rows)
            })
            .collect();
        Ok(Self { direction, in_rows, out_rows, rows })
    }

    /// SoP's warp of a 512-bin linear spectrogram (n_fft 1022) to 256 log-frequency bins.
    pub fn sound_of_pixels() -> Self {
        Self::new(WarpDirection::LinearToLog, 512, 256).expect("constant sizes are valid")
    }

    /// SoP's unwarp of 256-bin log-frequency masks back to 512 linear bins.
    pub fn sound_of_pixels_inverse() -> Self {
        Self::new(WarpDirection::LogToLinear, 256, 512).expect("constant sizes are valid")
    }

    /// The direction.
    pub fn direction(&self) -> WarpDirection {
        self.direction
    }

    /// Input rows expected by [`FreqWarp::apply`].
    pub fn in_rows(&self) -> usize {
        self.in_rows
    }

    /// Output rows produced by [`FreqWarp::apply`].
    pub fn out_rows(&self) -> usize {
        self.out_rows
    }

    /// Resamples a `(in_rows, W_in)` array to `(out_rows, out_width)` (`out_width` defaults
    /// to `W_in`, as in SoP where the time axis keeps its 256 frames).
    ///
    /// # Errors
    /// [`AudioError::Shape`] for a wrong row count, zero width, or `out_width` of 0.
    pub fn apply(&self, input: &Array2<f32>, out_width: Option<usize>) -> Result<Array2<f32>> {
        let (rows, w_in) = input.dim();
        let w_out = out_width.unwrap_or(w_in);
        if rows != self.in_rows || w_in == 0 || w_out == 0 {
            return Err(AudioError::Shape {
                op: "FreqWarp::apply",
                expected: format!("({}, W >= 1) and an output width >= 1", self.in_rows),
                actual: format!("({rows}, {w_in}) -> width {w_out}"),
            });
        }
        // Columns: x = linspace(-1, 1, W_out) read at align_corners=True positions. With equal
        // widths this is the identity up to f32 rounding (as in the reference).
        let cols: Vec<Taps> = if w_in == 1 {
            vec![Taps { lo: 0, w_lo: 1.0, w_hi: 0.0 }; w_out]
        } else {
            linspace_pm1(w_out).into_iter().map(|x| Taps::from_grid(x as f32, w_in)).collect()
        };
        // Interpolate along rows first (whole rows at a time), then along columns.
        let mut by_rows = Array2::<f32>::zeros((self.out_rows, w_in));
        for (mut dst, taps) in by_rows.rows_mut().into_iter().zip(&self.rows) {
            for (offset, weight) in [(0, taps.w_lo), (1, taps.w_hi)] {
                let r = taps.lo + offset;
                if weight != 0.0 && (0..rows as i64).contains(&r) {
                    dst.scaled_add(weight, &input.row(r as usize));
                }
            }
        }
        let mut out = Array2::<f32>::zeros((self.out_rows, w_out));
        for (mut dst, src) in out.rows_mut().into_iter().zip(by_rows.rows()) {
            for (d, taps) in dst.iter_mut().zip(&cols) {
                *d = taps.sample(|c| src[c], w_in);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_keeps_the_end_bins() {
        let warp = FreqWarp::sound_of_pixels();
        let mut input = Array2::<f32>::zeros((512, 3));
        input.row_mut(0).fill(2.0);
        input.row_mut(511).fill(5.0);
        let out = warp.apply(&input, None).unwrap();
        assert_eq!(out.dim(), (256, 3));
        assert!((out[[0, 1]] - 2.0).abs() < 1e-5);
        assert!((out[[255, 1]] - 5.0).abs() < 1e-4);
    }

    #[test]
    fn unwarp_inverts_warp_on_smooth_input() {
        // A smooth spectrum survives warp + unwarp away from the coarsely sampled top bins.
        let input = Array2::from_shape_fn((512, 4), |(r, _)| (r as f32 / 80.0).sin() + 2.0);
        let back = FreqWarp::sound_of_pixels_inverse()
            .apply(&FreqWarp::sound_of_pixels().apply(&input, None).unwrap(), None)
            .unwrap();
        for r in 0..400 {
            assert!((back[[r, 2]] - input[[r, 2]]).abs() < 2e-2, "row {r}");
        }
    }

    #[test]
    fn wrong_shape_is_an_error() {
        let warp = FreqWarp::sound_of_pixels();
        assert!(warp.apply(&Array2::zeros((511, 4)), None).is_err());
        assert!(warp.apply(&Array2::zeros((512, 0)), None).is_err());
    }
}
