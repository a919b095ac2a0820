//! Dev-only crate (not published): its integration test `tests/wgpu_parity.rs` runs a forward and
//! backward pass of the coarse-to-fine model and of the separation U-Net on Burn's `wgpu` backend
//! and compares them with the `flex` CPU backend.
//!
//! CI (`.ci/run`) installs software Vulkan (Debian `mesa-vulkan-drivers`, `libvulkan1`: llvmpipe),
//! sets `XDG_RUNTIME_DIR` and `AV_ALIGN_WGPU_TEST=require`, so the WGPU path is exercised on every
//! CI run and a missing adapter fails the test. Without that variable the test is skipped (with a
//! message) on machines that have no Vulkan driver installed. See `docs/development.md`.
