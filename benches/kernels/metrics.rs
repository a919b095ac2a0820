//! Metric benchmarks (filled in with av-metrics).
use criterion::Criterion;

/// Registers the metric benchmarks.
pub fn benches(_c: &mut Criterion) {}
