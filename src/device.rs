//! Backend selection for binaries, examples and benches: the only place that picks a device.
//!
//! The compiled-in backends follow the cargo features of this crate (`flex`, the default CPU
//! backend; `ndarray`, Burn's deprecated CPU backend; `wgpu`; `cuda`). At run time the
//! environment variable [`DEVICE_ENV_VAR`] (`AV_ALIGN_DEVICE`) chooses among them:
//!
//! | value | device |
//! |---|---|
//! | `flex` (or `cpu`) | [`Device::flex`] |
//! | `ndarray` | Burn's NdArray CPU backend |
//! | `wgpu`, `wgpu:N` | default WGPU adapter, or discrete GPU number N |
//! | `cuda`, `cuda:N` | CUDA device 0 or N |
//!
//! Unset, the most capable compiled-in backend wins: CUDA, then WGPU, then Flex, then NdArray.
//!
//! ```
//! let device = av_align::select_device().expect("a backend is compiled in");
//! println!("running on {}", av_align::device::describe(&device));
//! ```

pub use burn::tensor::Device;

/// Environment variable read by [`select_device`].
pub const DEVICE_ENV_VAR: &str = "AV_ALIGN_DEVICE";

/// Why no device could be selected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    /// The requested backend name is not one this crate knows.
    #[error("unknown device '{requested}' in {var}; expected one of: flex, cpu, ndarray, wgpu[:N], cuda[:N]")]
    Unknown {
        /// The value that was asked for.
        requested: String,
        /// The variable it came from.
        var: &'static str,
    },
    /// The requested backend exists but this binary was built without its cargo feature.
    #[error(
        "device '{requested}' needs av-align's cargo feature '{feature}': rebuild with `--features {feature}`"
    )]
    NotCompiled {
        /// The value that was asked for.
        requested: String,
        /// The cargo feature that enables it.
        feature: &'static str,
    },
    /// The device index after the colon is not a number.
    #[error("bad device index in '{requested}': expected e.g. cuda:0")]
    BadIndex {
        /// The value that was asked for.
        requested: String,
    },
    /// No backend feature is enabled at all.
    #[error("no backend is compiled in: enable one of the features flex, ndarray, wgpu, cuda")]
    NoBackend,
}

/// A parsed device request, before any device is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRequest {
    /// Burn's pure-Rust CPU backend.
    Flex,
    /// Burn's deprecated NdArray CPU backend.
    NdArray,
    /// A WGPU adapter: `None` for the default adapter, `Some(n)` for discrete GPU `n`.
    Wgpu(Option<usize>),
    /// A CUDA device by index.
    Cuda(usize),
}

impl DeviceRequest {
    /// Parses a value of [`DEVICE_ENV_VAR`] (case-insensitive, surrounding spaces ignored).
    ///
    /// # Errors
    /// [`DeviceError::Unknown`] or [`DeviceError::BadIndex`].
    pub fn parse(value: &str) -> Result<Self, DeviceError> {
        let lower = value.trim().to_ascii_lowercase();
        let (name, index) = match lower.split_once(':') {
            Some((name, idx)) => {
                let parsed = idx
                    .parse::<usize>()
                    .map_err(|_| DeviceError::BadIndex { requested: value.to_string() })?;
                (name.to_string(), Some(parsed))
            }
            None => (lower.clone(), None),
        };
        match name.as_str() {
            "flex" | "cpu" if index.is_none() => Ok(Self::Flex),
            "ndarray" if index.is_none() => Ok(Self::NdArray),
            "wgpu" => Ok(Self::Wgpu(index)),
            "cuda" => Ok(Self::Cuda(index.unwrap_or(0))),
            _ => Err(DeviceError::Unknown { requested: value.to_string(), var: DEVICE_ENV_VAR }),
        }
    }

    /// The most capable backend compiled into this build.
    ///
    /// # Errors
    /// [`DeviceError::NoBackend`] when no backend feature is enabled.
    pub fn best_compiled() -> Result<Self, DeviceError> {
        if cfg!(feature = "cuda") {
            Ok(Self::Cuda(0))
        } else if cfg!(feature = "wgpu") {
            Ok(Self::Wgpu(None))
        } else if cfg!(feature = "flex") {
            Ok(Self::Flex)
        } else if cfg!(feature = "ndarray") {
            Ok(Self::NdArray)
        } else {
            Err(DeviceError::NoBackend)
        }
    }

