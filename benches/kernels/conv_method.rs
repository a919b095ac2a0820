//! The two convolution methods of `av-kernels` side by side on plain slices, per pass, on the
//! layer shapes of the compact trunks (the broad and compact presets; batch 16, 128x128 frames,
//! 251x64 log-mels): `conv_method/{layer}/{fwd,dx,dw}/{lowered,direct}`. The rule
//! `ConvMethod::choose` is read off these timings (`docs/performance.md`).

use std::hint::black_box;
use std::time::Duration;

use av_kernels::conv::{
    ConvGeometry, ConvMethod, ConvPass, conv2d_forward_using, conv2d_input_grad_using,
    conv2d_weight_grad_using,
};
use criterion::Criterion;

/// (name, input [N, C, H, W], weight [O, C, k, k], stride, padding)
const LAYERS: [(&str, [usize; 4], [usize; 4], usize, usize); 13] = [
    ("v_stem_7x7_3to8_128", [16, 3, 128, 128], [8, 3, 7, 7], 2, 3),
    ("v_l1_3x3_8_32", [16, 8, 32, 32], [8, 8, 3, 3], 1, 1),
    ("v_l2a_3x3s2_8to16_32", [16, 8, 32, 32], [16, 8, 3, 3], 2, 1),
    ("v_l2_3x3_16_16", [16, 16, 16, 16], [16, 16, 3, 3], 1, 1),
    ("v_l3a_3x3s2_16to32_16", [16, 16, 16, 16], [32, 16, 3, 3], 2, 1),
    ("v_l3_3x3_32_8", [16, 32, 8, 8], [32, 32, 3, 3], 1, 1),
    ("v_l4a_3x3_32to64_8", [16, 32, 8, 8], [64, 32, 3, 3], 1, 1),
    ("v_l4_3x3_64_8", [16, 64, 8, 8], [64, 64, 3, 3], 1, 1),
    ("a_stem_7x7_1to8_251x64", [16, 1, 251, 64], [8, 1, 7, 7], 2, 3),
    ("a_l1_3x3_8_63x16", [16, 8, 63, 16], [8, 8, 3, 3], 1, 1),
    ("a_l2_3x3_16_32x8", [16, 16, 32, 8], [16, 16, 3, 3], 1, 1),
    ("a_l3_3x3_32_16x4", [16, 32, 16, 4], [32, 32, 3, 3], 1, 1),
    ("a_l4_3x3_64_16x4", [16, 64, 16, 4], [64, 64, 3, 3], 1, 1),
];

fn signal(len: usize, seed: usize) -> Vec<f32> {
    (0..len).map(|v| (((v * 7919 + seed * 104_729) % 2003) as f32 / 1001.0) - 1.0).collect()
}

/// Registers the per-pass comparison.
pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv_method");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for (name, xs, ws, s, p) in LAYERS {
        let Ok(g) = ConvGeometry::new(xs, ws, [s, s], [p, p], [1, 1]) else { continue };
        let x = signal(g.batch * g.image_len(), 1);
        let w = signal(g.weight_len(), 2);
        let dy = signal(g.batch * g.out_image_len(), 3);
        for (pass, tag) in
            [(ConvPass::Forward, "fwd"), (ConvPass::InputGrad, "dx"), (ConvPass::WeightGrad, "dw")]
        {
            for (method, label) in [(ConvMethod::Lowered, "lowered"), (ConvMethod::Direct, "direct")] {
                if method == ConvMethod::Direct && ConvMethod::direct_unsupported(&g, pass).is_some() {
                    continue;
                }
                group.bench_function(format!("{name}/{tag}/{label}"), |b| {
                    b.iter(|| {
                        black_box(match pass {
                            ConvPass::Forward => conv2d_forward_using(method, &g, &x, &w),
                            ConvPass::InputGrad => conv2d_input_grad_using(method, &g, &dy, &w),
                            ConvPass::WeightGrad => conv2d_weight_grad_using(method, &g, &x, &dy),
                        })
                    })
                });
            }
        }
    }
    group.finish();
}
