//! `cargo bench --bench kernels`: the project's kernel benchmarks (criterion).
//!
//! Bench ids carry the backend (`cpu/...` for the pure-Rust DSP and metrics code, which runs
//! on no Burn backend). Results and the commands that reproduce them: `docs/performance.md`.

mod audio;
mod backbones;
mod conv;
mod conv_method;
mod metrics;
mod model;
mod separation;

criterion::criterion_group!(
    benches,
    audio::benches,
    metrics::benches,
    backbones::benches,
    conv::benches,
    conv_method::benches,
    model::benches,
    model::loader_benches,
    separation::benches
);
criterion::criterion_main!(benches);