    /// The cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Wgpu(_) => "wgpu",
            Self::Cuda(_) => "cuda",
        }
    }

    /// Creates the device.
    ///
    /// # Errors
    /// [`DeviceError::NotCompiled`] when the backend's feature is off in this build.
    pub fn create(self) -> Result<Device, DeviceError> {
        let not_compiled = || DeviceError::NotCompiled {
            requested: format!("{self:?}").to_ascii_lowercase(),
            feature: self.feature(),
        };
        match self {
            Self::Flex => {
                #[cfg(feature = "flex")]
                return Ok(Device::flex());
                #[allow(unreachable_code)]
                Err(not_compiled())
            }
            Self::NdArray => {
                #[cfg(feature = "ndarray")]
                #[allow(deprecated)]
                return Ok(Device::ndarray());
                #[allow(unreachable_code)]
                Err(not_compiled())
            }
            Self::Wgpu(index) => {
                #[cfg(feature = "wgpu")]
                {
                    use burn::tensor::DeviceKind;
                    let kind = match index {
                        Some(n) => DeviceKind::DiscreteGpu(n),
                        None => DeviceKind::DefaultDevice,
                    };
                    return Ok(Device::wgpu(kind));
                }
                #[allow(unreachable_code)]
                {
                    let _ = index;
                    Err(not_compiled())
                }
            }
            Self::Cuda(index) => {
                #[cfg(feature = "cuda")]
                return Ok(Device::cuda(index));
                #[allow(unreachable_code)]
                {
                    let _ = index;
                    Err(not_compiled())
                }
            }
        }
    }
}

/// Selects the compute device for a binary, example or bench.
///
/// Reads [`DEVICE_ENV_VAR`]; when it is unset or empty, takes
/// [`DeviceRequest::best_compiled`]. This is the single device selector of the project.
///
/// # Errors
/// An unknown or not-compiled-in backend, or no backend at all.
pub fn select_device() -> Result<Device, DeviceError> {
    let request = match std::env::var(DEVICE_ENV_VAR) {
        Ok(value) if !value.trim().is_empty() => DeviceRequest::parse(&value)?,
        _ => DeviceRequest::best_compiled()?,
    };
    request.create()
}

/// Whether `device` computes on the host CPU (Flex, NdArray, or autodiff over one of them), as
/// opposed to an accelerator (WGPU, CUDA): work run beside the model on the host then competes
/// with it for the same cores.
pub fn is_host_cpu(device: &Device) -> bool {
    let plain = device.clone().without_autodiff();
    #[cfg(feature = "flex")]
    if plain == Device::flex() {
        return true;
    }
    #[cfg(feature = "ndarray")]
    if plain == Device::ndarray() {
        return true;
    }
    let _ = plain;
    false
}

/// A short human-readable name of a device, for logs ("flex (CPU)", "wgpu", ...).
pub fn describe(device: &Device) -> String {
    format!("{device:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_indices() {
        assert_eq!(DeviceRequest::parse("flex"), Ok(DeviceRequest::Flex));
        assert_eq!(DeviceRequest::parse(" CPU "), Ok(DeviceRequest::Flex));
        assert_eq!(DeviceRequest::parse("ndarray"), Ok(DeviceRequest::NdArray));
        assert_eq!(DeviceRequest::parse("wgpu"), Ok(DeviceRequest::Wgpu(None)));
        assert_eq!(DeviceRequest::parse("wgpu:1"), Ok(DeviceRequest::Wgpu(Some(1))));
        assert_eq!(DeviceRequest::parse("cuda"), Ok(DeviceRequest::Cuda(0)));
        assert_eq!(DeviceRequest::parse("cuda:3"), Ok(DeviceRequest::Cuda(3)));
    }

    #[test]
    fn rejects_bad_requests() {
        assert!(matches!(DeviceRequest::parse("tpu"), Err(DeviceError::Unknown { .. })));
        assert!(matches!(DeviceRequest::parse("cuda:x"), Err(DeviceError::BadIndex { .. })));
        assert!(matches!(DeviceRequest::parse("flex:1"), Err(DeviceError::Unknown { .. })));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn missing_feature_is_a_typed_error() {
        assert_eq!(
            DeviceRequest::Cuda(0).create().err(),
            Some(DeviceError::NotCompiled { requested: "cuda(0)".into(), feature: "cuda" })
        );
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_is_the_host_cpu_with_or_without_autodiff() {
        assert!(is_host_cpu(&Device::flex()));
        assert!(is_host_cpu(&Device::flex().autodiff()));
    }

    #[cfg(feature = "flex")]
    #[test]
    fn flex_device_runs_a_tensor_op() {
        use burn::tensor::Tensor;
        let device = DeviceRequest::Flex.create().expect("flex is compiled in");
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let sum = x.sum().into_scalar::<f32>();
        assert_eq!(sum, 6.0);
    }
}
