//! From prepared examples ([`crate::MixExample`]) to Burn tensors on a device.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array2;

use crate::error::{Result, SeparationError};
use crate::mix::{MixExample, MixtureInput};

/// A training batch of `B` mixtures with `S` sources each.
#[derive(Debug, Clone)]
pub struct SeparationBatch {
    /// Network input `log(warp(|X_mix|) + 1e-10)`, `[B, 1, F, T]` (256 x 256).
    pub log_magnitude: Tensor<4>,
    /// Target masks, `[B, S, F, T]`; channel `n` is source `n`.
    pub targets: Tensor<4>,
    /// Loss weights, `[B, 1, F, T]`.
    pub weight: Tensor<4>,
}

impl SeparationBatch {
    /// Stacks `examples` (all with the same number of sources and grid shape).
    ///
    /// # Errors
    /// [`SeparationError::Empty`] for no examples; [`SeparationError::Shape`] when the examples
    /// differ in source count or grid shape.
    pub fn from_examples(examples: &[&MixExample], device: &Device) -> Result<Self> {
        const OP: &str = "SeparationBatch::from_examples";
        let first = examples.first().ok_or(SeparationError::Empty { op: OP, what: "example list" })?;
        let s = first.num_sources();
        let (f, t) = first.input.log_magnitude.dim();
        for (i, ex) in examples.iter().enumerate() {
            let grids_ok = ex.input.log_magnitude.dim() == (f, t)
                && ex.weight.dim() == (f, t)
                && ex.targets.iter().all(|m| m.dim() == (f, t));
            if ex.num_sources() != s || ex.targets.len() != s || !grids_ok {
                return Err(SeparationError::Shape {
                    op: OP,
                    expected: format!("{s} sources and ({f}, {t}) grids, as example 0"),
                    actual: format!(
                        "example {i}: {} sources, {} targets, input {:?}",
                        ex.num_sources(),
                        ex.targets.len(),
                        ex.input.log_magnitude.dim()
                    ),
                });
            }
        }
        let b = examples.len();
        let inputs: Vec<&MixtureInput> = examples.iter().map(|e| &e.input).collect();
        let log_magnitude = input_tensor(&inputs, device)?;
        let targets = stack(examples.iter().flat_map(|e| e.targets.iter()), [b, s, f, t], device);
        let weight = stack(examples.iter().map(|e| &e.weight), [b, 1, f, t], device);
        Ok(Self { log_magnitude, targets, weight })
    }

    /// Batch size `B`.
    pub fn batch_size(&self) -> usize {
        self.log_magnitude.dims()[0]
    }

    /// Sources per mixture `S`.
    pub fn num_sources(&self) -> usize {
        self.targets.dims()[1]
    }

    /// The target of source `n`, `[B, 1, F, T]`.
    pub fn target(&self, n: usize) -> Tensor<4> {
        let [b, _, f, t] = self.targets.dims();
        self.targets.clone().slice([0..b, n..n + 1, 0..f, 0..t])
    }
}

/// The network input of mixtures, `[B, 1, F, T]`.
///
/// # Errors
/// [`SeparationError::Empty`] for no inputs; [`SeparationError::Shape`] for different grids.
pub fn input_tensor(inputs: &[&MixtureInput], device: &Device) -> Result<Tensor<4>> {
    const OP: &str = "input_tensor";
    let first = inputs.first().ok_or(SeparationError::Empty { op: OP, what: "input list" })?;
    let (f, t) = first.log_magnitude.dim();
    if let Some(i) = inputs.iter().position(|x| x.log_magnitude.dim() != (f, t)) {
        return Err(SeparationError::Shape {
            op: OP,
            expected: format!("({f}, {t}) grids, as input 0"),
            actual: format!("input {i}: {:?}", inputs[i].log_magnitude.dim()),
        });
    }
    Ok(stack(inputs.iter().map(|x| &x.log_magnitude), [inputs.len(), 1, f, t], device))
}

/// Concatenates arrays of equal shape (row-major) into one tensor of `shape`.
fn stack<'a>(arrays: impl Iterator<Item = &'a Array2<f32>>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(shape.iter().product());
    for a in arrays {
        values.extend(a.iter().copied()); // logical (row-major) order whatever the layout
    }
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Splits a `[B, 1, F, T]` (or `[B, C, F, T]`) tensor read back from the device into `B * C`
/// arrays of `(F, T)`, batch-major.
///
/// # Errors
/// [`SeparationError::TensorRead`].
pub fn tensor_to_arrays(t: Tensor<4>) -> Result<Vec<Array2<f32>>> {
    let [b, c, f, w] = t.dims();
    let values = crate::error::read_f32("tensor_to_arrays", t)?;
    Ok((0..b * c)
        .map(|i| {
            Array2::from_shape_vec((f, w), values[i * f * w..(i + 1) * f * w].to_vec())
                .unwrap_or_else(|_| Array2::zeros((f, w)))
        })
        .collect())
}
