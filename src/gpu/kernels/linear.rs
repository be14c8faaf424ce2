//! `conv1x1.wgsl`: 1x1 convolutions (the GPU side of `crate::kernels::linear::conv1x1`).

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::{Error, Result};
use crate::gpu::graph::{GpuTensor, Graph};
use crate::kernels::activation::Activation;
use crate::layers::params::Conv1x1;

const TILE: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    outputs: u32,
    inputs: u32,
    positions: u32,
    activation: u32,
    has_residual: u32,
}

/// `layer` applied to `x` of shape `(images, layer.inputs, positions)`, then `activation`, then
/// `+ residual` when given. Returns `(images, layer.outputs, positions)`.
pub(crate) fn conv1x1(
    g: &mut Graph,
    layer: &Conv1x1,
    x: &GpuTensor,
    positions: usize,
    activation: Activation,
    residual: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let dense = Dense { weight: &layer.weight, bias: layer.bias.as_deref(), inputs: layer.inputs, outputs: layer.outputs, kept: None };
    product(g, dense, x, positions, activation, residual)
}

/// A weight `(outputs, inputs)` and its bias, as slices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dense<'w> {
    pub weight: &'w [f32],
    pub bias: Option<&'w [f32]>,
    pub inputs: usize,
    pub outputs: usize,
    /// A network layer's weights, kept on the device between passes under this id.
    pub kept: Option<crate::layers::WeightId>,
}

/// [`conv1x1`] of a weight given as slices (a network's linear layers: positions = 1).
pub(crate) fn product(
    g: &mut Graph,
    layer: Dense,
    x: &GpuTensor,
    positions: usize,
    activation: Activation,
    residual: Option<&GpuTensor>,
) -> Result<GpuTensor> {
    let images = x.len / (layer.inputs * positions);
    let zeros;
    let bias = match layer.bias {
        Some(b) => b,
        None => {
            zeros = vec![0.0; layer.outputs];
            &zeros
        }
    };
    let (weight, bias) = match layer.kept {
        Some(id) => (g.weights(id, 0, layer.weight)?, g.weights(id, 1, bias)?),
        None => (g.upload(layer.weight)?, g.upload(bias)?),
    };
    let out = g.output(images * layer.outputs * positions)?;
    let params = Params {
        outputs: u32_of(layer.outputs),
        inputs: u32_of(layer.inputs),
        positions: u32_of(positions),
        activation: match activation {
            Activation::Identity | Activation::Relu => activation.code(),
            other => return Err(Error::GpuFailed(format!("the 1x1 kernel applies no {} (identity and ReLU only)", other.name()))),
        },
        has_residual: residual.is_some() as u32,
    };
    // Without a residual the binding still needs a buffer; the shader does not read it.
    let residual = residual.unwrap_or(x);
    let groups = [u32_of(positions.div_ceil(TILE)), u32_of(layer.outputs.div_ceil(TILE)), u32_of(images)];
    g.dispatch(Kernel::Conv1x1, &params, &[&weight, &bias, x, residual, &out], groups)?;
    Ok(out)
}
