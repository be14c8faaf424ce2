//! Non-local block (Wang et al. 2018), as timm's `NonLocalAttn`, with the paper's four pairwise
//! functions, the scale conventions of the three reference codes, and 2x2 subsampling of keys.
//!
//! `theta = t(x)`, `phi = p(x)`, `g = g(x)` (1x1 convs to rd channels; with subsampling phi and g
//! are 2x2 max-pooled after their conv), `y_i = sum_j f(i, j) g_j`, `out = BN(z(y)) + x`.
//! The output is computed by [`Affinity::attend`], never through the N x N matrix.

use super::options::{BlockOptions, Pairwise, ScaleMode};
use super::params::{Bias, Conv1x1, fold_batchnorm, load_batchnorm};
use super::{ImageOutput, MapRequest};
use crate::error::{Error, Result, Shape};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::attention::{AttentionInputs, Operand, PairwiseForm, attend, attention_rows, attention_scores};
use crate::gpu::kernels::linear::conv1x1;
use crate::gpu::kernels::pooling as gpu_pooling;
use crate::gpu::kernels::slice::at_position;
use crate::kernels::activation::Activation;
use crate::kernels::attention::Affinity;
use crate::kernels::linear::transpose;
use crate::kernels::norm::BatchNorm;
use crate::kernels::pooling::max_pool_2x2;
use crate::simd::{AttentionInput, Kernels, Weighting};
use crate::tensor::Dims;
use crate::weights::WeightReader;

#[derive(Debug, Clone)]
pub struct NonLocal {
    /// `t` and `p`; absent for the Gaussian form, which compares raw inputs.
    theta_phi: Option<(Conv1x1, Conv1x1)>,
    g: Conv1x1,
    z: Conv1x1,
    norm: BatchNorm,
    /// `norm(z(.))` as one 1x1 convolution, folded once at load for the fast CPU path and the GPU.
    z_with_norm: Conv1x1,
    /// `concat_project.weight` split into its theta half and phi half, each a 1x1 conv to one
    /// channel without bias.
    concat: Option<(Conv1x1, Conv1x1)>,
    pairwise: Pairwise,
    scale: f32,
    subsample: bool,
}

/// One image embedded into queries, keys and values, position-major.
struct Embedded {
    queries: Vec<f32>,
    keys: Vec<f32>,
    /// Width of a query / key vector (rd, or C for the Gaussian form).
    dim: usize,
    values: Vec<f32>,
    /// The concatenation form's per-query and per-key terms.
    concat_terms: Option<(Vec<f32>, Vec<f32>)>,
}

impl NonLocal {
    /// Keys `g.*`, `z.*`, `norm.*`, and `t.*`, `p.*` except for the Gaussian form,
    /// `concat_project.weight (1, 2 rd, 1, 1)` for the concatenation form. rd comes from `g.weight`.
    pub fn load(r: &mut WeightReader, options: &BlockOptions) -> Result<Self> {
        let pairwise = options.pairwise.unwrap_or_default();
        let (rd, c) = r.conv1x1_dims("g.weight")?;
        let theta_phi = match pairwise {
            Pairwise::Gaussian => None,
            _ => Some((Conv1x1::load(r, "t", rd, c, Bias::Required)?, Conv1x1::load(r, "p", rd, c, Bias::Required)?)),
        };
        let concat = match pairwise {
            Pairwise::Concatenation => {
                let w = r.require("concat_project.weight", &[1, 2 * rd, 1, 1])?;
                let half = |weight: &[f32]| Conv1x1 { weight: weight.to_vec(), bias: None, inputs: rd, outputs: 1 };
                Some((half(&w[..rd]), half(&w[rd..])))
            }
            _ => None,
        };
        let scale = match options.scale.unwrap_or_default() {
            ScaleMode::Input => (c as f32).powf(-0.5),
            ScaleMode::Inner => (rd as f32).powf(-0.5),
            ScaleMode::None => 1.0,
        };
        // Keys are read in the order they always were (g, z, norm): the first missing one is reported.
        let g = Conv1x1::load(r, "g", rd, c, Bias::Required)?;
        let z = Conv1x1::load(r, "z", c, rd, Bias::Required)?;
        let norm = load_batchnorm(r, "norm", c)?;
        let z_with_norm = fold_batchnorm(&z, &norm);
        Ok(Self { theta_phi, g, z, norm, z_with_norm, concat, pairwise, scale, subsample: options.subsample })
    }

