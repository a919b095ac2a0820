//! Content keys of the images of a batch: XXH3-128 of each image's bytes.
//!
//! A cache of per-image results (av-align's trunk cache) needs a key per image. Reading a batch
//! back to the host to hash it copies it twice on flex (12.6 MB for 16 frames of 256x256); on
//! flex [`crate::KeyKernels`] hashes the tensor's own buffer instead, images in parallel.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::KernelError;

/// The key of every image of `x` (`images` equal, contiguous parts): XXH3-128 of its `f32`
/// values' little-endian bytes, seeded with `seed`. The same values give the same key on every
/// backend and machine.
///
/// # Errors
/// [`KernelError::Shape`] when `images` is 0 or does not divide `x`'s length.
pub fn image_keys(x: &[f32], images: usize, seed: u64) -> Result<Vec<u128>, KernelError> {
    if images == 0 || !x.len().is_multiple_of(images) {
        return Err(KernelError::Shape(format!("{} values do not split into {images} images", x.len())));
    }
    let per_image = x.len() / images;
    if per_image == 0 {
        return Ok(vec![xxh3_128_with_seed(&[], seed); images]);
    }
    Ok(x.par_chunks(per_image).map(|image| key(image, seed)).collect())
}

fn key(values: &[f32], seed: u64) -> u128 {
    if cfg!(target_endian = "little") {
        xxh3_128_with_seed(bytemuck::cast_slice(values), seed)
    } else {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        xxh3_128_with_seed(&bytes, seed)
    }
}

/// A key as the two `i64` an integer tensor carries it in (low half, high half, bit for bit).
pub fn key_to_halves(key: u128) -> [i64; 2] {
    [key as u64 as i64, (key >> 64) as u64 as i64]
}

/// The inverse of [`key_to_halves`].
pub fn key_from_halves(halves: [i64; 2]) -> u128 {
    u128::from(halves[0] as u64) | (u128::from(halves[1] as u64) << 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_image_seeded_and_round_trip() {
        let x: Vec<f32> = (0..24).map(|v| v as f32 * 0.5).collect();
        let keys = image_keys(&x, 3, 7).expect("keys");
        assert_eq!(keys[0], xxh3_128_with_seed(bytemuck::cast_slice(&x[..8]), 7));
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], image_keys(&x, 3, 8).expect("keys")[0], "the seed enters the key");
        let mut y = x.clone();
        y[9] = -0.0; // 4.5 -> -0.0 changes only image 1
        let other = image_keys(&y, 3, 7).expect("keys");
        assert_eq!((other[0], other[2]), (keys[0], keys[2]));
        assert_ne!(other[1], keys[1]);
        for k in keys {
            assert_eq!(key_from_halves(key_to_halves(k)), k);
        }
        assert!(matches!(image_keys(&x, 5, 0), Err(KernelError::Shape(_))));
        assert!(matches!(image_keys(&x, 0, 0), Err(KernelError::Shape(_))));
    }
}
