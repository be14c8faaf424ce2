//! `conv2d.wgsl`, `conv2d_direct.wgsl`, `pool2d.wgsl`, `activate.wgsl`: the layers of whole
//! networks on the GPU, the GPU side of `crate::layers` (which stays the reference).
//! Tensors are one image, channel-major `(C, H, W)`.

use bytemuck::{Pod, Zeroable};

use super::linear::{self, Dense};
use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::layers::{Activation, Conv2d, Linear, Pool};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvParams {
    in_channels: u32,
    out_channels: u32,
    groups: u32,
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
    kernel_h: u32,
    kernel_w: u32,
    stride: u32,
    dilation: u32,
    pad_y: u32,
    pad_x: u32,
    activation: u32,
}

/// Output channels per group below which a convolution runs one thread per output
/// (`conv2d_direct.wgsl`) rather than in 16 x 16 tiles (`conv2d.wgsl`).
const TILED_FROM: usize = 8;
const TILE: usize = 16;

/// `act(conv(x))` of `x` `(conv.cin, height, width)`: `(conv.cout, Ho, Wo)` and `(Ho, Wo)`.
pub(crate) fn conv2d(
    g: &mut Graph,
    conv: &Conv2d,
    x: &GpuTensor,
    (height, width): (usize, usize),
    act: Activation,
) -> Result<(GpuTensor, (usize, usize))> {
    let (ho, wo) = conv.output_size(height, width);
    let (pad_y, pad_x) = conv.padding_before(height, width);
    let weight = g.weights(conv.id, 0, &conv.weight)?;
    let bias = g.weights(conv.id, 1, &conv.bias)?;
    let out = g.output(conv.cout * ho * wo)?;
    let out_per_group = conv.cout / conv.groups;
    let params = ConvParams {
        in_channels: u32_of(conv.cin / conv.groups),
        out_channels: u32_of(out_per_group),
        groups: u32_of(conv.groups),
        height: u32_of(height),
        width: u32_of(width),
        out_height: u32_of(ho),
        out_width: u32_of(wo),
        kernel_h: u32_of(conv.kernel.0),
        kernel_w: u32_of(conv.kernel.1),
        stride: u32_of(conv.stride),
        dilation: u32_of(conv.dilation),
        pad_y: u32_of(pad_y),
        pad_x: u32_of(pad_x),
        activation: act.code(),
    };
    let tensors = [&weight, &bias, x, &out];
    if out_per_group >= TILED_FROM {
        let groups = [u32_of((ho * wo).div_ceil(TILE)), u32_of(out_per_group.div_ceil(TILE)), u32_of(conv.groups)];
        g.dispatch(Kernel::Conv2d, &params, &tensors, groups)?;
    } else {
        g.dispatch_elementwise(Kernel::Conv2dDirect, &params, &tensors, out.len)?;
    }
    Ok((out, (ho, wo)))
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    channels: u32,
    height: u32,
    width: u32,
    out_height: u32,
    out_width: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
    is_max: u32,
    count_include_pad: u32,
}

/// `pool` of `x` `(channels, height, width)`: `(channels, Ho, Wo)` and `(Ho, Wo)`.
pub(crate) fn pool2d(
    g: &mut Graph,
    pool: &Pool,
    x: &GpuTensor,
    channels: usize,
    (height, width): (usize, usize),
) -> Result<(GpuTensor, (usize, usize))> {
    let (ho, wo) = (pool.out_size(height), pool.out_size(width));
    let out = g.output(channels * ho * wo)?;
    let params = PoolParams {
        channels: u32_of(channels),
        height: u32_of(height),
        width: u32_of(width),
        out_height: u32_of(ho),
        out_width: u32_of(wo),
        kernel: u32_of(pool.kernel),
        stride: u32_of(pool.stride),
        padding: u32_of(pool.padding),
        is_max: pool.max as u32,
        count_include_pad: pool.count_include_pad as u32,
    };
    g.dispatch_elementwise(Kernel::Pool2d, &params, &[x, &out], out.len)?;
    Ok((out, (ho, wo)))
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ActivateParams {
    count: u32,
    activation: u32,
    addend_count: u32,
}

/// `act(x)`, or `act(x + addend)` (a residual join) where `addend` covers the first
/// `addend.len` values of `x` (all of them, or ReXNet's first channels); the rest is `act(x)`.
pub(crate) fn activate(g: &mut Graph, x: &GpuTensor, addend: Option<&GpuTensor>, act: Activation) -> Result<GpuTensor> {
    let addend_count = addend.map_or(0, |a| a.len);
    if addend_count > x.len {
        return Err(crate::Error::GpuFailed(format!("an addend of {addend_count} values for {} values", x.len)));
    }
    let out = g.output(x.len)?;
    let params = ActivateParams { count: u32_of(x.len), activation: act.code(), addend_count: u32_of(addend_count) };
    // Without an addend the binding still needs a buffer; the shader does not read it.
    g.dispatch_elementwise(Kernel::Activate, &params, &[x, addend.unwrap_or(x), &out], x.len)?;
    Ok(out)
}

/// `linear(v)` of a vector `v` `(inputs)`: `(outputs)`.
pub(crate) fn linear(g: &mut Graph, layer: &Linear, v: &GpuTensor) -> Result<GpuTensor> {
    let dense =
        Dense { weight: &layer.weight, bias: Some(&layer.bias), inputs: layer.inputs, outputs: layer.bias.len(), kept: Some(layer.id) };
    linear::product(g, dense, v, 1, Activation::Identity, None)
}
