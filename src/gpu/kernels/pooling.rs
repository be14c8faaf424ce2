//! `channel_reduce.wgsl`, `channel_pool.wgsl`, `max_pool_2x2.wgsl`: the GPU side of
//! `crate::kernels::pooling`.

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::options::SpatialOrder;

/// What [`channel_reduce`] computes per (image, channel).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChannelReduction<'t> {
    /// The mean over positions: `(N, C)`.
    Mean,
    /// The mean and the max, interleaved: `(N, C, 2)`, ready for a shared MLP over 2 positions.
    MeanAndMax,
    /// `sum_p x[n, c, p] * weights[n, p]`: `(N, C)`.
    WeightedSum(&'t GpuTensor),
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceParams {
    channels: u32,
    positions: u32,
    mode: u32,
}

pub(crate) fn channel_reduce(
    g: &mut Graph,
    x: &GpuTensor,
    channels: usize,
    positions: usize,
    reduction: ChannelReduction,
) -> Result<GpuTensor> {
    let images = x.len / (channels * positions);
    let (mode, terms, weights) = match reduction {
        ChannelReduction::Mean => (0, 1, x),
        ChannelReduction::MeanAndMax => (1, 2, x),
        ChannelReduction::WeightedSum(w) => (2, 1, w),
    };
    let out = g.output(images * channels * terms)?;
    let params = ReduceParams { channels: u32_of(channels), positions: u32_of(positions), mode };
    g.dispatch(Kernel::ChannelReduce, &params, &[x, weights, &out], [u32_of(channels), u32_of(images), 1])?;
    Ok(out)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PoolParams {
    channels: u32,
    positions: u32,
    images: u32,
    max_first: u32,
}

/// Mean and max over channels of `x * gate[c]` at every position: `(N, 2, P)` in `order`.
pub(crate) fn channel_pool(
    g: &mut Graph,
    x: &GpuTensor,
    gate: &GpuTensor,
    channels: usize,
    positions: usize,
    order: SpatialOrder,
) -> Result<GpuTensor> {
    let images = x.len / (channels * positions);
    let out = g.output(images * 2 * positions)?;
    let params = PoolParams {
        channels: u32_of(channels),
        positions: u32_of(positions),
        images: u32_of(images),
        max_first: (order == SpatialOrder::MaxMean) as u32,
    };
    g.dispatch_elementwise(Kernel::ChannelPool, &params, &[x, gate, &out], images * positions)?;
    Ok(out)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MaxPoolParams {
    planes: u32,
    height: u32,
    width: u32,
}

/// 2x2 max pooling of `(planes, height, width)`.
pub(crate) fn max_pool_2x2(g: &mut Graph, x: &GpuTensor, height: usize, width: usize) -> Result<GpuTensor> {
    let planes = x.len / (height * width);
    let count = planes * (height / 2) * (width / 2);
    let out = g.output(count)?;
    let params = MaxPoolParams { planes: u32_of(planes), height: u32_of(height), width: u32_of(width) };
    g.dispatch_elementwise(Kernel::MaxPool2x2, &params, &[x, &out], count)?;
    Ok(out)
}
