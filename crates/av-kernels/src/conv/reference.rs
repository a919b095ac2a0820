//! Direct (seven-loop) convolution in f64 and the kernels checked against it.

use super::*;

/// Calls `f(n, o, c, oh, ow, i, j, ih, iw)` for every in-image tap of the convolution.
fn taps(g: &ConvGeometry, mut f: impl FnMut([usize; 9])) {
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            for c in 0..g.in_channels {
                for oh in 0..g.output[0] {
                    for ow in 0..g.output[1] {
                        for i in 0..g.kernel[0] {
                            for j in 0..g.kernel[1] {
                                let ih =
                                    (oh * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                                let iw =
                                    (ow * g.stride[1] + j * g.dilation[1]) as isize - g.padding[1] as isize;
                                if (0..g.input[0] as isize).contains(&ih)
                                    && (0..g.input[1] as isize).contains(&iw)
                                {
                                    f([n, o, c, oh, ow, i, j, ih as usize, iw as usize]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn xi(g: &ConvGeometry, n: usize, c: usize, h: usize, w: usize) -> usize {
    ((n * g.in_channels + c) * g.input[0] + h) * g.input[1] + w
}
fn yi(g: &ConvGeometry, n: usize, o: usize, h: usize, w: usize) -> usize {
    ((n * g.out_channels + o) * g.output[0] + h) * g.output[1] + w
}
fn wi(g: &ConvGeometry, o: usize, c: usize, i: usize, j: usize) -> usize {
    ((o * g.in_channels + c) * g.kernel[0] + i) * g.kernel[1] + j
}

fn signal(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|v| (((v * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

fn assert_close(name: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(*a) - b).abs() <= 1e-5 * scale, "{name}[{k}]: {a} vs {b} (scale {scale})");
    }
}

/// Forward, input and weight gradients of every lowering path (pointwise, strided 1x1, 3x3,
/// 7x7 stride 2, dilated, rectangular) against the definition, with batches that split over
/// images and batches that do not.
#[test]
fn kernels_match_direct_convolution() {
    let cases = [
        ([4, 5, 9, 8], [6, 5, 3, 3], [1, 1], [1, 1], [1, 1]),
        ([3, 4, 10, 9], [5, 4, 3, 3], [2, 2], [1, 1], [1, 1]),
        ([2, 3, 17, 13], [4, 3, 7, 7], [2, 2], [3, 3], [1, 1]),
        ([4, 6, 8, 8], [7, 6, 1, 1], [1, 1], [0, 0], [1, 1]),
        ([1, 6, 9, 7], [3, 6, 1, 1], [2, 2], [0, 0], [1, 1]),
        ([2, 3, 9, 9], [2, 3, 3, 3], [1, 1], [2, 2], [2, 2]),
        ([5, 2, 7, 11], [3, 2, 2, 3], [1, 2], [0, 1], [1, 1]),
        // Lowered matrices larger than one band: 2 bands of 22 + 18 output rows, and 7 bands
        // of a strided 7x7 with a short last band.
        ([2, 32, 40, 40], [4, 32, 3, 3], [1, 1], [1, 1], [1, 1]),
        ([1, 16, 90, 90], [3, 16, 7, 7], [2, 2], [3, 3], [1, 1]),
    ];
    for (xs, ws, s, p, d) in cases {
        let g = ConvGeometry::new(xs, ws, s, p, d).expect("geometry");
        if xs[1] >= 16 && ws[0] < 32 {
            assert!(super::tile_rows(&g) < g.output[0], "{xs:?} must be lowered in several bands");
        }
        let x = signal(g.batch * g.image_len(), 1);
        let w = signal(g.weight_len(), 2);
        let dy = signal(g.batch * g.out_image_len(), 3);
        let (mut y_ref, mut dx_ref, mut dw_ref) =
            (vec![0f64; dy.len()], vec![0f64; x.len()], vec![0f64; w.len()]);
        taps(&g, |[n, o, c, oh, ow, i, j, ih, iw]| {
            let (xk, yk, wk) = (xi(&g, n, c, ih, iw), yi(&g, n, o, oh, ow), wi(&g, o, c, i, j));
            y_ref[yk] += f64::from(x[xk]) * f64::from(w[wk]);
            dx_ref[xk] += f64::from(dy[yk]) * f64::from(w[wk]);
            dw_ref[wk] += f64::from(dy[yk]) * f64::from(x[xk]);
        });
        let tag = format!("{xs:?} {ws:?} s{s:?} p{p:?} d{d:?}");
        assert_close(&format!("y {tag}"), &conv2d_forward(&g, &x, &w).expect("forward"), &y_ref);
        assert_close(&format!("dx {tag}"), &conv2d_input_grad(&g, &dy, &w).expect("dx"), &dx_ref);
        assert_close(&format!("dw {tag}"), &conv2d_weight_grad(&g, &x, &dy).expect("dw"), &dw_ref);
    }
}

#[test]
fn bad_geometry_and_buffers_are_typed_errors() {
    assert!(matches!(
        ConvGeometry::new([1, 3, 4, 4], [2, 4, 3, 3], [1, 1], [0, 0], [1, 1]),
        Err(crate::KernelError::Geometry(_))
    ));
    assert!(matches!(
        ConvGeometry::new([1, 3, 2, 2], [2, 3, 5, 5], [1, 1], [1, 1], [1, 1]),
        Err(crate::KernelError::Geometry(_))
    ));
    assert!(ConvGeometry::new([1, 3, 4, 4], [2, 3, 3, 3], [0, 1], [0, 0], [1, 1]).is_err());
    let g = ConvGeometry::new([1, 3, 4, 4], [2, 3, 3, 3], [1, 1], [1, 1], [1, 1]).expect("geometry");
    assert_eq!(
        conv2d_forward(&g, &[0.0; 47], &[0.0; 54]),
        Err(crate::KernelError::BufferLength { name: "x", expected: 48, actual: 47 })
    );
}
