//! `attention.wgsl` (the fused, flash-style output) and `attention_rows.wgsl` (the rows a caller
//! asked to see): the GPU side of `crate::kernels::attention::Affinity`.

use bytemuck::{Pod, Zeroable};

use super::{Kernel, u32_of};
use crate::error::Result;
use crate::gpu::graph::{GpuTensor, Graph};

/// Queries per workgroup and value channels per workgroup column of `attention.wgsl`.
const QUERY_TILE: usize = 64;
const VALUE_CHUNK: usize = 32;
/// Keys per dispatch of `attention.wgsl`, a multiple of its 32-key tile.
const KEYS_PER_DISPATCH: usize = 2048;

/// The pairwise function, as `attention.wgsl` numbers it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PairwiseForm {
    /// `softmax_j(scale * q_i . k_j)`.
    Softmax { scale: f32 },
    /// `(q_i . k_j) / keys`.
    DotMean,
    /// `relu(q_i + k_j) / keys` of one-dimensional query and key terms.
    ConcatReluMean,
}

impl PairwiseForm {
    fn mode_and_scale(self) -> (u32, f32) {
        match self {
            PairwiseForm::Softmax { scale } => (0, scale),
            PairwiseForm::DotMean => (1, 1.0),
            PairwiseForm::ConcatReluMean => (2, 1.0),
        }
    }
}

/// A channel-major tensor `(images, channels, positions)` and where in it one operand starts:
/// head `h` of the operand is `width` channels starting at channel `first + h * width`.
#[derive(Clone)]
pub(crate) struct Operand {
    pub tensor: GpuTensor,
    /// Channels per image of `tensor`.
    pub channels: usize,
    pub first: usize,
}

impl Operand {
    pub fn whole(tensor: GpuTensor, channels: usize) -> Self {
        Self { tensor, channels, first: 0 }
    }
}

