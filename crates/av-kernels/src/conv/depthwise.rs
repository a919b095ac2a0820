//! Depthwise 2-D convolution (`groups = C`, one filter per channel): forward and both gradients
//! on plain `f32` slices (NCHW), one channel plane at a time.
//!
//! Burn's generic grouped convolution lowers every group separately; a depthwise layer has only
//! `kh kw` taps per output, so the work is a few multiply-adds per element and the lowering is
//! the whole cost. The forward pass of a square stride-1 kernel (3x3, 5x5) sums each output's
//! taps in a register, column loop vectorised, and so does its input gradient (the same
//! convolution of `dy` with the flipped kernel); every other case, and the weight gradient,
//! adds `w[c, ky, kx]` times a shifted input row onto an output row, one tap at a time. Planes
//! run in parallel (rayon); the weight gradient sums over the batch in f32 per channel.

use rayon::prelude::*;

use super::ConvGeometry;
use crate::KernelError;

/// The geometry of a depthwise convolution `[N, C, H, W] * [C, 1, kh, kw] -> [N, C, Ho, Wo]`
/// (channel multiplier 1): a [`ConvGeometry`] with `out_channels == in_channels`.
///
/// # Errors
/// [`KernelError::Geometry`] when the weight is not `[C, 1, kh, kw]` for the input's `C`, or as
/// [`ConvGeometry::new`].
pub fn depthwise_geometry(
    x_shape: [usize; 4],
    weight_shape: [usize; 4],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> Result<ConvGeometry, KernelError> {
    let [_, c, _, _] = x_shape;
    let [o, one, kh, kw] = weight_shape;
    if o != c || one != 1 {
        return Err(KernelError::Geometry(format!(
            "a depthwise weight is [C, 1, kh, kw] with C = {c} (the input's channels), got {weight_shape:?}"
        )));
    }
    ConvGeometry::new(x_shape, [c, c, kh, kw], stride, padding, dilation)
}

/// For one kernel column `kx`: the output columns `ox` whose input column
/// `ox s + kx d - p` lies inside `[0, w)`, as a range, and the input column of the first one.
fn valid_columns(g: &ConvGeometry, kx: usize) -> (std::ops::Range<usize>, usize) {
    let (s, d, p, w, wo) = (g.stride[1], g.dilation[1], g.padding[1], g.input[1], g.output[1]);
    let shift = kx * d;
    // First ox with ox s + shift >= p.
    let lo = if shift >= p { 0 } else { (p - shift).div_ceil(s) };
    // Last ox with ox s + shift - p <= w - 1, plus one.
    let hi = if w + p > shift { ((w + p - 1 - shift) / s + 1).min(wo) } else { 0 };
    let lo = lo.min(hi);
    (lo..hi, (lo * s + shift).saturating_sub(p))
}

/// The input row of output row `oy` and kernel row `ky`, if inside the image.
fn input_row(g: &ConvGeometry, oy: usize, ky: usize) -> Option<usize> {
    let iy = (oy * g.stride[0] + ky * g.dilation[0]).checked_sub(g.padding[0])?;
    (iy < g.input[0]).then_some(iy)
}

fn check(
    g: &ConvGeometry,
    x_name: &'static str,
    x: &[f32],
    y_name: &'static str,
    y: &[f32],
) -> Result<(), KernelError> {
    if g.out_channels != g.in_channels {
        return Err(KernelError::Geometry(format!(
            "not a depthwise geometry: {} input and {} output channels",
            g.in_channels, g.out_channels
        )));
    }
    g.check_len(x_name, g.batch * g.image_len(), x.len())?;
    g.check_len(y_name, g.batch * g.out_image_len(), y.len())
}

fn check_weight(g: &ConvGeometry, weight: &[f32]) -> Result<(), KernelError> {
    g.check_len("weight", g.in_channels * g.kernel[0] * g.kernel[1], weight.len())
}

/// `y = depthwise_conv2d(x, w)`: `x` is `[N, C, H, W]`, `weight` `[C, 1, kh, kw]`, the result
/// `[N, C, Ho, Wo]`, for a geometry from [`depthwise_geometry`].
///
/// # Errors
/// [`KernelError::BufferLength`] when a slice does not match the geometry,
/// [`KernelError::Geometry`] for a geometry that is not depthwise.
pub fn depthwise_forward(g: &ConvGeometry, x: &[f32], weight: &[f32]) -> Result<Vec<f32>, KernelError> {
    let mut y = vec![0.0f32; g.batch * g.out_image_len()];
    check(g, "x", x, "y", &y)?;
    check_weight(g, weight)?;
    let (plane_in, plane_out) = (g.input[0] * g.input[1], g.out_positions());
    let (kh, kw, sw) = (g.kernel[0], g.kernel[1], g.stride[1]);
    let columns: Vec<_> = (0..kw).map(|kx| valid_columns(g, kx)).collect();
    let square_unit = g.stride == [1, 1] && g.dilation == [1, 1] && kh == kw;
    let zero_row = vec![0.0f32; g.input[1]];
    y.par_chunks_mut(plane_out).enumerate().for_each(|(plane, y_p)| {
        let c = plane % g.in_channels;
        let x_p = &x[plane * plane_in..][..plane_in];
        let w_c = &weight[c * kh * kw..][..kh * kw];
        match (square_unit, kh) {
            (true, 3) => return plane_stride1::<3>(g, x_p, w_c, &zero_row, y_p),
            (true, 5) => return plane_stride1::<5>(g, x_p, w_c, &zero_row, y_p),
            _ => {}
        }
        for (oy, y_row) in y_p.chunks_mut(g.output[1]).enumerate() {
            for ky in 0..kh {
                let Some(iy) = input_row(g, oy, ky) else { continue };
                let x_row = &x_p[iy * g.input[1]..][..g.input[1]];
                for (kx, (range, first)) in columns.iter().enumerate() {
                    let wv = w_c[ky * kw + kx];
                    let out = &mut y_row[range.clone()];
                    if sw == 1 {
                        let src = &x_row[*first..*first + out.len()];
                        for j in 0..out.len() {
                            out[j] += wv * src[j];
                        }
                    } else {
                        for (o, i) in out.iter_mut().zip(x_row[*first..].iter().step_by(sw)) {
                            *o += wv * i;
                        }
                    }
                }
            }
        }
    });
    Ok(y)
}

/// [`depthwise_forward`] of one plane for stride 1, dilation 1 and a `K x K` kernel: each output
/// element sums its `K K` taps in a register (rows outside the image read `zero_row`), the
/// interior columns without bounds tests, so that the column loop vectorises.
fn plane_stride1<const K: usize>(
    g: &ConvGeometry,
    x_p: &[f32],
    w_c: &[f32],
    zero_row: &[f32],
    y_p: &mut [f32],
) {
    let (width, wo, pad) = (g.input[1], g.output[1], g.padding[1]);
    let mut w = [[0.0f32; K]; K];
    for (ky, row) in w.iter_mut().enumerate() {
        row.copy_from_slice(&w_c[ky * K..][..K]);
    }
    // Columns whose K taps all lie inside the row: ox - pad >= 0 and ox - pad + K - 1 < width.
    let lo = pad.min(wo);
    let hi = (width + pad + 1).saturating_sub(K).min(wo).max(lo);
    let n = hi - lo;
    for (oy, y_row) in y_p.chunks_mut(wo).enumerate() {
        let rows: [&[f32]; K] =
            std::array::from_fn(|ky| input_row(g, oy, ky).map_or(zero_row, |iy| &x_p[iy * width..][..width]));
        for ox in (0..lo).chain(hi..wo) {
            let mut acc = 0.0f32;
            for (w_row, row) in w.iter().zip(&rows) {
                for (kx, wv) in w_row.iter().enumerate() {
                    if let Some(ix) = (ox + kx).checked_sub(pad).filter(|&ix| ix < width) {
                        acc += wv * row[ix];
                    }
                }
            }
            y_row[ox] = acc;
        }
        if n == 0 {
            continue;
        }
        let start = lo - pad;
        let taps: [&[f32]; K] = std::array::from_fn(|ky| &rows[ky][start..start + n + K - 1]);
        let out = &mut y_row[lo..hi];
        for (j, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for ky in 0..K {
                let window = &taps[ky][j..j + K];
                for kx in 0..K {
                    acc += w[ky][kx] * window[kx];
                }
            }
            *o = acc;
        }
    }
}

/// For a square 3x3 or 5x5 kernel of stride 1 and dilation 1 with padding below the kernel
/// size: the geometry of the input gradient as a forward convolution (of one `Ho x Wo` plane
/// with the flipped kernel and padding `K - 1 - p`, giving `H x W`).
fn transposed_stride1(g: &ConvGeometry) -> Option<ConvGeometry> {
    let [kh, kw] = g.kernel;
    let square_unit = g.stride == [1, 1] && g.dilation == [1, 1] && kh == kw && (kh == 3 || kh == 5);
    if !square_unit || g.padding.iter().any(|&p| p >= kh) {
        return None;
    }
    let t = ConvGeometry::new(
        [1, 1, g.output[0], g.output[1]],
        [1, 1, kh, kw],
        [1, 1],
        [kh - 1 - g.padding[0], kw - 1 - g.padding[1]],
        [1, 1],
    )
    .ok()?;
    (t.output == g.input).then_some(t)
}

/// `dx` of [`depthwise_forward`] from `grad` (`dy`, `[N, C, Ho, Wo]`) and `weight`: `[N, C, H, W]`.
///
/// # Errors
/// As [`depthwise_forward`].
pub fn depthwise_input_grad(g: &ConvGeometry, grad: &[f32], weight: &[f32]) -> Result<Vec<f32>, KernelError> {
    let mut dx = vec![0.0f32; g.batch * g.image_len()];
    check(g, "dx", &dx, "grad", grad)?;
    check_weight(g, weight)?;
    let (plane_in, plane_out) = (g.input[0] * g.input[1], g.out_positions());
    let (kh, kw, sw) = (g.kernel[0], g.kernel[1], g.stride[1]);
    if let Some(transposed) = transposed_stride1(g) {
        // Stride 1: dx is the depthwise convolution of dy with the flipped kernel and padding
        // K - 1 - p, which the forward's register path computes.
        let flipped: Vec<f32> =
            weight.chunks(kh * kw).flat_map(|w_c| w_c.iter().rev().copied().collect::<Vec<_>>()).collect();
        let zero_row = vec![0.0f32; g.output[1]];
        dx.par_chunks_mut(plane_in).enumerate().for_each(|(plane, dx_p)| {
            let c = plane % g.in_channels;
            let dy_p = &grad[plane * plane_out..][..plane_out];
            let w_c = &flipped[c * kh * kw..][..kh * kw];
            if kh == 3 {
                plane_stride1::<3>(&transposed, dy_p, w_c, &zero_row, dx_p);
            } else {
                plane_stride1::<5>(&transposed, dy_p, w_c, &zero_row, dx_p);
            }
        });
        return Ok(dx);
    }
    let columns: Vec<_> = (0..kw).map(|kx| valid_columns(g, kx)).collect();
    dx.par_chunks_mut(plane_in).enumerate().for_each(|(plane, dx_p)| {
        let c = plane % g.in_channels;
        let dy_p = &grad[plane * plane_out..][..plane_out];
        let w_c = &weight[c * kh * kw..][..kh * kw];
        for (oy, dy_row) in dy_p.chunks(g.output[1]).enumerate() {
            for ky in 0..kh {
                let Some(iy) = input_row(g, oy, ky) else { continue };
                let dx_row = &mut dx_p[iy * g.input[1]..][..g.input[1]];
                for (kx, (range, first)) in columns.iter().enumerate() {
                    let wv = w_c[ky * kw + kx];
                    let dy = &dy_row[range.clone()];
                    if sw == 1 {
                        for (d, o) in dx_row[*first..].iter_mut().zip(dy) {
                            *d += wv * o;
                        }
                    } else {
                        for (d, o) in dx_row[*first..].iter_mut().step_by(sw).zip(dy) {
                            *d += wv * o;
                        }
                    }
                }
            }
        }
    });
    Ok(dx)
}

/// `dw` of [`depthwise_forward`] from `x` and `grad` (`dy`): `[C, 1, kh, kw]`, summed over the
/// batch.
///
/// # Errors
/// As [`depthwise_forward`].
pub fn depthwise_weight_grad(g: &ConvGeometry, x: &[f32], grad: &[f32]) -> Result<Vec<f32>, KernelError> {
    check(g, "x", x, "grad", grad)?;
    let (plane_in, plane_out) = (g.input[0] * g.input[1], g.out_positions());
    let (kh, kw, sw) = (g.kernel[0], g.kernel[1], g.stride[1]);
    let columns: Vec<_> = (0..kw).map(|kx| valid_columns(g, kx)).collect();
    let mut dw = vec![0.0f32; g.in_channels * kh * kw];
    dw.par_chunks_mut(kh * kw).enumerate().for_each(|(c, dw_c)| {
        for n in 0..g.batch {
            let plane = n * g.in_channels + c;
            let x_p = &x[plane * plane_in..][..plane_in];
            let dy_p = &grad[plane * plane_out..][..plane_out];
            for (oy, dy_row) in dy_p.chunks(g.output[1]).enumerate() {
                for ky in 0..kh {
                    let Some(iy) = input_row(g, oy, ky) else { continue };
                    let x_row = &x_p[iy * g.input[1]..][..g.input[1]];
                    for (kx, (range, first)) in columns.iter().enumerate() {
                        let dy = &dy_row[range.clone()];
                        let dot: f32 = if sw == 1 {
                            dy.iter().zip(&x_row[*first..]).map(|(a, b)| a * b).sum()
                        } else {
                            dy.iter().zip(x_row[*first..].iter().step_by(sw)).map(|(a, b)| a * b).sum()
                        };
                        dw_c[ky * kw + kx] += dot;
                    }
                }
            }
        }
    });
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::reference::{assert_close, signal};

    /// The definition in f64: `(y, dx, dw)` for `dy = grad`.
    fn reference(g: &ConvGeometry, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (c_n, [h, wd], [ho, wo], [kh, kw]) = (g.in_channels, g.input, g.output, g.kernel);
        let mut y = vec![0.0f64; g.batch * c_n * ho * wo];
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; w.len()];
        for n in 0..g.batch {
            for c in 0..c_n {
                for oy in 0..ho {
                    for ox in 0..wo {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy =
                                    (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.padding[0] as isize;
                                let ix =
                                    (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.padding[1] as isize;
                                if !(0..h as isize).contains(&iy) || !(0..wd as isize).contains(&ix) {
                                    continue;
                                }
                                let xi = ((n * c_n + c) * h + iy as usize) * wd + ix as usize;
                                let yi = ((n * c_n + c) * ho + oy) * wo + ox;
                                let wi = (c * kh + ky) * kw + kx;
                                y[yi] += f64::from(w[wi]) * f64::from(x[xi]);
                                dx[xi] += f64::from(w[wi]) * f64::from(dy[yi]);
                                dw[wi] += f64::from(x[xi]) * f64::from(dy[yi]);
                            }
                        }
                    }
                }
            }
        }
        (y, dx, dw)
    }

    /// Forward and both gradients against the definition: EfficientNet's 3x3 and 5x5 layers at
    /// stride 1 and 2 (with and without padding, odd sizes), dilation, a rectangular kernel.
    #[test]
    fn depthwise_matches_the_definition() {
        let cases = [
            ([2, 5, 9, 8], [3, 3], [1, 1], [1, 1], [1, 1]),
            ([2, 4, 9, 11], [3, 3], [2, 2], [0, 0], [1, 1]),
            ([1, 6, 10, 10], [5, 5], [2, 2], [2, 2], [1, 1]),
            ([3, 3, 7, 9], [5, 5], [1, 1], [2, 2], [1, 1]),
            ([1, 2, 12, 12], [3, 3], [1, 2], [2, 1], [2, 1]),
            ([2, 3, 6, 9], [1, 3], [1, 1], [0, 1], [1, 1]),
            ([1, 2, 4, 4], [3, 3], [3, 3], [3, 3], [1, 1]),
            // Stride 1 without padding, and with padding beyond the kernel (the register path's
            // interior is then empty or starts late).
            ([1, 3, 6, 7], [3, 3], [1, 1], [0, 0], [1, 1]),
            ([2, 2, 5, 5], [5, 5], [1, 1], [4, 4], [1, 1]),
            ([1, 2, 3, 9], [5, 5], [1, 1], [2, 2], [1, 1]),
        ];
        for (k, (xs, [kh, kw], stride, padding, dilation)) in cases.into_iter().enumerate() {
            let g = depthwise_geometry(xs, [xs[1], 1, kh, kw], stride, padding, dilation).unwrap();
            let x = signal(g.batch * g.image_len(), k);
            let w = signal(g.in_channels * kh * kw, k + 11);
            let dy = signal(g.batch * g.out_image_len(), k + 23);
            let (y, dx, dw) = reference(&g, &x, &w, &dy);
            assert_close("y", &depthwise_forward(&g, &x, &w).unwrap(), &y);
            assert_close("dx", &depthwise_input_grad(&g, &dy, &w).unwrap(), &dx);
            assert_close("dw", &depthwise_weight_grad(&g, &x, &dy).unwrap(), &dw);
        }
    }

    #[test]
    fn wrong_shapes_are_typed_errors() {
        assert!(matches!(
            depthwise_geometry([1, 4, 8, 8], [4, 2, 3, 3], [1, 1], [1, 1], [1, 1]),
            Err(KernelError::Geometry(_))
        ));
        assert!(matches!(
            depthwise_geometry([1, 4, 8, 8], [3, 1, 3, 3], [1, 1], [1, 1], [1, 1]),
            Err(KernelError::Geometry(_))
        ));
        let g = depthwise_geometry([1, 4, 8, 8], [4, 1, 3, 3], [1, 1], [1, 1], [1, 1]).unwrap();
        assert!(matches!(
            depthwise_forward(&g, &[0.0; 10], &[0.0; 36]),
            Err(KernelError::BufferLength { .. })
        ));
        assert!(matches!(
            depthwise_forward(&g, &[0.0; 256], &[0.0; 35]),
            Err(KernelError::BufferLength { .. })
        ));
        let dense = ConvGeometry::new([1, 4, 8, 8], [2, 4, 3, 3], [1, 1], [1, 1], [1, 1]).unwrap();
        assert!(matches!(depthwise_forward(&dense, &[0.0; 256], &[0.0; 36]), Err(KernelError::Geometry(_))));
    }
}
