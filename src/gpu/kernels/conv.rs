//! `spatial_gate.wgsl` and `channel_conv1d.wgsl`: the GPU side of `crate::kernels::conv`.

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::kernels::conv::ChannelPadding;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SpatialParams {
    height: u32,
    width: u32,
    images: u32,
    kernel_size: u32,
    bn_scale: f32,
    bn_shift: f32,
    sigmoid: u32,
}

/// What [`spatial_conv`] writes: CBAM's gate, or (for the block's trace) a step before it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SpatialOutput {
    /// `sigmoid(scale * conv + shift)`: the spatial gate, BatchNorm given as its scale and shift.
    Gate((f32, f32)),
    /// `scale * conv + shift`: the logits after BatchNorm.
    Logits((f32, f32)),
    /// The k x k convolution alone.
    Convolution,
}

/// CBAM's spatial gate `sigmoid(bn(conv_kxk(pooled)))` of `pooled` `(N, 2, H, W)`, or a step
/// of it (`output`): `(N, H, W)`.
pub(crate) fn spatial_conv(
    g: &mut Graph,
    pooled: &GpuTensor,
    height: usize,
    width: usize,
    kernel: &[f32],
    kernel_size: usize,
    output: SpatialOutput,
) -> Result<GpuTensor> {
    let images = pooled.len / (2 * height * width);
    let ((bn_scale, bn_shift), sigmoid) = match output {
        SpatialOutput::Gate(affine) => (affine, 1),
        SpatialOutput::Logits(affine) => (affine, 0),
        SpatialOutput::Convolution => ((1.0, 0.0), 0),
    };
    let kernel = g.upload(kernel)?;
    let gate = g.output(images * height * width)?;
    let params = SpatialParams {
        height: u32_of(height),
        width: u32_of(width),
        images: u32_of(images),
        kernel_size: u32_of(kernel_size),
        bn_scale,
        bn_shift,
        sigmoid,
    };
    g.dispatch_elementwise(Kernel::SpatialGate, &params, &[pooled, &kernel, &gate], gate.len)?;
    Ok(gate)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Conv1dParams {
    channels: u32,
    images: u32,
    kernel_size: u32,
    circular: u32,
}

/// ECA's 1-D convolution along the channels of `means` `(N, C)`: logits `(N, C)`.
pub(crate) fn channel_conv1d(
    g: &mut Graph,
    means: &GpuTensor,
    channels: usize,
    kernel: &[f32],
    padding: ChannelPadding,
) -> Result<GpuTensor> {
    let images = means.len / channels;
    let kernel_buffer = g.upload(kernel)?;
    let logits = g.output(means.len)?;
    let params = Conv1dParams {
        channels: u32_of(channels),
        images: u32_of(images),
        kernel_size: u32_of(kernel.len()),
        circular: (padding == ChannelPadding::Circular) as u32,
    };
    g.dispatch_elementwise(Kernel::ChannelConv1d, &params, &[means, &kernel_buffer, &logits], means.len)?;
    Ok(logits)
}
