//! Copies between channel-major tensors: `slice.wgsl`, a block of channels and positions copied
//! out, for the steps a block traces (the twin of indexing a `(C, N)` slice on the CPU); and
//! `concat.wgsl`, two tensors joined along the channels (GhostNet's ghost modules).

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

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConcatParams {
    count: u32,
    a_count: u32,
}

/// `cat([a, b])` of two channel-major tensors along the channels, cut to its first `count`
/// values (`count <= a.len + b.len`).
pub(crate) fn concat(g: &mut Graph, a: &GpuTensor, b: &GpuTensor, count: usize) -> Result<GpuTensor> {
    if count > a.len + b.len || count < a.len {
        return Err(crate::Error::GpuFailed(format!("a join of {} and {} values cut to {count}", a.len, b.len)));
    }
    let out = g.output(count)?;
    let params = ConcatParams { count: u32_of(count), a_count: u32_of(a.len) };
    g.dispatch_elementwise(Kernel::Concat, &params, &[a, b, &out], count)?;
    Ok(out)
}
