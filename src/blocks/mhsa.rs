//! Multi-head self-attention over positions, in two of timm's forms:
//! - `Attention2d` (`head_first=False`, the bundled network's `mhsa`): `qkv = conv1x1(x)` read as
//!   `(3, heads, C/heads, N)`, per head `softmax(q k^T / sqrt(C/heads)) v`, heads concatenated,
//!   then `proj`;
//! - BoTNet's `BottleneckAttn` (`timm/layers/bottleneck_attn.py`; Srinivas et al. 2021,
//!   "Bottleneck Transformers for Visual Recognition"): `qkv` (no bias) read as queries and keys
//!   of `heads x dim_qk` and values of `heads x dim_v`; no `proj`; each logit gets a relative
//!   position term, `q_i . k_j / sqrt(dim_qk) + q_i . r^W[x_j - x_i] + q_i . r^H[y_j - y_i]` (with
//!   `scale_pos_embed` the whole sum is scaled), from `pos_embed.width_rel` `(2W - 1, dim_qk)` and
//!   `pos_embed.height_rel` `(2H - 1, dim_qk)`, which fix the grid to `H x W`.
//!
//! No residual inside the block. The relative terms enter every path as extra dimensions of the
//! queries and keys ([`RelPos`]): query `i` gets its `W + H` position logits, key `j` a one-hot of
//! its column and of its row, so one dot product gives content plus position and the fused
//! attention kernels (SIMD, WGSL) run unchanged.

use std::borrow::Cow;

use super::options::BlockOptions;
use super::params::{Bias, Conv1x1};
use super::{ImageOutput, MapRequest};
use crate::error::{Error, Result};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::attention::{
    AttentionInputs, Operand, PairwiseForm, RelativeTerms, attend, attention_rows, attention_scores, relative_queries_keys,
};
use crate::gpu::kernels::linear::conv1x1;
use crate::gpu::kernels::slice::{at_position, slice};
use crate::kernels::activation::Activation;
use crate::kernels::attention::Affinity;
use crate::kernels::linear::transpose;
use crate::simd::{AttentionInput, Kernels, Weighting};
use crate::tensor::Dims;
use crate::weights::WeightReader;

#[derive(Debug, Clone)]
pub struct Mhsa {
    qkv: Conv1x1,
    /// `Attention2d`'s output projection; BoTNet's `BottleneckAttn` has none.
    proj: Option<Conv1x1>,
    heads: usize,
    /// Width of one head's queries and keys, and of its values.
    dim_qk: usize,
    dim_v: usize,
    rel_pos: Option<RelPos>,
}

/// BoTNet's relative position embedding (timm's `PosEmbedRel`) for an `H x W` grid.
#[derive(Debug, Clone)]
pub struct RelPos {
    pub height: usize,
    pub width: usize,
    /// `(2H - 1, dim_qk)`: row `dy + H - 1` for a key `dy` rows below the query.
    pub height_rel: Vec<f32>,
    /// `(2W - 1, dim_qk)`: row `dx + W - 1` for a key `dx` columns right of the query.
    pub width_rel: Vec<f32>,
    /// timm's `scale_pos_embed`: `(q.k + rel) * scale` instead of `q.k * scale + rel`.
    pub scaled: bool,
}

impl RelPos {
    /// Query `i`'s extra dimensions: `q . r^W[x' - x_i + W - 1]` for every column `x'`, then
    /// `q . r^H[y' - y_i + H - 1]` for every row `y'`, each times `scale`.
    fn query_terms<'a>(&'a self, q: &'a [f32], i: usize, scale: f32) -> impl Iterator<Item = f32> + 'a {
        let (h, w, d) = (self.height, self.width, q.len());
        let (yi, xi) = (i / w, i % w);
        let dot = move |table: &[f32], r: usize| table[r * d..(r + 1) * d].iter().zip(q).map(|(a, b)| a * b).sum::<f32>() * scale;
        let columns = (0..w).map(move |x| dot(&self.width_rel, x + w - 1 - xi));
        let rows = (0..h).map(move |y| dot(&self.height_rel, y + h - 1 - yi));
        columns.chain(rows)
    }

