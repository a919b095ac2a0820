//! The harness of the crates' `fuzz_*` property tests ("fuzzing on stable"): a fixed-seed, small
//! CI budget with an `AV_FUZZ_CASES` / `AV_FUZZ_SEED` override, a per-case time bound, a
//! per-case bound on the largest single allocation (a counting global allocator, installed in
//! every test binary that enables the kit's `fuzz` feature; it only forwards to `System`), and
//! structure-aware mutations of valid seed files.
// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};

// --- harness: allocation bound, time bound, CI budget ------------------------------------------

/// Largest single allocation a case may request (inputs are at most a few KiB).
pub const ALLOC_LIMIT: usize = 256 << 20;
/// Wall-clock bound of one case.
pub const CASE_LIMIT: Duration = Duration::from_secs(2);

struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: PeakAlloc = PeakAlloc;

/// Runs one case: checks the time and the largest allocation it took.
pub fn bounded<T>(what: &str, f: impl FnOnce() -> T) -> T {
    PEAK.with(|p| p.set(0));
    let t0 = Instant::now();
    let out = f();
    let (elapsed, peak) = (t0.elapsed(), PEAK.with(Cell::get));
    assert!(elapsed < CASE_LIMIT, "{what}: one case took {elapsed:?}");
    assert!(peak < ALLOC_LIMIT, "{what}: one allocation of {peak} bytes");
    out
}

/// An environment variable parsed as `u64` (`None` when unset or not a number).
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Fixed seed and a small budget for CI; `AV_FUZZ_CASES` / `AV_FUZZ_SEED` override.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: env_u64("AV_FUZZ_CASES").map_or(cases, |c| c as u32),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(env_u64("AV_FUZZ_SEED").unwrap_or(0x5EED_F022)),
        ..ProptestConfig::default()
    }
}

// --- structure-aware mutations of a seed -------------------------------------------------------

/// Values that break naive size arithmetic when written into a header field.
pub const HUGE: [u64; 8] =
    [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1_000_000_000_000, i64::MAX as u64, u64::MAX];

/// One change to a seed file (positions are taken modulo its length).
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip bit `b` of one byte.
    Flip(prop::sample::Index, u8),
    /// Set one byte.
    Set(prop::sample::Index, u8),
    /// Insert bytes.
    Insert(prop::sample::Index, Vec<u8>),
    /// Delete up to `n` bytes.
    Delete(prop::sample::Index, usize),
    /// Cut the file there.
    Truncate(prop::sample::Index),
    /// A little-endian u16/u32/u64 (`width` 2/4/8) overwritten with one of [`HUGE`].
    Huge(prop::sample::Index, usize, usize),
    /// A decimal number written into the text (for text formats: shapes, coordinates, times).
    Number(prop::sample::Index, usize),
}

/// Any [`Mutation`].
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>;
    prop_oneof![
        (idx(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (idx(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (idx(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Insert(i, v)),
        (idx(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        idx().prop_map(Mutation::Truncate),
        (idx(), prop::sample::select(vec![2usize, 4, 8]), 0..HUGE.len())
            .prop_map(|(i, w, h)| Mutation::Huge(i, w, h)),
        (idx(), 0..HUGE.len()).prop_map(|(i, h)| Mutation::Number(i, h)),
    ]
}

/// `seed` with `mutations` applied in order.
pub fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for m in mutations {
        let n = b.len();
        match m {
            Mutation::Flip(i, bit) if n > 0 => b[i.index(n)] ^= 1 << bit,
            Mutation::Set(i, v) if n > 0 => b[i.index(n)] = *v,
            Mutation::Insert(i, v) => {
                let at = i.index(n + 1);
                b.splice(at..at, v.iter().copied());
            }
            Mutation::Delete(i, len) if n > 0 => {
                let at = i.index(n);
                b.drain(at..(at + len).min(n));
            }
            Mutation::Truncate(i) => b.truncate(i.index(n + 1)),
            Mutation::Huge(i, w, h) if n >= *w => {
                let at = i.index(n - w + 1);
                b[at..at + w].copy_from_slice(&HUGE[*h].to_le_bytes()[..*w]);
            }
            Mutation::Number(i, h) => {
                let at = i.index(n + 1);
                b.splice(at..at, HUGE[*h].to_string().into_bytes());
            }
            _ => {}
        }
    }
    b
}

/// Arbitrary bytes, or 1-8 mutations of one of `seeds`.
pub fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        4 => (0..n, prop::collection::vec(mutation(), 1..8))
            .prop_map(move |(s, ms)| apply(&seeds[s], &ms)),
    ]
}

/// One scratch directory per tag and process, reused by every case (a fresh one per case would
/// leave thousands behind on a long run).
pub fn scratch(tag: &str) -> PathBuf {
    static DIRS: std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut dirs = DIRS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    dirs.entry(tag.to_string()).or_insert_with(|| crate::tmp_dir(tag)).clone()
}
