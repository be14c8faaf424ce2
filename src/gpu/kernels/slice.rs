//! `slice.wgsl`: a block of channels and positions copied out of a channel-major tensor, for the
//! steps a block traces (the twin of indexing a `(C, N)` slice on the CPU).

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SliceParams {
    channels: u32,
    positions: u32,
    first_channel: u32,
    count: u32,
    first_position: u32,
    span: u32,
    images: u32,
}

/// Channels `channels.start..channels.end` at positions `span` of `x` `(N, total, positions)`:
/// `(N, channels.len(), span.len())`.
pub(crate) fn slice(
    g: &mut Graph,
    x: &GpuTensor,
    total: usize,
    positions: usize,
    channels: std::ops::Range<usize>,
    span: std::ops::Range<usize>,
) -> Result<GpuTensor> {
    debug_assert!(channels.end <= total && span.end <= positions);
    let images = x.len / (total * positions);
    let out = g.output(images * channels.len() * span.len())?;
    let params = SliceParams {
        channels: u32_of(total),
        positions: u32_of(positions),
        first_channel: u32_of(channels.start),
        count: u32_of(channels.len()),
        first_position: u32_of(span.start),
        span: u32_of(span.len()),
        images: u32_of(images),
    };
    g.dispatch_elementwise(Kernel::Slice, &params, &[x, &out], out.len)?;
    Ok(out)
}

/// The vector of every channel at one position: `(N, total)`.
pub(crate) fn at_position(g: &mut Graph, x: &GpuTensor, total: usize, positions: usize, position: usize) -> Result<GpuTensor> {
    slice(g, x, total, positions, 0..total, position..position + 1)
}