/// Queries, keys and values of a Non-local block or of every head of self-attention.
pub(crate) struct AttentionInputs {
    pub q: Operand,
    pub k: Operand,
    pub v: Operand,
    pub queries: usize,
    pub keys: usize,
    /// Width of one head's query / key vectors.
    pub dim: usize,
    /// Width of one head's values.
    pub value_dim: usize,
    pub heads: usize,
    pub images: usize,
    pub form: PairwiseForm,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct AttendParams {
    queries: u32,
    keys: u32,
    dim: u32,
    value_dim: u32,
    heads: u32,
    mode: u32,
    scale: f32,
    q_stride: u32,
    q_first: u32,
    k_stride: u32,
    k_first: u32,
    v_stride: u32,
    v_first: u32,
    out_stride: u32,
    key_begin: u32,
    key_end: u32,
    first_range: u32,
    last_range: u32,
}

/// `out_i = sum_j f(i, j) v_j` for every head, concatenated over heads:
/// `(images, heads * value_dim, queries)`. The N x N matrix never exists.
pub(crate) fn attend(g: &mut Graph, a: &AttentionInputs) -> Result<GpuTensor> {
    let out_channels = a.heads * a.value_dim;
    let out = g.output(a.images * out_channels * a.queries)?;
    let (mode, scale) = a.form.mode_and_scale();
    let params = AttendParams {
        queries: u32_of(a.queries),
        keys: u32_of(a.keys),
        dim: u32_of(a.dim),
        value_dim: u32_of(a.value_dim),
        heads: u32_of(a.heads),
        mode,
        scale,
        q_stride: u32_of(a.q.channels * a.queries),
        q_first: u32_of(a.q.first),
        k_stride: u32_of(a.k.channels * a.keys),
        k_first: u32_of(a.k.first),
        v_stride: u32_of(a.v.channels * a.keys),
        v_first: u32_of(a.v.first),
        out_stride: u32_of(out_channels * a.queries),
        key_begin: 0,
        key_end: 0,
        first_range: 0,
        last_range: 0,
    };
    let value_chunks = a.value_dim.div_ceil(VALUE_CHUNK);
    let groups = [u32_of(a.queries.div_ceil(QUERY_TILE)), u32_of(value_chunks), u32_of(a.images * a.heads)];
    // Running max and sum per query and value chunk, carried from one key range to the next.
    let state = g.output(2 * a.images * a.heads * a.queries * value_chunks)?;
    for begin in (0..a.keys).step_by(KEYS_PER_DISPATCH) {
        let end = (begin + KEYS_PER_DISPATCH).min(a.keys);
        let range = AttendParams {
            key_begin: u32_of(begin),
            key_end: u32_of(end),
            first_range: (begin == 0) as u32,
            last_range: (end == a.keys) as u32,
            ..params
        };
        g.dispatch(Kernel::Attention, &range, &[&a.q.tensor, &a.k.tensor, &a.v.tensor, &out, &state], groups)?;
    }
    Ok(out)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RowsParams {
    queries: u32,
    keys: u32,
    dim: u32,
    heads: u32,
    mode: u32,
    scale: f32,
    first_query: u32,
    rows: u32,
    q_stride: u32,
    q_first: u32,
    k_stride: u32,
    k_first: u32,
    normalise: u32,
}

/// The attention weights of queries `first_query..first_query + rows`:
/// `(images, heads, rows, keys)`.
pub(crate) fn attention_rows(g: &mut Graph, a: &AttentionInputs, first_query: usize, rows: usize) -> Result<GpuTensor> {
    rows_of(g, a, first_query, rows, true)
}

/// The scores of query `query` before they are normalised (a block's trace), the twin of
/// `Affinity::logits`: `(images, heads, 1, keys)`.
pub(crate) fn attention_scores(g: &mut Graph, a: &AttentionInputs, query: usize) -> Result<GpuTensor> {
    rows_of(g, a, query, 1, false)
}

fn rows_of(g: &mut Graph, a: &AttentionInputs, first_query: usize, rows: usize, normalise: bool) -> Result<GpuTensor> {
    let out = g.output(a.images * a.heads * rows * a.keys)?;
    let (mode, scale) = a.form.mode_and_scale();
    let params = RowsParams {
        queries: u32_of(a.queries),
        keys: u32_of(a.keys),
        dim: u32_of(a.dim),
        heads: u32_of(a.heads),
        mode,
        scale,
        first_query: u32_of(first_query),
        rows: u32_of(rows),
        q_stride: u32_of(a.q.channels * a.queries),
        q_first: u32_of(a.q.first),
        k_stride: u32_of(a.k.channels * a.keys),
        k_first: u32_of(a.k.first),
        normalise: normalise as u32,
    };
    g.dispatch(Kernel::AttentionRows, &params, &[&a.q.tensor, &a.k.tensor, &out], [u32_of(rows), 1, u32_of(a.images * a.heads)])?;
    Ok(out)
}

/// What `relative_position.wgsl` needs to know of a BoTNet attention (the twin of
/// `blocks::mhsa::RelPos`'s query and key terms).
pub(crate) struct RelativeTerms {
    pub heads: usize,
    /// Width of one head's queries and keys.
    pub dim: usize,
    pub height: usize,
    pub width: usize,
    /// Channels per image of `qkv`, and where its keys start.
    pub qkv_channels: usize,
    pub first_key: usize,
    /// On `q . k`, and on the position logits.
    pub content_scale: f32,
    pub position_scale: f32,
    /// All zeros out: every attention weight `1 / P` (the block switched off).
    pub uniform: bool,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RelativeParams {
    positions: u32,
    height: u32,
    width: u32,
    dim: u32,
    heads: u32,
    qkv_channels: u32,
    first_key: u32,
    uniform: u32,
    content_scale: f32,
    position_scale: f32,
    count: u32,
    _pad: u32,
}

/// Every head's queries and keys with their position dimensions, `(images, heads * (dim + W + H),
/// P)` each, from `qkv` `(images, qkv_channels, P)` and the tables `height_rel` `(2H - 1, dim)` and
/// `width_rel` `(2W - 1, dim)`.
pub(crate) fn relative_queries_keys(
    g: &mut Graph,
    qkv: &GpuTensor,
    height_rel: &[f32],
    width_rel: &[f32],
    t: &RelativeTerms,
    images: usize,
) -> Result<(GpuTensor, GpuTensor)> {
    let positions = t.height * t.width;
    let count = images * t.heads * (t.dim + t.width + t.height) * positions;
    let tables = g.upload(&[height_rel, width_rel].concat())?;
    let (q, k) = (g.output(count)?, g.output(count)?);
    let params = RelativeParams {
        positions: u32_of(positions),
        height: u32_of(t.height),
        width: u32_of(t.width),
        dim: u32_of(t.dim),
        heads: u32_of(t.heads),
        qkv_channels: u32_of(t.qkv_channels),
        first_key: u32_of(t.first_key),
        uniform: t.uniform as u32,
        content_scale: t.content_scale,
        position_scale: t.position_scale,
        count: u32_of(count),
        _pad: 0,
    };
    g.dispatch_elementwise(Kernel::RelativePosition, &params, &[qkv, &tables, &q, &k], count)?;
    Ok((q, k))
}
