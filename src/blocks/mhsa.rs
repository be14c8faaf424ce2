//! Multi-head self-attention over positions, as timm's `Attention2d` (`head_first=False`):
//! `qkv = conv1x1(x)` read as `(3, heads, C/heads, N)`, per head `softmax(q k^T / sqrt(C/heads)) v`,
//! heads concatenated, then `proj`. No residual inside the block.

use super::options::BlockOptions;
use super::params::{Bias, Conv1x1};
use super::{ImageOutput, MapRequest};
use crate::error::{Error, Result};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::attention::{AttentionInputs, Operand, PairwiseForm, attend, attention_rows, attention_scores};
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
    proj: Conv1x1,
    heads: usize,
}

impl Mhsa {
    /// Keys `qkv.{weight (3C, C, 1, 1), bias}`, `proj.{weight (C, C, 1, 1), bias}`; `--heads` is
    /// required and must divide C.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let (_, c) = r.conv1x1_dims("qkv.weight")?;
        let heads = checked_heads(options.heads, c)?;
        Ok(Self { qkv: Conv1x1::load(r, "qkv", 3 * c, c, Bias::Required)?, proj: Conv1x1::load(r, "proj", c, c, Bias::Required)?, heads })
    }

    pub fn channels(&self) -> usize {
        self.proj.outputs
    }

    pub fn heads(&self) -> usize {
        self.heads
    }

    fn head_dim(&self) -> usize {
        self.channels() / self.heads
    }

    /// `1 / sqrt(C / heads)` on the logits.
    fn scale(&self) -> f32 {
        (self.head_dim() as f32).powf(-0.5)
    }

    /// Queries, keys and values of every head, position-major `(N, C/heads)` each.
    pub(crate) fn project(&self, img: &[f32], n: usize) -> Vec<[Vec<f32>; 3]> {
        let qkv = self.qkv.apply(img, n);
        let (c, dh) = (self.channels(), self.head_dim());
        let part = |which: usize, head: usize| {
            let start = (which * c + head * dh) * n;
            transpose(&qkv[start..start + dh * n], dh, n)
        };
        (0..self.heads).map(|h| [part(0, h), part(1, h), part(2, h)]).collect()
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, request: MapRequest, kernels: Kernels) -> ImageOutput {
        let mut out = self.forward_untraced(img, dims, request, kernels);
        if request.trace {
            out.maps.extend(self.trace_at(img, dims, request.query));
        }
        out
    }

    /// The steps at position `query` ([`MapRequest::trace`]), from the plain code: per head the
    /// query vector, the keys and values, the scaled scores and their softmax, the weighted sum
    /// of the values; then `proj` of the heads side by side.
    fn trace_at(&self, img: &[f32], dims: Dims, query: usize) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        let (n, c, dh, heads) = (dims.positions(), self.channels(), self.head_dim(), self.heads);
        let projected = self.project(img, n);
        let (mut q, mut keys, mut values, mut scores, mut weights, mut mixed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for qkv in &projected {
            let affinity = self.head_affinity(qkv);
            let row = affinity.row(query);
            q.extend_from_slice(&qkv[0][query * dh..(query + 1) * dh]);
            keys.extend(transpose(&qkv[1], n, dh));
            values.extend(transpose(&qkv[2], n, dh));
            scores.extend(affinity.logits(query));
            let mut sum = vec![0.0f32; dh];
            for (w, v) in row.iter().zip(qkv[2].chunks_exact(dh)) {
                sum.iter_mut().zip(v).for_each(|(a, &v)| *a += w * v);
            }
            mixed.extend(sum);
            weights.extend(row);
        }
        let output = self.proj.apply(&mixed, 1);
        let (h, w) = (dims.h, dims.w);
        vec![
            ("trace.query", vec![heads, dh], q),
            ("trace.keys", vec![heads, dh, h, w], keys),
            ("trace.values", vec![heads, dh, h, w], values),
            ("trace.scores", vec![heads, h, w], scores),
            ("trace.weights", vec![heads, h, w], weights),
            ("trace.mixed", vec![heads, dh], mixed),
            ("trace.output", vec![c], output),
        ]
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
    /// the layout the fused attention takes) and its output straight into `proj`'s input.
    fn forward_fast(&self, img: &[f32], dims: Dims, k: Kernels) -> ImageOutput {
        let n = dims.positions();
        let (c, dh) = (self.channels(), self.head_dim());
        let qkv = k.conv1x1(self.qkv.dense(), img, n, None);
        let part = |which: usize, head: usize| &qkv[(which * c + head * dh) * n..(which * c + (head + 1) * dh) * n];
        let mut concat = vec![0.0f32; c * n];
        for h in 0..self.heads {
            let input = AttentionInput {
                queries: part(0, h),
                keys: part(1, h),
                values: part(2, h),
                dim: dh,
                value_dim: dh,
                weighting: Weighting::Softmax { scale: self.scale() },
            };
            k.attend(&input, &mut concat[h * dh * n..(h + 1) * dh * n]);
        }
        ImageOutput { y: k.conv1x1(self.proj.dense(), &concat, n, None), maps: Vec::new() }
    }

    fn forward_reference(&self, img: &[f32], dims: Dims, request: MapRequest) -> ImageOutput {
        let n = dims.positions();
        let dh = self.head_dim();
        let heads = self.project(img, n);
        let mut concat = vec![0.0f32; self.channels() * n];
        let mut attention = Vec::new();
        for (h, qkv) in heads.iter().enumerate() {
            let affinity = self.head_affinity(qkv);
            let out = transpose(&affinity.attend(&qkv[2], dh), n, dh);
            concat[h * dh * n..(h + 1) * dh * n].copy_from_slice(&out);
            if request.full_attention {
                attention.extend(affinity.matrix());
            }
        }
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![self.heads, n, n], attention));
        }
        ImageOutput { y: self.proj.apply(&concat, n), maps }
    }

    /// Where query `query` attends in every head: `(heads, H, W)`.
    pub(crate) fn attention_row(&self, img: &[f32], dims: Dims, query: usize) -> (Vec<usize>, Vec<f32>) {
        let rows = self.project(img, dims.positions()).iter().flat_map(|qkv| self.head_affinity(qkv).row(query)).collect();
        (vec![self.heads, dims.h, dims.w], rows)
    }

    /// `softmax_j(q_i . k_j / sqrt(dh))` for one head's `[q, k, v]`.
    fn head_affinity<'a>(&self, qkv: &'a [Vec<f32>; 3]) -> Affinity<'a> {
        Affinity::Softmax { queries: &qkv[0], keys: &qkv[1], dim: self.head_dim(), scale: self.scale() }
    }

    /// Every head's queries, keys and values as views into one `qkv` tensor `(N, 3C, P)`.
    fn project_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims) -> Result<AttentionInputs> {
        let (c, positions) = (self.channels(), dims.positions());
        let qkv = conv1x1(g, &self.qkv, x, positions, Activation::Identity, None)?;
        let part = |first| Operand { tensor: qkv.clone(), channels: 3 * c, first };
        Ok(AttentionInputs {
            q: part(0),
            k: part(c),
            v: part(2 * c),
            queries: positions,
            keys: positions,
            dim: self.head_dim(),
            value_dim: self.head_dim(),
            heads: self.heads,
            images: dims.n,
            form: PairwiseForm::Softmax { scale: self.scale() },
        })
    }

    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let n = dims.positions();
        let inputs = self.project_gpu(g, x, dims)?;
        let heads_out = attend(g, &inputs)?;
        let y = conv1x1(g, &self.proj, &heads_out, n, Activation::Identity, None)?;
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![self.heads, n, n], attention_rows(g, &inputs, 0, n)?));
        }
        if request.trace {
            let (q, c, dh, heads, (h, w)) = (request.query, self.channels(), self.head_dim(), self.heads, (dims.h, dims.w));
            let qkv = &inputs.q.tensor;
            maps.extend([
                ("trace.query", vec![heads, dh], slice(g, qkv, 3 * c, n, 0..c, q..q + 1)?),
                ("trace.keys", vec![heads, dh, h, w], slice(g, qkv, 3 * c, n, c..2 * c, 0..n)?),
                ("trace.values", vec![heads, dh, h, w], slice(g, qkv, 3 * c, n, 2 * c..3 * c, 0..n)?),
                ("trace.scores", vec![heads, h, w], attention_scores(g, &inputs, q)?),
                ("trace.weights", vec![heads, h, w], attention_rows(g, &inputs, q, 1)?),
                ("trace.mixed", vec![heads, dh], at_position(g, &heads_out, c, n, q)?),
                ("trace.output", vec![c], at_position(g, &y, c, n, q)?),
            ]);
        }
        Ok(GpuOutput { y, maps })
    }

    pub(crate) fn record_attention_row_gpu(
        &self,
        g: &mut Graph,
        x: &GpuTensor,
        dims: Dims,
        query: usize,
    ) -> Result<(Vec<usize>, GpuTensor)> {
        let inputs = self.project_gpu(g, x, dims)?;
        Ok((vec![self.heads, dims.h, dims.w], attention_rows(g, &inputs, query, 1)?))
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
