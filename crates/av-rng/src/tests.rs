//! The pinned streams. The values below were recorded from the two generators this crate
//! replaces (`av_data::rng` and `av_metrics::rng` before they became re-exports of it), so
//! they prove that both streams are unchanged bit for bit.

use super::*;

#[test]
fn reference_values() {
    // First outputs of SplitMix64 seeded with 0 (from the reference C implementation).
    let mut r = SplitMix64::new(0);
    assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    // First outputs of Vigna's splitmix64.c seeded with 1234567.
    let mut rng = SplitMix64::new(1_234_567);
    assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
    assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
}

#[test]
fn pinned_raw_stream_and_hashes() {
    let mut r = SplitMix64::new(42);
    let first: Vec<u64> = (0..10).map(|_| r.next_u64()).collect();
    assert_eq!(
        first,
        [
            0xBDD7_3226_2FEB_6E95,
            0x28EF_E333_B266_F103,
            0x4752_6757_130F_9F52,
            0x581C_E1FF_0E4A_E394,
            0x09BC_585A_2448_23F2,
            0xDE44_31FA_3C80_DB06,
            0x37E9_671C_4537_6D5D,
            0xCCF6_35EE_9E9E_2FA4,
            0x5705_B877_0B3D_7DD5,
            0x9E54_D738_297F_77AE,
        ]
    );
    assert_eq!(mix64(0), 0);
    assert_eq!(mix64(1), 0x5692_161D_100B_05E5);
    assert_eq!(mix64(GOLDEN_GAMMA), 0xE220_A839_7B1D_CDAF);
    assert_eq!(GOLDEN_GAMMA, 0x9E37_79B9_7F4A_7C15);
    assert_eq!(hash_words(&[]), 0x6A09_E667_F3BC_C908);
    assert_eq!(hash_words(&[1, 2]), 0xD94B_0EB3_FC89_EE4C);
    assert_eq!(hash_words(&[2, 1]), 0x63A2_3072_7713_F411);
    assert_eq!(hash_str(""), 0xF52A_15E9_A9B5_E89B);
    assert_eq!(hash_str("violin"), 0x2763_283F_2501_6DF0);
}

/// The benchmark (`av-data`) stream: every draw it uses.
#[test]
fn pinned_benchmark_stream() {
    let mut r = SplitMix64::new(42);
    let u: Vec<u64> = (0..3).map(|_| r.uniform().to_bits()).collect();
    assert_eq!(u, [0x3FE7_BAE6_44C5_FD6D, 0x3FC4_77F1_99D9_3378, 0x3FD1_D499_D5C4_C3E6]);

    let mut r = SplitMix64::new(42);
    let x: Vec<u32> = (0..3).map(|_| r.range_f32(-2.0, 3.0).to_bits()).collect();
    assert_eq!(x, [0x3FDA_99FC, 0xBF99_A848, 0xBF1B_63FA]);

    let mut r = SplitMix64::new(42);
    let b: Vec<usize> = (0..12).map(|_| r.below(10)).collect();
    assert_eq!(b, [7, 1, 2, 3, 0, 8, 2, 8, 3, 6, 2, 4]);
    assert_eq!(SplitMix64::new(42).below(0), 0);

    let mut r = SplitMix64::new(42);
    let c: Vec<bool> = (0..12).map(|_| r.chance(0.5)).collect();
    assert_eq!(c, [false, true, true, true, true, false, true, false, true, false, true, true]);

    let mut r = SplitMix64::new(42);
    let items = ['a', 'b', 'c', 'd', 'e'];
    let s: String = (0..8).map(|_| *r.choose(&items).unwrap()).collect();
    assert_eq!(s, "dabbaebe");
    assert_eq!(r.choose::<u8>(&[]), None);

    let mut r = SplitMix64::new(42);
    let w: Vec<usize> = (0..12).map(|_| r.weighted(&[1.0, 2.0, 3.0, 4.0])).collect();
    assert_eq!(w, [3, 1, 1, 2, 0, 3, 1, 3, 2, 3, 1, 2]);

    // Nine draws for ten items, then the tenth output of the stream.
    let mut r = SplitMix64::new(42);
    let mut v: Vec<u32> = (0..10).collect();
    r.shuffle(&mut v);
    assert_eq!(v, [8, 3, 6, 5, 4, 0, 9, 2, 1, 7]);
    assert_eq!(r.next_u64(), 0x9E54_D738_297F_77AE);

    let mut r = SplitMix64::from_words(&[3, 1, 4, 1, 5]);
    assert_eq!(r.next_u64(), 0x857C_4DC7_FB7E_F7FA);
    assert_eq!(r.next_u64(), 0x1C94_1A28_F986_C15A);

    // A fork consumes one output of its parent.
    let mut parent = SplitMix64::new(42);
    let mut child = parent.fork(7);
    assert_eq!(child.next_u64(), 0x2AF2_74A0_E6AB_BFDE);
    assert_eq!(child.next_u64(), 0x0473_1FDD_CBFA_2580);
    assert_eq!(parent.next_u64(), 0x28EF_E333_B266_F103);
}

