//! The convolution's GEMM leaves the upper halves of the vector registers clean on every thread
//! it may have run on (crate docs of `av_kernels::upper_state`). faer's assembly kernels leave
//! them in use, which makes later legacy-SSE code many times slower on Intel; the processor's
//! own record of the register state in use (`XGETBV` with `ECX = 1`, the XINUSE bitmap) says
//! whether they were cleared. On processors without that instruction or without AVX there is
//! nothing to check and the test returns early.
#![cfg(target_arch = "x86_64")]
// Reading XINUSE needs the XGETBV instruction, which only an unsafe intrinsic reaches; the
// library itself has no unsafe code.
#![allow(unsafe_code)]

use av_kernels::conv::{ConvGeometry, conv2d_forward};

/// XINUSE bits of the upper halves of `ymm0-15` (bit 2) and of `zmm0-15` (bit 6).
const UPPER_HALVES: u64 = (1 << 2) | (1 << 6);

/// The XINUSE bitmap of the calling thread, where the processor reports it.
fn in_use() -> Option<u64> {
    // CPUID leaf 0xD, sub-leaf 1, EAX bit 2: XGETBV with ECX = 1 is supported.
    let leaf = std::arch::x86_64::__cpuid_count(0xD, 1);
    if leaf.eax & (1 << 2) == 0 || !std::arch::is_x86_feature_detected!("xsave") {
        return None;
    }
    #[target_feature(enable = "xsave")]
    unsafe fn xgetbv1() -> u64 {
        // SAFETY: the caller checked that XGETBV with ECX = 1 exists.
        unsafe { std::arch::x86_64::_xgetbv(1) }
    }
    // SAFETY: XSAVE and XGETBV with ECX = 1 are supported (checked above).
    Some(unsafe { xgetbv1() })
}

fn data(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect()
}

#[test]
fn convolutions_leave_the_upper_register_halves_clean_on_every_thread() {
    if !std::arch::is_x86_feature_detected!("avx2") || in_use().is_none() {
        return;
    }
    // One image (the GEMM parallel over the pool) and a batch (one image per thread, each GEMM
    // on one thread); 1x1 and 3x3 kernels, wide enough for the packed AVX kernels.
    for (batch, kernel) in [(1, 1), (1, 3), (8, 1), (8, 3)] {
        let g =
            ConvGeometry::new([batch, 64, 24, 24], [96, 64, kernel, kernel], [1, 1], [kernel / 2; 2], [1, 1])
                .expect("valid geometry");
        let y = conv2d_forward(&g, &data(batch * 64 * 24 * 24), &data(96 * 64 * kernel * kernel))
            .expect("valid buffers");
        assert!(y.iter().all(|v| v.is_finite()));
        let here = in_use().expect("checked above");
        let pool: Vec<u64> = rayon::broadcast(|_| in_use().expect("checked above"));
        assert_eq!(here & UPPER_HALVES, 0, "batch {batch} kernel {kernel}: calling thread XINUSE {here:#x}");
        for (i, bits) in pool.iter().enumerate() {
            assert_eq!(
                bits & UPPER_HALVES,
                0,
                "batch {batch} kernel {kernel}: rayon thread {i} XINUSE {bits:#x}"
            );
        }
    }
}

/// The same after a small training step through Burn on flex: this crate's convolution, batch
/// norm and pooling, Burn's own matrix products (the `gemm` crate) and their gradients.
#[cfg(feature = "flex")]
#[test]
fn a_training_step_through_burn_leaves_the_upper_register_halves_clean() {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::{BatchNormConfig, LinearConfig};
    use burn::tensor::{Device, Distribution, Tensor};

    if !std::arch::is_x86_feature_detected!("avx2") || in_use().is_none() {
        return;
    }
    let device = Device::flex().autodiff();
    let conv = Conv2dConfig::new([32, 64], [3, 3]).init(&device);
    let norm = BatchNormConfig::new(64).init(&device);
    let linear = LinearConfig::new(64, 128).init(&device);
    let x = Tensor::<4>::random([8, 32, 20, 20], Distribution::Default, &device).require_grad();
    let y = av_kernels::batch_norm_module(&norm, av_kernels::conv2d_module(&conv, x.clone()));
    let pooled = av_kernels::max_pool2d_module(&burn::nn::pool::MaxPool2dConfig::new([2, 2]).init(), y);
    let [n, c, h, w] = pooled.dims();
    let features = pooled.reshape([n, c, h * w]).swap_dims(1, 2);
    let loss = linear.forward(features).powf_scalar(2.0).mean();
    let grads = loss.backward();
    assert!(x.grad(&grads).is_some());
    let here = in_use().expect("checked above");
    let pool: Vec<u64> = rayon::broadcast(|_| in_use().expect("checked above"));
    assert_eq!(here & UPPER_HALVES, 0, "calling thread XINUSE {here:#x}");
    for (i, bits) in pool.iter().enumerate() {
        assert_eq!(bits & UPPER_HALVES, 0, "rayon thread {i} XINUSE {bits:#x}");
    }
}
