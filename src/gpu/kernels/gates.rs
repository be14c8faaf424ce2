//! `channel_gate.wgsl`, `apply_gates.wgsl`, `softmax_positions.wgsl`, `select_branches.wgsl`:
//! turning logits into gates and gates into a block's output (the GPU side of
//! `crate::kernels::activation`, of `blocks::scale_channels` / `scale_positions` and of
//! `net::branch_attention`).

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GateParams {
    count: u32,
    terms: u32,
}

/// `sigmoid(sum of the `terms` logits of each entry)`: `(N, C, terms)` to `(N, C)`.
pub(crate) fn channel_gate(g: &mut Graph, logits: &GpuTensor, terms: usize) -> Result<GpuTensor> {
    let count = logits.len / terms;
    let gate = g.output(count)?;
    g.dispatch_elementwise(Kernel::ChannelGate, &GateParams { count: u32_of(count), terms: u32_of(terms) }, &[logits, &gate], count)?;
    Ok(gate)
}

/// How [`apply_gates`] joins the input and the gates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Gating<'t> {
    /// `x * channel[c]`.
    Channel(&'t GpuTensor),
    /// `x + channel[c]`.
    AddChannel(&'t GpuTensor),
    /// `x * channel[c] * spatial[p]`.
    ChannelAndSpatial(&'t GpuTensor, &'t GpuTensor),
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ApplyParams {
    channels: u32,
    positions: u32,
    images: u32,
    mode: u32,
}

/// The block output `y` from `x` `(N, C, P)` and its gates, in one pass.
pub(crate) fn apply_gates(g: &mut Graph, x: &GpuTensor, channels: usize, positions: usize, gating: Gating) -> Result<GpuTensor> {
    let images = x.len / (channels * positions);
    let (mode, channel, spatial) = match gating {
        Gating::Channel(c) => (0, c, c),
        Gating::AddChannel(c) => (1, c, c),
        Gating::ChannelAndSpatial(c, s) => (2, c, s),
    };
    let y = g.output(x.len)?;
    let params = ApplyParams { channels: u32_of(channels), positions: u32_of(positions), images: u32_of(images), mode };
    g.dispatch_elementwise(Kernel::ApplyGates, &params, &[x, channel, spatial, &y], x.len)?;
    Ok(y)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SoftmaxParams {
    positions: u32,
}

/// Softmax over the positions of each image: `(N, P)` to `(N, P)`.
pub(crate) fn softmax_positions(g: &mut Graph, logits: &GpuTensor, positions: usize) -> Result<GpuTensor> {
    let images = logits.len / positions;
    let out = g.output(logits.len)?;
    g.dispatch(Kernel::SoftmaxPositions, &SoftmaxParams { positions: u32_of(positions) }, &[logits, &out], [u32_of(images), 1, 1])?;
    Ok(out)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SelectParams {
    channels: u32,
    positions: u32,
    branches: u32,
    mode: u32,
}

/// How [`select_branches`] weighs the branches.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BranchWeights<'t> {
    /// Softmax across the branches of the logits `(R * C)`, branch-major.
    Softmax(&'t GpuTensor),
    /// `sigmoid(logits)` (one branch).
    Sigmoid(&'t GpuTensor),
    /// `1 / R` each (the block switched off).
    Uniform,
}

/// A branch attention's output `(C, positions)` from its branches `x` `(R * C, positions)`, and
/// the weights `(R * C)` (the twin of `net::branch_attention::BranchAttention::forward`).
pub(crate) fn select_branches(
    g: &mut Graph,
    x: &GpuTensor,
    branches: usize,
    channels: usize,
    positions: usize,
    weighing: BranchWeights,
) -> Result<(GpuTensor, GpuTensor)> {
    let (mode, logits) = match weighing {
        BranchWeights::Softmax(l) => (0, l),
        BranchWeights::Sigmoid(l) => (1, l),
        BranchWeights::Uniform => (2, x),
    };
    let y = g.output(channels * positions)?;
    let weights = g.output(branches * channels)?;
    let params = SelectParams { channels: u32_of(channels), positions: u32_of(positions), branches: u32_of(branches), mode };
    g.dispatch_elementwise(Kernel::SelectBranches, &params, &[x, logits, &y, &weights], y.len)?;
    Ok((y, weights))
}
