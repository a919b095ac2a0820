//! Audio frontend benchmarks: the paper's log-mel of a 5 s clip, Sound-of-Pixels' STFT / iSTFT
//! (n_fft 1022, hop 256) of 65 535 samples, the log-frequency warp, and the batch API on 1 and
//! 2 threads. Python side: `tools/time_librosa.py`.

use std::hint::black_box;

use av_align::audio::{FreqWarp, Istft, LogMelConfig, LogMelExtractor, Stft, StftConfig, logmel_batch};
use criterion::{BenchmarkId, Criterion, Throughput};

/// Deterministic noise in [-0.1, 0.1) (a 64-bit LCG), so every run sees the same input.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        })
        .collect()
}

/// Registers the audio benchmarks.
pub fn benches(c: &mut Criterion) {
    let clip = noise(5 * 22_050, 1);
    let extractor = LogMelExtractor::new(LogMelConfig::paper()).expect("paper config is valid");
    c.bench_function("cpu/logmel/paper_5s", |b| b.iter(|| extractor.compute(black_box(&clip))));

    let sop = noise(65_535, 2);
    let cfg = StftConfig::sound_of_pixels();
    let stft = Stft::new(cfg).expect("valid");
    let istft = Istft::new(cfg).expect("valid");
    c.bench_function("cpu/stft/1022x256_65535", |b| b.iter(|| stft.forward(black_box(&sop))));
    let spec = stft.forward(&sop).expect("valid signal");
    c.bench_function("cpu/istft/1022x256_65535", |b| b.iter(|| istft.inverse(black_box(&spec), None)));

    let magnitude = spec.magnitude();
    let warp = FreqWarp::sound_of_pixels();
    let unwarp = FreqWarp::sound_of_pixels_inverse();
    c.bench_function("cpu/warp/512x256_to_256x256", |b| b.iter(|| warp.apply(black_box(&magnitude), None)));
    let warped = warp.apply(&magnitude, None).expect("valid shape");
    c.bench_function("cpu/unwarp/256x256_to_512x256", |b| b.iter(|| unwarp.apply(black_box(&warped), None)));

    // The batch API on 1 and 2 threads: 16 clips of 5 s.
    let clips: Vec<Vec<f32>> = (0..16).map(|i| noise(5 * 22_050, 10 + i)).collect();
    let refs: Vec<&[f32]> = clips.iter().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("cpu/logmel_batch_16x5s");
    group.throughput(Throughput::Elements(16));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| logmel_batch(&extractor, black_box(&refs))))
        });
    }
    group.finish();
}
