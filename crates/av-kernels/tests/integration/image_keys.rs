//! `av_kernels::image_keys` on flex (the tensor's own buffer, hashed in place) against the keys
//! of the same values read back to the host (`keys::image_keys`): equal on plain and autodiff
//! devices and for a tensor that is a non-contiguous view. Needs the `flex` feature.
#![cfg(feature = "flex")]

use burn::tensor::{Device, Distribution, Tensor};

fn host_keys(x: Tensor<4>, seed: u64) -> Vec<u128> {
    let n = x.dims()[0];
    let values = x.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32");
    av_kernels::keys::image_keys(&values, n, seed).expect("keys")
}

#[test]
fn image_keys_on_flex_equal_the_keys_of_the_read_back_values() {
    for device in [Device::flex(), Device::flex().autodiff()] {
        let x = Tensor::<4>::random([5, 3, 7, 6], Distribution::Default, &device);
        let keys = av_kernels::image_keys(x.clone(), 42).expect("keys");
        assert_eq!(keys, host_keys(x.clone(), 42));
        assert_eq!(keys.len(), 5);
        // The keys come from the flex path, not from the read-back fallback.
        let direct = Tensor::<2, burn::tensor::Int>::from_dispatch(
            <burn::backend::Dispatch as av_kernels::KeyKernels>::av_image_keys(x.clone().into_dispatch(), 42),
        );
        assert_eq!(direct.dims(), [5, 2], "flex hashes in place");
        let transposed = x.clone().swap_dims(2, 3);
        assert_eq!(av_kernels::image_keys(transposed.clone(), 42).expect("keys"), host_keys(transposed, 42));
        // A view in another memory order: the keys are of the logical values.
        let view = x.clone().swap_dims(2, 3).swap_dims(2, 3);
        let permuted = x.clone().swap_dims(0, 1).swap_dims(0, 1);
        assert_eq!(av_kernels::image_keys(view, 42).expect("keys"), keys);
        assert_eq!(av_kernels::image_keys(permuted, 42).expect("keys"), keys);
        let shifted = x.clone().narrow(0, 1, 4);
        assert_eq!(av_kernels::image_keys(shifted, 42).expect("keys"), keys[1..].to_vec());
        // Another image, another key; another seed, other keys.
        assert_ne!(keys[0], keys[1]);
        assert_ne!(av_kernels::image_keys(x, 43).expect("keys")[0], keys[0]);
    }
}
