//! `layer_norm.wgsl`: the GPU side of `crate::kernels::norm::layer_norm_in_place`, with GC's
//! ReLU fused.

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    width: u32,
    eps: f32,
}

/// `relu(LayerNorm(v) * weight + bias)` for every image's vector `v` of `weight.len()` values.
pub(crate) fn layer_norm_relu(g: &mut Graph, x: &GpuTensor, weight: &[f32], bias: &[f32], eps: f32) -> Result<GpuTensor> {
    let width = weight.len();
    let images = x.len / width;
    let (weight, bias) = (g.upload(weight)?, g.upload(bias)?);
    let out = g.output(x.len)?;
    g.dispatch(Kernel::LayerNorm, &Params { width: u32_of(width), eps }, &[x, &weight, &bias, &out], [u32_of(images), 1, 1])?;
    Ok(out)
}
