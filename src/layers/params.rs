//! Loading the layers blocks are built from (1x1 convolutions, BatchNorm) out of a state dict.

use crate::error::Result;
use crate::kernels::linear::conv1x1;
use crate::kernels::norm::BatchNorm;
use crate::simd::{Dense, Kernels};
use crate::weights::WeightReader;

/// Whether a layer's bias must, may or must not be in the state dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    Required,
    /// Present in some ports, absent in others (SE, CBAM's MLP).
    Optional,
}

/// A 1x1 convolution `(out, in, 1, 1)` with an optional bias.
#[derive(Debug, Clone)]
pub struct Conv1x1 {
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub inputs: usize,
    pub outputs: usize,
}

impl Conv1x1 {
    /// Reads `{name}.weight` (and `{name}.bias`) with exactly `outputs` x `inputs` channels.
    pub fn load(r: &mut WeightReader, name: &str, outputs: usize, inputs: usize, bias: Bias) -> Result<Self> {
        let weight = r.require(&format!("{name}.weight"), &[outputs, inputs, 1, 1])?;
        let bias_key = format!("{name}.bias");
        let bias = match bias {
            Bias::Required => Some(r.require(&bias_key, &[outputs])?),
            Bias::Optional => r.optional(&bias_key, &[outputs])?,
        };
        Ok(Self { weight, bias, inputs, outputs })
    }

    /// Applies the layer to `(inputs, positions)`, giving `(outputs, positions)`.
    pub fn apply(&self, x: &[f32], positions: usize) -> Vec<f32> {
        conv1x1(&self.weight, self.bias.as_deref(), x, self.inputs, positions)
    }

    /// [`Conv1x1::apply`] on the chosen kernels (the plain code for the reference).
    pub fn apply_with(&self, kernels: Kernels, x: &[f32], positions: usize) -> Vec<f32> {
        match kernels {
            Kernels::Reference => self.apply(x, positions),
            fast => fast.conv1x1(self.dense(), x, positions, None),
        }
    }

    /// The layer as the fast kernels take it.
    pub fn dense(&self) -> Dense<'_> {
        Dense { weight: &self.weight, bias: self.bias.as_deref(), inputs: self.inputs }
    }
}

/// Reads `{prefix}.{weight,bias,running_mean,running_var}`, each of `channels` values.
pub fn load_batchnorm(r: &mut WeightReader, prefix: &str, channels: usize) -> Result<BatchNorm> {
    let mut get = |field: &str| r.require(&format!("{prefix}.{field}"), &[channels]);
    Ok(BatchNorm { weight: get("weight")?, bias: get("bias")?, running_mean: get("running_mean")?, running_var: get("running_var")? })
}

/// `bn(layer(x))` as one 1x1 convolution: each output row of the weight and its bias scaled and
/// shifted by the BatchNorm of that channel (the GPU runs Non-local's `z` and `norm` in one pass).
pub fn fold_batchnorm(layer: &Conv1x1, bn: &BatchNorm) -> Conv1x1 {
    let mut weight = layer.weight.clone();
    let mut bias = Vec::with_capacity(layer.outputs);
    for (o, row) in weight.chunks_exact_mut(layer.inputs).enumerate() {
        let (scale, shift) = bn.scale_and_shift(o);
        row.iter_mut().for_each(|w| *w *= scale);
        bias.push(layer.bias.as_ref().map_or(0.0, |b| b[o]) * scale + shift);
    }
    Conv1x1 { weight, bias: Some(bias), inputs: layer.inputs, outputs: layer.outputs }
}