/// The metrics (`av-metrics`) stream: `next_f64` and the unbiased `next_below`.
#[test]
fn pinned_metrics_stream() {
    let mut r = SplitMix64::new(42);
    let u: Vec<u64> = (0..3).map(|_| r.next_f64().to_bits()).collect();
    assert_eq!(u, [0x3FE7_BAE6_44C5_FD6D, 0x3FC4_77F1_99D9_3378, 0x3FD1_D499_D5C4_C3E6]);

    let mut r = SplitMix64::new(42);
    let b: Vec<u64> = (0..12).map(|_| r.next_below(10)).collect();
    assert_eq!(b, [7, 1, 2, 3, 0, 8, 2, 8, 3, 6, 2, 4]);

    // A large bound: one of these six draws is rejected, so the next raw output is the
    // eighth of the stream (see `pinned_raw_stream_and_hashes`).
    let mut r = SplitMix64::new(42);
    let b: Vec<u64> = (0..6).map(|_| r.next_below(3 << 62)).collect();
    assert_eq!(
        b,
        [
            10_259_593_149_566_456_559,
            2_212_369_569_095_169_218,
            3_854_462_811_347_072_893,
            526_149_589_606_472_437,
            12_011_985_844_247_241_796,
            3_021_648_534_583_218_693,
        ]
    );
    assert_eq!(r.next_u64(), 0xCCF6_35EE_9E9E_2FA4);
    assert_eq!(SplitMix64::new(42).next_below(0), 0);
}

/// `below` and `next_below` are distinct draws: equal for small bounds, not after a rejection.
#[test]
fn below_and_next_below_are_distinct() {
    let (mut a, mut b) = (SplitMix64::new(42), SplitMix64::new(42));
    for _ in 0..1000 {
        assert_eq!(a.below(10) as u64, b.next_below(10));
    }
    let (mut a, mut b) = (SplitMix64::new(42), SplitMix64::new(42));
    let big = 3u64 << 62;
    let n = usize::try_from(big).expect("64-bit usize");
    let same = (0..6).all(|_| a.below(n) as u64 == b.next_below(big));
    assert!(!same, "a rejected draw must put the streams out of step");
}

#[test]
fn ranges_and_shuffle() {
    let mut r = SplitMix64::new(7);
    for _ in 0..1000 {
        let u = r.uniform();
        assert!((0.0..1.0).contains(&u));
        assert!(r.below(3) < 3);
    }
    let mut v: Vec<u32> = (0..10).collect();
    r.shuffle(&mut v);
    let mut s = v.clone();
    s.sort_unstable();
    assert_eq!(s, (0..10).collect::<Vec<_>>());
    assert_eq!(r.weighted(&[0.0, 1.0, 0.0]), 1);
    assert_ne!(hash_words(&[1, 2]), hash_words(&[2, 1]));
}

#[test]
fn uniform_and_bounded() {
    let mut rng = SplitMix64::new(7);
    let mut mean = 0.0;
    for _ in 0..10_000 {
        let x = rng.next_f64();
        assert!((0.0..1.0).contains(&x));
        mean += x;
        assert!(rng.next_below(5) < 5);
    }
    mean /= 10_000.0;
    assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    assert_eq!(rng.next_below(0), 0);
}
