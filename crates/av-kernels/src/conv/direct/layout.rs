//! The direct kernels' input layout: each image zero-padded once and split into column phases.

use crate::conv::ConvGeometry;

/// Where the padded, phase-split copy of a batch puts its elements.
///
/// For a horizontal stride `S`, row `r` of channel `c` of the zero-padded image is stored as
/// `S` phase rows; phase `f` holds the padded row's columns `f, f + S, f + 2S, ...`. The input
/// columns that output columns `ow0 .. ow0 + V` read through kernel column `j` are then the
/// contiguous run `phase (j mod S)`, from `j / S + ow0`: one vector load. Rows are padded with
/// zeros past the image so that a full vector read at the last output column stays in bounds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// Rows of the padded image (`H + 2 p_h`).
    rows: usize,
    /// Column phases (the horizontal stride).
    phases: usize,
    /// Elements of one phase row.
    row_len: usize,
    /// Channels.
    channels: usize,
}

impl Layout {
    /// The layout for `g`'s input when output columns are read in vectors of `v`.
    pub(super) fn new(g: &ConvGeometry, v: usize) -> Self {
        let phases = g.stride[1];
        let padded_w = g.input[1] + 2 * g.padding[1];
        let reach = (g.kernel[1] - 1) / phases + round_up(g.output[1], v);
        Self {
            rows: g.input[0] + 2 * g.padding[0],
            phases,
            row_len: padded_w.div_ceil(phases).max(reach),
            channels: g.in_channels,
        }
    }

    /// Elements of one image.
    pub(super) fn image_len(&self) -> usize {
        self.channels * self.rows * self.phases * self.row_len
    }

    /// Offset, within an image, of the vector that output column 0 of output row 0 reads
    /// through each tap `(c, i, j)`, in the weight's tap order (`[C, kh, kw]`). Output row `oh`
    /// and column `ow0` add `oh * row_step() + ow0`.
    pub(super) fn tap_offsets(&self, g: &ConvGeometry) -> Vec<usize> {
        let [kh, kw] = g.kernel;
        let mut offsets = Vec::with_capacity(g.col_rows());
        for c in 0..self.channels {
            for i in 0..kh {
                for j in 0..kw {
                    offsets.push(
                        ((c * self.rows + i) * self.phases + j % self.phases) * self.row_len
                            + j / self.phases,
                    );
                }
            }
        }
        offsets
    }

    /// Elements between the vectors of consecutive output rows (the vertical stride's rows).
    pub(super) fn row_step(&self, g: &ConvGeometry) -> usize {
        g.stride[0] * self.phases * self.row_len
    }

    /// Writes image `x` (`[C, H, W]`) of geometry `g` into `out` (`image_len` elements).
    pub(super) fn fill(&self, g: &ConvGeometry, x: &[f32], out: &mut [f32]) {
        let [h, w] = g.input;
        let [ph, pw] = g.padding;
        let s = self.phases;
        for (c, plane) in out.chunks_exact_mut(self.rows * s * self.row_len).enumerate() {
            for (r, row) in plane.chunks_exact_mut(s * self.row_len).enumerate() {
                let ih = r as isize - ph as isize;
                if ih < 0 || ih >= h as isize {
                    row.fill(0.0);
                    continue;
                }
                let src = &x[(c * h + ih as usize) * w..(c * h + ih as usize + 1) * w];
                for (f, dst) in row.chunks_exact_mut(self.row_len).enumerate() {
                    // Element k is padded column k S + f, input column k S + f - p_w: inside the
                    // image for k in lo..hi, zero outside.
                    let lo = pw.saturating_sub(f).div_ceil(s).min(self.row_len);
                    let hi = (w + pw).saturating_sub(f).div_ceil(s).clamp(lo, self.row_len);
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo == hi {
                        continue;
                    }
                    let first = lo * s + f - pw;
                    if s == 1 {
                        dst[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                    } else {
                        for (d, v) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(s)) {
                            *d = *v;
                        }
                    }
                }
            }
        }
    }
}

/// `n` rounded up to a multiple of `v`.
pub(super) fn round_up(n: usize, v: usize) -> usize {
    n.div_ceil(v) * v
}
