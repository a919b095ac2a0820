//! Lowering of one image to the GEMM's matrix (`im2col`) and its adjoint (`col2im`).
//!
//! The lowered matrix of an image `[C, H, W]` is `[C kh kw, Ho Wo]`, row-major: row
//! `(c, i, j)` holds, for every output position `(oh, ow)`, the input pixel
//! `x[c, oh s_h - p_h + i d_h, ow s_w - p_w + j d_w]` (zero outside the image). This is the
//! order of PyTorch's weight `[O, C, kh, kw]` flattened to `[O, C kh kw]`, so the forward pass
//! is `Y = W col` without reordering the weight.

use super::ConvGeometry;

/// Output columns `ow` whose input column `ow s + off` lies in `[0, width)`, as `lo..hi`.
fn valid_columns(out_w: usize, width: usize, stride: usize, off: isize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if off >= 0 { 0 } else { ((-off) + s - 1) / s };
    let room = width as isize - off;
    let hi = if room <= 0 { 0 } else { (room + s - 1) / s };
    let hi = (hi as usize).min(out_w);
    ((lo as usize).min(hi), hi)
}

/// Writes the lowered matrix of one image `x` (`[C, H, W]`) into `col` (`[C kh kw, Ho Wo]`).
#[cfg(test)]
pub(crate) fn im2col(g: &ConvGeometry, x: &[f32], col: &mut [f32]) {
    im2col_rows(g, x, 0..g.output[0], col);
}

/// [`im2col`] for the output rows `rows` only: `col` is `[C kh kw, rows.len() Wo]`, the columns
/// of those output positions (a tile of the full lowered matrix).
pub(crate) fn im2col_rows(g: &ConvGeometry, x: &[f32], rows: std::ops::Range<usize>, col: &mut [f32]) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [_, ow_n] = g.output;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.padding;
    let [dh, dw] = g.dilation;
    let p = rows.len() * ow_n;
    let oh0 = rows.start;
    for (row, dst_row) in col.chunks_exact_mut(p).enumerate().take(g.col_rows()) {
        let c = row / (kh * kw);
        let i = (row / kw) % kh;
        let j = row % kw;
        let plane = &x[c * h * w..(c + 1) * h * w];
        let off_w = (j * dw) as isize - pw as isize;
        let (lo, hi) = valid_columns(ow_n, w, sw, off_w);
        for (t, dst) in dst_row.chunks_exact_mut(ow_n).enumerate() {
            let ih = ((oh0 + t) * sh + i * dh) as isize - ph as isize;
            if ih < 0 || ih >= h as isize || lo == hi {
                dst.fill(0.0);
                continue;
            }
            let src = &plane[ih as usize * w..(ih as usize + 1) * w];
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            let start = (lo * sw) as isize + off_w;
            if sw == 1 {
                let start = start as usize;
                dst[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
            } else {
                for (k, d) in dst[lo..hi].iter_mut().enumerate() {
                    *d = src[start as usize + k * sw];
                }
            }
        }
    }
}

/// Adds the lowered matrix `col` (`[C kh kw, Ho Wo]`) back onto the image `dx` (`[C, H, W]`):
/// the adjoint of [`im2col`], used for the input gradient. `dx` is accumulated into, so it
/// must start at zero.
#[cfg(test)]
pub(crate) fn col2im_add(g: &ConvGeometry, col: &[f32], dx: &mut [f32]) {
    col2im_add_rows(g, col, 0..g.output[0], dx);
}

/// [`col2im_add`] of a tile: `col` is `[C kh kw, rows.len() Wo]`, the columns of the output
/// rows `rows` (the adjoint of [`im2col_rows`]).
pub(crate) fn col2im_add_rows(g: &ConvGeometry, col: &[f32], rows: std::ops::Range<usize>, dx: &mut [f32]) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [_, ow_n] = g.output;
    let [sh, sw] = g.stride;
    let [ph, pw] = g.padding;
    let [dh, dw] = g.dilation;
    let p = rows.len() * ow_n;
    let oh0 = rows.start;
    for (row, src_row) in col.chunks_exact(p).enumerate().take(g.col_rows()) {
        let c = row / (kh * kw);
        let i = (row / kw) % kh;
        let j = row % kw;
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        let off_w = (j * dw) as isize - pw as isize;
        let (lo, hi) = valid_columns(ow_n, w, sw, off_w);
        if lo == hi {
            continue;
        }
        for (t, src) in src_row.chunks_exact(ow_n).enumerate() {
            let ih = ((oh0 + t) * sh + i * dh) as isize - ph as isize;
            if ih < 0 || ih >= h as isize {
                continue;
            }
            let dst = &mut plane[ih as usize * w..(ih as usize + 1) * w];
            let start = ((lo * sw) as isize + off_w) as usize;
            if sw == 1 {
                for (d, s) in dst[start..start + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
                    *d += *s;
                }
            } else {
                for (k, s) in src[lo..hi].iter().enumerate() {
                    dst[start + k * sw] += *s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col against the definition, for strides, paddings and dilations that leave columns
    /// and rows entirely outside the image.
    #[test]
    fn im2col_matches_definition() {
        for (k, s, p, d) in
            [(3, 1, 1, 1), (3, 2, 1, 1), (7, 2, 3, 1), (1, 2, 0, 1), (3, 1, 2, 2), (2, 3, 4, 1)]
        {
            let g = ConvGeometry::new([1, 2, 7, 6], [1, 2, k, k], [s, s], [p, p], [d, d]).expect("geometry");
            let x: Vec<f32> = (0..g.image_len()).map(|v| v as f32 + 1.0).collect();
            let mut col = vec![f32::NAN; g.col_rows() * g.out_positions()];
            im2col(&g, &x, &mut col);
            for c in 0..2 {
                for i in 0..k {
                    for j in 0..k {
                        for oh in 0..g.output[0] {
                            for ow in 0..g.output[1] {
                                let ih = (oh * s + i * d) as isize - p as isize;
                                let iw = (ow * s + j * d) as isize - p as isize;
                                let want = if (0..7).contains(&ih) && (0..6).contains(&iw) {
                                    x[c * 42 + ih as usize * 6 + iw as usize]
                                } else {
                                    0.0
                                };
                                let row = (c * k + i) * k + j;
                                assert_eq!(col[row * g.out_positions() + oh * g.output[1] + ow], want);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <im2col(x), y> = <x, col2im(y)>: col2im is the adjoint.
    #[test]
    fn col2im_is_the_adjoint() {
        for (k, s, p, d) in [(3, 1, 1, 1), (3, 2, 1, 1), (7, 2, 3, 1), (1, 2, 0, 1), (3, 1, 2, 2)] {
            let g = ConvGeometry::new([1, 3, 9, 8], [1, 3, k, k], [s, s], [p, p], [d, d]).expect("geometry");
            let x: Vec<f32> = (0..g.image_len()).map(|v| ((v * 37) % 11) as f32 - 5.0).collect();
            let y: Vec<f32> =
                (0..g.col_rows() * g.out_positions()).map(|v| ((v * 53) % 13) as f32 - 6.0).collect();
            let mut col = vec![0.0; y.len()];
            im2col(&g, &x, &mut col);
            let lhs: f64 = col.iter().zip(&y).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let mut dx = vec![0.0; x.len()];
            col2im_add(&g, &y, &mut dx);
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            assert_eq!(lhs, rhs, "k {k} s {s} p {p} d {d}");
        }
    }
}
