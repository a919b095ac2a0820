//! Audio frontend benchmarks (filled in with av-audio).
use criterion::Criterion;

/// Registers the audio benchmarks.
pub fn benches(_c: &mut Criterion) {}
