//! # av-separation — visually guided sound separation (paper §3.3, §4.4; docs/reference_implementation.md §8)
//!
//! Sound-of-Pixels' mix-and-separate (Zhao et al., ECCV 2018, `hangzhaomit/Sound-of-Pixels`),
//! with the guidance left open so that the coarse-to-fine model can drive it:
//!
//! * Data path ([`Mixer`], no tensor library): `N` sources at 11 025 Hz, 65 535 samples, each
//!   divided by `N` and summed; STFT 1022/256 (512 x 256); log-frequency warp to 256 x 256;
//!   network input `log(warp(|X_mix|) + 1e-10)`; target masks per source on the warped grid,
//!   binary (`mag_n > 0.5 mag_mix`) or ratio ([`MaskKind`]); loss weights
//!   `clamp(log1p(mag_mix), 1e-3, 10)`. [`SeparationBatch`] turns examples into tensors.
//! * Pairs ([`pairs`]): deterministic pairs of solo clips of different classes, duets as
//!   given, from the offline benchmark ([`BenchClips`]) or any clip list.
//! * Model ([`SeparationNet`]): U-Net-7 (`av_backbones::Unet`, K output maps) + the `InnerProd`
//!   [`Synthesizer`] (`σ(Σ_k v_k·scale_k·A_k + bias)`), steered by a [`Guidance`] per source:
//!   a K-vector (SoP's visual vector, or MSSL's class-aware pooled feature through a
//!   [`GuidanceProjection`]) or a mask used directly (the paper's "Grad-CAM weights as the mask").
//!   Presets [`SeparationNetConfig::paper`] (ngf 64, K 32) and [`SeparationNetConfig::compact`].
//! * Loss ([`loss`]): weighted BCE (binary) / weighted L1 (ratio), mean over sources;
//!   [`forward_loss`] and [`train_step`] on an autodiff device; SoP's optimiser [`sop_sgd`].
//! * Inference ([`separate()`]): masks -> unwarp -> binarise -> x mixture magnitude -> iSTFT with
//!   the mixture phase (65 280 samples); [`write_wavs`].
//! * Evaluation ([`evaluate`]): SDR/SIR/SAR per source with `av-metrics`' BSS-Eval (mir_eval
//!   semantics), the mixture baseline, means over mixtures, a serialisable
//!   [`SeparationReport`].
//!
//! ```
//! use av_separation::{
//!     Guidance, MixOrigin, Mixer, SeparationBatch, SeparationNetConfig, evaluate, forward_loss,
//!     oracle_estimates, SOP_CLIP_LEN, SOP_SAMPLE_RATE,
//! };
//! use burn::tensor::{Device, Tensor};
//!
//! // Two synthetic "instruments": a low and a high harmonic tone.
//! let tone = |f0: f32| -> Vec<f32> {
//!     (0..SOP_CLIP_LEN)
//!         .map(|n| {
//!             let t = n as f32 / SOP_SAMPLE_RATE as f32;
//!             (1..4).map(|h| (std::f32::consts::TAU * f0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.2
//!         })
//!         .collect()
//! };
//! let mixer = Mixer::sound_of_pixels()?;
//! let example = mixer.mix(&[tone(220.0), tone(1250.0)], SOP_SAMPLE_RATE)?;
//! assert_eq!(example.input.log_magnitude.dim(), (256, 256));
//!
//! // The ideal binary masks separate the two tones almost perfectly.
//! let origin = MixOrigin { id: "low+high".into(), classes: vec![0, 1] };
//! let report = evaluate(&mixer, "ideal binary mask", &[origin], &[example.clone()], |ex| {
//!     oracle_estimates(&mixer, ex)
//! })?;
//! assert!(report.sdr > 20.0 && report.sdr_mix < 1.0);
//!
//! // A compact network guided by one K-vector per source.
//! let device = Device::flex();
//! let net = SeparationNetConfig::compact().init(&device)?;
//! let batch = SeparationBatch::from_examples(&[&example], &device)?;
//! let k = net.channels();
//! let guidance = [
//!     Guidance::Vector(Tensor::<2>::ones([1, k], &device)),
//!     Guidance::Vector(Tensor::<2>::zeros([1, k], &device)),
//! ];
//! let out = forward_loss(&net, &batch, &guidance)?;
//! assert_eq!(out.predictions[0].mask.dims(), [1, 1, 256, 256]);
//! # Ok::<(), av_separation::SeparationError>(())
//! ```

mod batch;
mod error;
pub mod eval;
mod guided;
pub mod loss;
mod mix;
mod model;
pub mod pairs;
mod separate;
mod train;

pub use batch::{SeparationBatch, input_tensor, tensor_to_arrays};
pub use error::{Result, SeparationError};
pub use eval::{PairScores, SeparationReport, evaluate, oracle_estimates, score_mixture};
pub use guided::{
    GuidanceKind, GuidedSeparator, GuidedSeparatorConfig, SourceGuidance, cam_to_grid, guidance_for,
};
pub use mix::{
    BINARY_RATIO, MAG_EPS, MASK_THRESHOLD, MaskKind, MixConfig, MixExample, Mixer, MixtureInput,
    MixtureSpectra, RATIO_CLAMP, SILENCE_L1, SOP_CLIP_LEN, SOP_LOG_FREQ_BINS, SOP_SAMPLE_RATE, WEIGHT_MAX,
    WEIGHT_MIN, loss_weight, target_mask,
};
pub use model::{
    Guidance, GuidanceProjection, GuidanceProjectionConfig, MaskPrediction, SeparationNet,
    SeparationNetConfig, Synthesizer, SynthesizerConfig, sop_visual_guidance,
};
pub use pairs::{BenchClips, MixOrigin, MixSpec, SoloClip, pair_different_classes, solo_pairs};
pub use separate::{Separation, masks_to_sources, separate, separate_inputs, write_wavs};
pub use train::{ForwardOutput, SOP_LR, forward_loss, sop_sgd, train_step};