    pub fn channels(&self) -> usize {
        self.g.inputs
    }

    /// The `(Hk, Wk)` grid of keys: the image, or its 2x2-pooled grid with subsampling
    /// (an odd last row or column dropped, as `MaxPool2d(2)` does).
    pub fn key_grid(&self, dims: Dims) -> (usize, usize) {
        if self.subsample { (dims.h / 2, dims.w / 2) } else { (dims.h, dims.w) }
    }

    pub fn num_keys(&self, dims: Dims) -> usize {
        let (h, w) = self.key_grid(dims);
        h * w
    }

    pub(crate) fn unused_key_hint(&self) -> &'static str {
        match self.pairwise {
            Pairwise::Gaussian => "the gaussian form has no t.* or p.*",
            Pairwise::Concatenation => "",
            _ => "concat_project.* belongs to --pairwise concatenation",
        }
    }

    /// Subsampling needs at least a 2x2 image.
    pub(crate) fn check_size(&self, dims: Dims, shape: &[usize]) -> Result<()> {
        if self.subsample && (dims.h < 2 || dims.w < 2) {
            return Err(Error::InputShape { expected: "H and W of at least 2 for --subsample".into(), found: Shape(shape.to_vec()) });
        }
        Ok(())
    }

    /// Keys and values `(channels, H*W)` on the key grid.
    fn pool_keys(&self, cm: Vec<f32>, dims: Dims) -> Vec<f32> {
        if self.subsample { max_pool_2x2(&cm, dims.h, dims.w).0 } else { cm }
    }

    fn embed(&self, img: &[f32], dims: Dims) -> Embedded {
        let n = dims.positions();
        let (theta_cm, phi_cm) = match &self.theta_phi {
            Some((t, p)) => (t.apply(img, n), p.apply(img, n)),
            None => (img.to_vec(), img.to_vec()),
        };
        let dim = theta_cm.len() / n;
        let phi_cm = self.pool_keys(phi_cm, dims);
        let g_cm = self.pool_keys(self.g.apply(img, n), dims);
        let num_keys = self.num_keys(dims);
        let queries = transpose(&theta_cm, dim, n);
        let keys = transpose(&phi_cm, dim, num_keys);
        let concat_terms = self.concat.as_ref().map(|(w_theta, w_phi)| {
            let project = |rows: &[f32], w: &[f32]| -> Vec<f32> {
                rows.chunks_exact(dim).map(|r| r.iter().zip(w).map(|(a, b)| a * b).sum()).collect()
            };
            (project(&queries, &w_theta.weight), project(&keys, &w_phi.weight))
        });
        Embedded { queries, keys, dim, values: transpose(&g_cm, self.g.outputs, num_keys), concat_terms }
    }

    fn affinity<'a>(&self, e: &'a Embedded) -> Affinity<'a> {
        let (queries, keys, dim) = (&e.queries[..], &e.keys[..], e.dim);
        match (self.pairwise, &e.concat_terms) {
            (Pairwise::EmbeddedGaussian | Pairwise::Gaussian, _) => Affinity::Softmax { queries, keys, dim, scale: self.scale },
            (Pairwise::DotProduct, _) => Affinity::DotMean { queries, keys, dim },
            (Pairwise::Concatenation, Some((a, b))) => Affinity::ConcatReluMean { query_terms: a, key_terms: b },
            (Pairwise::Concatenation, None) => {
                unreachable!("the concatenation form always has its projection")
            }
        }
    }

    pub(crate) fn forward_image(&self, img: &[f32], dims: Dims, request: MapRequest, kernels: Kernels) -> ImageOutput {
        let mut out = self.forward_untraced(img, dims, request, kernels);
        if request.trace {
            out.maps.extend(self.trace_at(img, dims, request.query));
        }
        out
    }

    fn forward_untraced(&self, img: &[f32], dims: Dims, request: MapRequest, kernels: Kernels) -> ImageOutput {
        // The fast path has no full matrix to report and no concatenation form (its scores are
        // not a product); those run on the reference.
        let weighting = match self.pairwise {
            Pairwise::EmbeddedGaussian | Pairwise::Gaussian => Some(Weighting::Softmax { scale: self.scale }),
            Pairwise::DotProduct => Some(Weighting::Mean),
            Pairwise::Concatenation => None,
        };
        match (kernels, weighting) {
            (Kernels::Reference, _) | (_, None) => self.forward_reference(img, dims, request),
            _ if request.full_attention => self.forward_reference(img, dims, request),
            (fast, Some(weighting)) => self.forward_fast(img, dims, fast, weighting),
        }
    }

    /// Queries, keys and values from the 1x1 kernels, fused attention, then `z` with its
    /// BatchNorm folded in and the residual added as the output is written.
    fn forward_fast(&self, img: &[f32], dims: Dims, k: Kernels, weighting: Weighting) -> ImageOutput {
        let n = dims.positions();
        let (theta, phi) = match &self.theta_phi {
            Some((t, p)) => (k.conv1x1(t.dense(), img, n, None), k.conv1x1(p.dense(), img, n, None)),
            None => (img.to_vec(), img.to_vec()),
        };
        let dim = theta.len() / n;
        let keys = self.pool_keys(phi, dims);
        let values = self.pool_keys(k.conv1x1(self.g.dense(), img, n, None), dims);
        let rd = self.g.outputs;
        let mut attended = vec![0.0; rd * n];
        k.attend(&AttentionInput { queries: &theta, keys: &keys, values: &values, dim, value_dim: rd, weighting }, &mut attended);
        ImageOutput { y: k.conv1x1(self.z_with_norm.dense(), &attended, n, Some(img)), maps: Vec::new() }
    }

    fn forward_reference(&self, img: &[f32], dims: Dims, request: MapRequest) -> ImageOutput {
        let n = dims.positions();
        let e = self.embed(img, dims);
        let affinity = self.affinity(&e);
        let y = transpose(&affinity.attend(&e.values, self.g.outputs), n, self.g.outputs);
        let mut out = self.z.apply(&y, n);
        self.norm.apply(&mut out, n);
        out.iter_mut().zip(img).for_each(|(o, &x)| *o += x);
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![n, affinity.num_keys()], affinity.matrix()));
        }
        ImageOutput { y: out, maps }
    }

    /// The steps at position `query` ([`MapRequest::trace`]), from the plain code: the query
    /// vector, the keys, the scores and their normalised row, the weighted sum of g, `z`, its
    /// BatchNorm and the residual.
    fn trace_at(&self, img: &[f32], dims: Dims, query: usize) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
        let (n, c, rd) = (dims.positions(), dims.c, self.g.outputs);
        let (key_rows, key_cols) = self.key_grid(dims);
        let e = self.embed(img, dims);
        let affinity = self.affinity(&e);
        let weights = affinity.row(query);
        let mut attended = vec![0.0f32; rd];
        for (w, v) in weights.iter().zip(e.values.chunks_exact(rd)) {
            attended.iter_mut().zip(v).for_each(|(a, &v)| *a += w * v);
        }
        let z = self.z.apply(&attended, 1);
        let mut normed = z.clone();
        self.norm.apply(&mut normed, 1);
        let input: Vec<f32> = (0..c).map(|ch| img[ch * n + query]).collect();
        let output = normed.iter().zip(&input).map(|(a, b)| a + b).collect();
        let grid = vec![key_rows, key_cols];
        vec![
            ("trace.input", vec![c], input),
            ("trace.theta", vec![e.dim], e.queries[query * e.dim..(query + 1) * e.dim].to_vec()),
            ("trace.keys", vec![e.dim, key_rows, key_cols], transpose(&e.keys, key_rows * key_cols, e.dim)),
            ("trace.logits", grid.clone(), affinity.logits(query)),
            ("trace.weights", grid, weights),
            ("trace.attended", vec![rd], attended),
            ("trace.z", vec![c], z),
            ("trace.normed", vec![c], normed),
            ("trace.output", vec![c], output),
        ]
    }

    /// Where query `query` attends, as a `(Hk, Wk)` map over the key grid.
    pub(crate) fn attention_row(&self, img: &[f32], dims: Dims, query: usize) -> (Vec<usize>, Vec<f32>) {
        let (key_rows, key_cols) = self.key_grid(dims);
        (vec![key_rows, key_cols], self.affinity(&self.embed(img, dims)).row(query))
    }

    /// Queries, keys and values on the GPU, channel-major as the convolutions write them; also
    /// theta and phi themselves (the concatenation form's queries and keys are their projections).
    fn embed_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims) -> Result<(AttentionInputs, GpuTensor, GpuTensor)> {
        let (positions, rd) = (dims.positions(), self.g.outputs);
        let (theta, mut phi, dim) = match &self.theta_phi {
            Some((t, p)) => {
                (conv1x1(g, t, x, positions, Activation::Identity, None)?, conv1x1(g, p, x, positions, Activation::Identity, None)?, rd)
            }
            None => (x.clone(), x.clone(), dims.c),
        };
        let mut values = conv1x1(g, &self.g, x, positions, Activation::Identity, None)?;
        if self.subsample {
            phi = gpu_pooling::max_pool_2x2(g, &phi, dims.h, dims.w)?;
            values = gpu_pooling::max_pool_2x2(g, &values, dims.h, dims.w)?;
        }
        let keys = self.num_keys(dims);
        let (q, k, dim, form) = match (&self.concat, self.pairwise) {
            (Some((w_theta, w_phi)), _) => {
                let query_terms = conv1x1(g, w_theta, &theta, positions, Activation::Identity, None)?;
                let key_terms = conv1x1(g, w_phi, &phi, keys, Activation::Identity, None)?;
                (query_terms, key_terms, 1, PairwiseForm::ConcatReluMean)
            }
            (None, Pairwise::DotProduct) => (theta.clone(), phi.clone(), dim, PairwiseForm::DotMean),
            (None, _) => (theta.clone(), phi.clone(), dim, PairwiseForm::Softmax { scale: self.scale }),
        };
        let inputs = AttentionInputs {
            q: Operand::whole(q, dim),
            k: Operand::whole(k, dim),
            v: Operand::whole(values, rd),
            queries: positions,
            keys,
            dim,
            value_dim: rd,
            heads: 1,
            images: dims.n,
            form,
        };
        Ok((inputs, theta, phi))
    }

    /// `BN(z(attend(...))) + x`, with BN folded into `z` and the residual added as `z` writes.
    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        let positions = dims.positions();
        let (inputs, theta, phi) = self.embed_gpu(g, x, dims)?;
        let attended = attend(g, &inputs)?;
        let y = conv1x1(g, &self.z_with_norm, &attended, positions, Activation::Identity, Some(x))?;
        let mut maps = Vec::new();
        if request.full_attention {
            maps.push(("attention", vec![positions, inputs.keys], attention_rows(g, &inputs, 0, positions)?));
        }
        if request.trace {
            let (q, c, rd) = (request.query, dims.c, self.g.outputs);
            let d = theta.len / (dims.n * positions);
            let (key_rows, key_cols) = self.key_grid(dims);
            let attended_q = at_position(g, &attended, rd, positions, q)?;
            maps.extend([
                ("trace.input", vec![c], at_position(g, x, c, positions, q)?),
                ("trace.theta", vec![d], at_position(g, &theta, d, positions, q)?),
                ("trace.keys", vec![d, key_rows, key_cols], phi),
                ("trace.logits", vec![key_rows, key_cols], attention_scores(g, &inputs, q)?),
                ("trace.weights", vec![key_rows, key_cols], attention_rows(g, &inputs, q, 1)?),
                ("trace.z", vec![c], conv1x1(g, &self.z, &attended_q, 1, Activation::Identity, None)?),
                ("trace.normed", vec![c], conv1x1(g, &self.z_with_norm, &attended_q, 1, Activation::Identity, None)?),
                ("trace.attended", vec![rd], attended_q),
                ("trace.output", vec![c], at_position(g, &y, c, positions, q)?),
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
        let (key_rows, key_cols) = self.key_grid(dims);
        let (inputs, ..) = self.embed_gpu(g, x, dims)?;
        Ok((vec![key_rows, key_cols], attention_rows(g, &inputs, query, 1)?))
    }
}
