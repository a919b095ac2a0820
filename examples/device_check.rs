//! Runs one forward pass of each network on the selected device and compares it with the CPU
//! (flex) result, for checking a WGPU or CUDA installation.
//!
//! ```bash
//! AV_ALIGN_DEVICE=wgpu cargo run --release --features wgpu --example device_check
//! ```
//! Software Vulkan (Debian `mesa-vulkan-drivers`, llvmpipe) needs `XDG_RUNTIME_DIR` set to a
//! writable folder. Exits with status 1 if any output differs by more than 1e-3 relative.

use anyhow::{Result, anyhow, bail};
use av_align::backbones::{ResNetConfig, UnetConfig};
use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};

fn max_rel_diff(a: Tensor<4>, b: Tensor<4>) -> Result<f32> {
    let read = |t: Tensor<4>| {
        t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| anyhow!("read result: {e:?}"))
    };
    let (a, b) = (read(a)?, read(b)?);
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    Ok(a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max) / scale)
}

fn main() -> Result<()> {
    let device = av_align::select_device()?;
    let cpu = Device::flex();
    println!("device under test: {}", av_align::device::describe(&device));
    let mut worst = 0.0f32;

    let resnet = ResNetConfig::visual().with_base_width(16).init(&cpu);
    let x = Tensor::<4>::random([2, 3, 128, 128], Distribution::Default, &cpu);
    let on_device = resnet.clone().fork(&device);
    let x_dev = Tensor::<4>::from_data(x.to_data(), &device);
    let diff = max_rel_diff(on_device.forward(x_dev).layer4, resnet.forward(x).layer4)?;
    println!("ResNet-18 (width 16) forward, 2x3x128x128: max relative difference {diff:.2e}");
    worst = worst.max(diff);

    let unet = UnetConfig::new().with_ngf(8).init(&cpu);
    let x = Tensor::<4>::random([1, 1, 256, 256], Distribution::Default, &cpu);
    let x_dev = Tensor::<4>::from_data(x.to_data(), &device);
    let diff = max_rel_diff(unet.clone().fork(&device).forward(x_dev), unet.forward(x))?;
    println!("U-Net-7 (ngf 8) forward, 1x1x256x256: max relative difference {diff:.2e}");
    worst = worst.max(diff);

    if worst > 1e-3 {
        bail!("outputs differ from the CPU by {worst:.2e} (relative)");
    }
    println!("OK: the device agrees with the CPU within {worst:.2e}");
    Ok(())
}