    /// Key `j`'s extra dimensions: one-hot of its column, then of its row.
    fn key_terms(&self, j: usize) -> impl Iterator<Item = f32> {
        let (h, w) = (self.height, self.width);
        let (yj, xj) = (j / w, j % w);
        (0..w).map(move |x| (x == xj) as u8 as f32).chain((0..h).map(move |y| (y == yj) as u8 as f32))
    }
}

/// One head's queries and keys as its scores take them, position-major, and their width: the
/// projections themselves (borrowed), or with a [`RelPos`] the projections with its extra
/// dimensions.
struct ScoreOperands<'a> {
    queries: Cow<'a, [f32]>,
    keys: Cow<'a, [f32]>,
    dim: usize,
    scale: f32,
}

impl Mhsa {
    /// timm's `Attention2d`: keys `qkv.{weight (3C, C, 1, 1), bias}`, `proj.{weight (C, C, 1, 1),
    /// bias}`; `--heads` is required and must divide C.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let (_, c) = r.conv1x1_dims("qkv.weight")?;
        let heads = checked_heads(options.heads, c)?;
        let (qkv, proj) = (Conv1x1::load(r, "qkv", 3 * c, c, Bias::Required)?, Conv1x1::load(r, "proj", c, c, Bias::Required)?);
        Ok(Self { qkv, proj: Some(proj), heads, dim_qk: c / heads, dim_v: c / heads, rel_pos: None })
    }

    /// BoTNet's `BottleneckAttn` on `C` channels: `qkv` `(heads * (2 dim_qk + dim_v), C)` where
    /// `heads * dim_v = C`, and its relative position embedding. Refuses sizes that do not fit.
    pub fn bottleneck(qkv: Conv1x1, heads: usize, dim_qk: usize, rel_pos: RelPos) -> Result<Self> {
        let c = qkv.inputs;
        let bad = |reason: String| Err(Error::Checkpoint { reason });
        if heads == 0 || !c.is_multiple_of(heads) || qkv.outputs != 2 * heads * dim_qk + c {
            return bad(format!("BottleneckAttn: qkv gives {} channels, not 2 x {heads} heads x {dim_qk} + {c}", qkv.outputs));
        }
        let (h, w) = (rel_pos.height, rel_pos.width);
        if rel_pos.height_rel.len() != (2 * h - 1) * dim_qk || rel_pos.width_rel.len() != (2 * w - 1) * dim_qk {
            return bad(format!("BottleneckAttn: the position embedding is not ({} or {}, {dim_qk})", 2 * h - 1, 2 * w - 1));
        }
        Ok(Self { qkv, proj: None, heads, dim_qk, dim_v: c / heads, rel_pos: Some(rel_pos) })
    }

    pub fn channels(&self) -> usize {
        self.qkv.inputs
    }

    pub fn heads(&self) -> usize {
        self.heads
    }

    /// The `(H, W)` grid a relative position embedding fixes, if the block has one.
    pub fn grid(&self) -> Option<(usize, usize)> {
        self.rel_pos.as_ref().map(|r| (r.height, r.width))
    }

    /// Refuses an input whose grid is not the one the position embedding was made for.
    pub(crate) fn check_grid(&self, dims: Dims) -> Result<()> {
        match self.grid() {
            Some((h, w)) if (dims.h, dims.w) != (h, w) => Err(Error::BadOption {
                option: "--input-size",
                reason: format!(
                    "the relative position embedding (BoTNet) is made for a {h} x {w} grid, and this input gives it {} x {}: run the network at the input size it was trained at (256 x 256 for the _256 networks)",
                    dims.h, dims.w
                ),
            }),
            _ => Ok(()),
        }
    }

    /// `1 / sqrt(dim_qk)` on the logits.
    fn scale(&self) -> f32 {
        (self.dim_qk as f32).powf(-0.5)
    }

    /// Where head `h`'s queries, keys and values start among `qkv`'s output channels.
    fn first_channels(&self, h: usize) -> [usize; 3] {
        let qk = self.heads * self.dim_qk;
        [h * self.dim_qk, qk + h * self.dim_qk, 2 * qk + h * self.dim_v]
    }

    /// The width of the scores' operands: `dim_qk`, plus `W + H` with a position embedding.
    fn score_dim(&self) -> usize {
        self.dim_qk + self.rel_pos.as_ref().map_or(0, |r| r.width + r.height)
    }

    /// Queries, keys and values of every head, position-major `(N, dim)` each.
    pub(crate) fn project(&self, img: &[f32], n: usize) -> Vec<[Vec<f32>; 3]> {
        let qkv = self.qkv.apply(img, n);
        (0..self.heads)
            .map(|h| {
                let [q, k, v] = self.first_channels(h);
                let part = |start: usize, dim: usize| transpose(&qkv[start * n..(start + dim) * n], dim, n);
                [part(q, self.dim_qk), part(k, self.dim_qk), part(v, self.dim_v)]
            })
            .collect()
    }

    /// One head's score operands from its projections `[q, k, _]` (see [`ScoreOperands`]).
    fn score_operands<'a>(&self, qkv: &'a [Vec<f32>; 3]) -> ScoreOperands<'a> {
        let Some(rel) = &self.rel_pos else {
            return ScoreOperands { queries: Cow::Borrowed(&qkv[0]), keys: Cow::Borrowed(&qkv[1]), dim: self.dim_qk, scale: self.scale() };
        };
        let (d, n, s) = (self.dim_qk, qkv[0].len() / self.dim_qk, self.scale());
        let dim = self.score_dim();
        // Unscaled position terms: the content part carries the scale, the whole dot product none.
        let (content, position) = if rel.scaled { (s, s) } else { (s, 1.0) };
        let mut queries = Vec::with_capacity(n * dim);
        let mut keys = Vec::with_capacity(n * dim);
        for i in 0..n {
            let q = &qkv[0][i * d..(i + 1) * d];
            queries.extend(q.iter().map(|v| v * content));
            queries.extend(rel.query_terms(q, i, position));
            keys.extend_from_slice(&qkv[1][i * d..(i + 1) * d]);
            keys.extend(rel.key_terms(i));
        }
        ScoreOperands { queries: Cow::Owned(queries), keys: Cow::Owned(keys), dim, scale: 1.0 }
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, request: MapRequest, kernels: Kernels) -> ImageOutput {
        let mut out = self.forward_untraced(img, dims, request, kernels);
        if request.trace {
            out.maps.extend(self.trace_at(img, dims, request.query));
        }
        out
    }

    /// The steps at position `query` ([`MapRequest::trace`]), from the plain code: per head the
    /// query vector, the keys and values, the scores (`content`, `q.k / sqrt(dim_qk)`, apart
    /// where a position embedding adds to it) and their softmax, the weighted sum of the values;
    /// then `proj` of the heads side by side (the heads side by side where there is none).
    fn trace_at(&self, img: &[f32], dims: Dims, query: usize) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        let (n, heads, (dq, dv)) = (dims.positions(), self.heads, (self.dim_qk, self.dim_v));
        let projected = self.project(img, n);
        let (mut q, mut keys, mut values, mut scores, mut content, mut weights, mut mixed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for qkv in &projected {
            let operands = self.score_operands(qkv);
            let affinity = operands.affinity();
            let row = affinity.row(query);
            q.extend_from_slice(&qkv[0][query * dq..(query + 1) * dq]);
            keys.extend(transpose(&qkv[1], n, dq));
            values.extend(transpose(&qkv[2], n, dv));
            scores.extend(affinity.logits(query));
            let plain = Affinity::Softmax { queries: &qkv[0], keys: &qkv[1], dim: dq, scale: self.scale() };
            content.extend(plain.logits(query));
            let mut sum = vec![0.0f32; dv];
            for (w, v) in row.iter().zip(qkv[2].chunks_exact(dv)) {
                sum.iter_mut().zip(v).for_each(|(a, &v)| *a += w * v);
            }
            mixed.extend(sum);
            weights.extend(row);
        }
        let output = match &self.proj {
            Some(proj) => proj.apply(&mixed, 1),
            None => mixed.clone(),
        };
        let (h, w) = (dims.h, dims.w);
        let mut steps = vec![
            ("trace.query", vec![heads, dq], q),
            ("trace.keys", vec![heads, dq, h, w], keys),
            ("trace.values", vec![heads, dv, h, w], values),
            ("trace.scores", vec![heads, h, w], scores),
        ];
        if self.rel_pos.is_some() {
            steps.push(("trace.content", vec![heads, h, w], content));
        }
        steps.extend([
            ("trace.weights", vec![heads, h, w], weights),
            ("trace.mixed", vec![heads, dv], mixed),
            ("trace.output", vec![output.len()], output),
        ]);
        steps
    }

    fn forward_untraced(&self, img: &[f32], dims: Dims, request: MapRequest, kernels: Kernels) -> ImageOutput {
        match kernels {
            Kernels::Reference => self.forward_reference(img, dims, request),
            // The full matrix, when asked for, comes from the reference.
            _ if request.full_attention => self.forward_reference(img, dims, request),
            fast => self.forward_fast(img, dims, fast),
        }
    }

    /// One `qkv` product; per head, queries, keys and values straight from it (channel-major,
    /// the layout the fused attention takes; a position embedding's extra dimensions added) and
    /// its output straight into `proj`'s input.
    fn forward_fast(&self, img: &[f32], dims: Dims, k: Kernels) -> ImageOutput {
        let n = dims.positions();
        let qkv = k.conv1x1(self.qkv.dense(), img, n, None);
        let mut concat = vec![0.0f32; self.heads * self.dim_v * n];
        for h in 0..self.heads {
            let [fq, fk, fv] = self.first_channels(h);
            let part = |start: usize, dim: usize| &qkv[start * n..(start + dim) * n];
            let values = part(fv, self.dim_v);
            let out = &mut concat[h * self.dim_v * n..(h + 1) * self.dim_v * n];
            if self.rel_pos.is_some() {
                let projected =
                    [transpose(part(fq, self.dim_qk), self.dim_qk, n), transpose(part(fk, self.dim_qk), self.dim_qk, n), Vec::new()];
                let o = self.score_operands(&projected);
                let (queries, keys) = (transpose(&o.queries, n, o.dim), transpose(&o.keys, n, o.dim));
                let input = AttentionInput {
                    queries: &queries,
                    keys: &keys,
                    values,
                    dim: o.dim,
                    value_dim: self.dim_v,
                    weighting: Weighting::Softmax { scale: o.scale },
                };
                k.attend(&input, out);
            } else {
                let input = AttentionInput {
                    queries: part(fq, self.dim_qk),
                    keys: part(fk, self.dim_qk),
                    values,
                    dim: self.dim_qk,
                    value_dim: self.dim_v,
                    weighting: Weighting::Softmax { scale: self.scale() },
                };
                k.attend(&input, out);
            }
        }
        let y = match &self.proj {
            Some(proj) => k.conv1x1(proj.dense(), &concat, n, None),
            None => concat,
        };
        ImageOutput { y, maps: Vec::new() }
    }

    fn forward_reference(&self, img: &[f32], dims: Dims, request: MapRequest) -> ImageOutput {
        let n = dims.positions();
        let dv = self.dim_v;
        let heads = self.project(img, n);
        let mut concat = vec![0.0f32; self.heads * dv * n];
        let mut attention = Vec::new();
        for (h, qkv) in heads.iter().enumerate() {
            let operands = self.score_operands(qkv);
            let affinity = operands.affinity();
            let out = transpose(&affinity.attend(&qkv[2], dv), n, dv);
            concat[h * dv * n..(h + 1) * dv * n].copy_from_slice(&out);
            if request.full_attention {
                attention.extend(affinity.matrix());
            }
        }
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![self.heads, n, n], attention));
        }
        let y = match &self.proj {
            Some(proj) => proj.apply(&concat, n),
            None => concat,
        };
        ImageOutput { y, maps }
    }

    /// Switched off inside a network where the block replaces a convolution (BoTNet): every
    /// position attends to every position alike, so each gets the mean of the values over the
    /// grid (then `proj`, where there is one). The plain code; one image `(C, H, W)` in and out.
    pub(crate) fn uniform(&self, img: &[f32], dims: Dims) -> Result<Vec<f32>> {
        self.check_grid(dims)?;
        let n = dims.positions();
        let qkv = self.qkv.apply(img, n);
        let mut concat = Vec::with_capacity(self.heads * self.dim_v * n);
        for h in 0..self.heads {
            let first = self.first_channels(h)[2];
            for plane in qkv[first * n..(first + self.dim_v) * n].chunks_exact(n) {
                let mean = plane.iter().sum::<f32>() / n as f32;
                concat.extend(std::iter::repeat_n(mean, n));
            }
        }
        Ok(match &self.proj {
            Some(proj) => proj.apply(&concat, n),
            None => concat,
        })
    }

    /// Where query `query` attends in every head: `(heads, H, W)`.
    pub(crate) fn attention_row(&self, img: &[f32], dims: Dims, query: usize) -> (Vec<usize>, Vec<f32>) {
        let rows = self.project(img, dims.positions()).iter().flat_map(|qkv| self.score_operands(qkv).affinity().row(query)).collect();
        (vec![self.heads, dims.h, dims.w], rows)
    }

    /// Every head's queries, keys and values as views into one `qkv` tensor `(N, channels, P)`,
    /// or, with a position embedding, the queries and keys with its extra dimensions
    /// (`relative_position.wgsl`; all zero where `uniform`: every weight then `1 / P`).
    fn project_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, uniform: bool) -> Result<AttentionInputs> {
        let qkv = conv1x1(g, &self.qkv, x, dims.positions(), Activation::Identity, None)?;
        let plain = self.plain_inputs(&qkv, dims);
        let channels = self.qkv.outputs;
        let first_k = self.first_channels(0)[1];
        let Some(rel) = &self.rel_pos else {
            return Ok(plain);
        };
        let scaled = if rel.scaled { self.scale() } else { 1.0 };
        let terms = RelativeTerms {
            heads: self.heads,
            dim: self.dim_qk,
            height: rel.height,
            width: rel.width,
            qkv_channels: channels,
            first_key: first_k,
            content_scale: self.scale(),
            position_scale: scaled,
            uniform,
        };
        let (q, k) = relative_queries_keys(g, &qkv, &rel.height_rel, &rel.width_rel, &terms, dims.n)?;
        let dim = self.score_dim();
        Ok(AttentionInputs {
            q: Operand::whole(q, self.heads * dim),
            k: Operand::whole(k, self.heads * dim),
            dim,
            form: PairwiseForm::Softmax { scale: 1.0 },
            ..plain
        })
    }

    /// Every head's queries, keys and values as views into the `qkv` tensor `(N, channels, P)`,
    /// scored by content alone: `q.k / sqrt(dim_qk)`.
    fn plain_inputs(&self, qkv: &GpuTensor, dims: Dims) -> AttentionInputs {
        let channels = self.qkv.outputs;
        let part = |first| Operand { tensor: qkv.clone(), channels, first };
        let [first_q, first_k, first_v] = self.first_channels(0);
        AttentionInputs {
            q: part(first_q),
            k: part(first_k),
            v: part(first_v),
            queries: dims.positions(),
            keys: dims.positions(),
            dim: self.dim_qk,
            value_dim: self.dim_v,
            heads: self.heads,
            images: dims.n,
            form: PairwiseForm::Softmax { scale: self.scale() },
        }
    }

    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let n = dims.positions();
        let inputs = self.project_gpu(g, x, dims, false)?;
        let heads_out = attend(g, &inputs)?;
        let c = self.heads * self.dim_v;
        let y = match &self.proj {
            Some(proj) => conv1x1(g, proj, &heads_out, n, Activation::Identity, None)?,
            None => heads_out.clone(),
        };
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![self.heads, n, n], attention_rows(g, &inputs, 0, n)?));
        }
        if request.trace {
            let (q, heads, (dq, dv), (h, w)) = (request.query, self.heads, (self.dim_qk, self.dim_v), (dims.h, dims.w));
            let (qkv, channels) = (&inputs.v.tensor, self.qkv.outputs);
            let [_, first_k, first_v] = self.first_channels(0);
            maps.extend([
                ("trace.query", vec![heads, dq], slice(g, qkv, channels, n, 0..first_k, q..q + 1)?),
                ("trace.keys", vec![heads, dq, h, w], slice(g, qkv, channels, n, first_k..first_v, 0..n)?),
                ("trace.values", vec![heads, dv, h, w], slice(g, qkv, channels, n, first_v..channels, 0..n)?),
                ("trace.scores", vec![heads, h, w], attention_scores(g, &inputs, q)?),
            ]);
            if self.rel_pos.is_some() {
                let plain = self.plain_inputs(qkv, dims);
                maps.push(("trace.content", vec![heads, h, w], attention_scores(g, &plain, q)?));
            }
            maps.extend([
                ("trace.weights", vec![heads, h, w], attention_rows(g, &inputs, q, 1)?),
                ("trace.mixed", vec![heads, dv], at_position(g, &heads_out, c, n, q)?),
                ("trace.output", vec![self.channels()], at_position(g, &y, self.channels(), n, q)?),
            ]);
        }
        Ok(GpuOutput { y, maps })
    }

    /// [`Mhsa::uniform`] on the device: the attention of all-zero scores, whose weights are all
    /// `1 / P`.
    pub(crate) fn record_uniform_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims) -> Result<GpuTensor> {
        self.check_grid(dims)?;
        let n = dims.positions();
        let mut inputs = self.project_gpu(g, x, dims, true)?;
        if self.rel_pos.is_none() {
            // Zero scores: the queries scaled by nothing.
            inputs.form = PairwiseForm::Softmax { scale: 0.0 };
        }
        let heads_out = attend(g, &inputs)?;
        match &self.proj {
            Some(proj) => conv1x1(g, proj, &heads_out, n, Activation::Identity, None),
            None => Ok(heads_out),
        }
    }

    pub(crate) fn record_attention_row_gpu(
        &self,
        g: &mut Graph,
        x: &GpuTensor,
        dims: Dims,
        query: usize,
    ) -> Result<(Vec<usize>, GpuTensor)> {
        let inputs = self.project_gpu(g, x, dims, false)?;
        Ok((vec![self.heads, dims.h, dims.w], attention_rows(g, &inputs, query, 1)?))
    }
}

impl ScoreOperands<'_> {
    fn affinity(&self) -> Affinity<'_> {
        Affinity::Softmax { queries: &self.queries, keys: &self.keys, dim: self.dim, scale: self.scale }
    }
}

/// The `--heads` option: given, and a divisor of the `channels`.
pub(crate) fn checked_heads(heads: Option<usize>, channels: usize) -> Result<usize> {
    let heads = heads.ok_or(Error::BadOption { option: "--heads", reason: "block mhsa needs the number of heads".into() })?;
    if heads == 0 || !channels.is_multiple_of(heads) {
        return Err(Error::BadOption { option: "--heads", reason: format!("{heads} heads do not divide the {channels} channels") });
    }
    Ok(heads)
}
