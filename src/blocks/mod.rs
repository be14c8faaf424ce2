//! The attention blocks, one module each. A block is loaded from a timm state dict plus its
//! options, and computes its output together with the maps that show what it attended to.
//!
//! Blocks hold no backend code of their own beyond the CPU reference (`forward_image`); a
//! [`crate::backend::Backend`] decides where a forward pass runs.

pub mod cbam;
pub mod eca;
pub mod gc;
pub mod init;
pub mod mhsa;
pub mod nonlocal;
pub use crate::layers::params;
pub use crate::options;
pub mod ports;
pub mod se;

use std::collections::BTreeMap;

use crate::error::{Error, Result, Shape};
use crate::gpu::GpuOutput;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::gates::{Gating, apply_gates};
use crate::kernels::pooling::mean_per_channel;
use crate::ran_on::RanOn;
use crate::simd::Kernels;
use crate::tensor::{Dims, Tensor};
use crate::weights::Weights;
pub use options::{BlockKind, BlockOptions, EcaPadding, Fusion, Pairwise, ScaleMode, SpatialOrder};

/// The largest full attention map a caller may ask for. Beyond it the request is refused with a
/// pointer to the one-query row, instead of an allocation that could abort the process.
pub const MAX_ATTENTION_BYTES: usize = 1 << 30;

/// Which of the expensive maps a caller wants besides the cheap ones every block returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapRequest {
    /// The whole attention matrix of Non-local / self-attention: `N` squared floats per image.
    pub full_attention: bool,
    /// The block's steps, as maps named `trace.<step>` (the page's "how it works" view; the
    /// golden tests hold them to the reference modules' intermediates). Shapes are one image's
    /// (the batch adds a leading `N`); the gates stay the `channel` / `spatial` / `context` maps.
    /// - SE: `squeeze (C)` the channel means, `hidden (rd)` fc1 then ReLU, `logits (C)` fc2.
    /// - ECA: `squeeze (C)`, `logits (C)` the 1-D convolution.
    /// - CBAM: `squeeze (C, 2)` each channel's mean and max, `mlp (C, 2)` the shared MLP on each,
    ///   `pooled (2, H, W)` the maps over the channels of `x * a` in the block's order, `conv (H, W)`
    ///   the k x k convolution, `logits (H, W)` after its BatchNorm.
    /// - GC: `logits (H, W)` conv_attn, `context (C)` the weighted sum, `hidden (rd)` fc1,
    ///   `normed (rd)` LayerNorm then ReLU, `transform (C)` fc2.
    /// - Non-local, at [`MapRequest::query`]: `input (C)` x there, `theta (d)`, `keys (d, Hk, Wk)`
    ///   phi, `logits (Hk, Wk)` the scores before normalising (softmax forms: `scale theta.phi`;
    ///   dot product: `theta.phi`; concatenation: `relu(w.[theta, phi])`), `weights (Hk, Wk)` the
    ///   normalised row, `attended (rd)` the weighted sum of g, `z (C)`, `normed (C)` after the
    ///   BatchNorm, `output (C)` with the residual.
    /// - MHSA, at [`MapRequest::query`]: `query (heads, dh)`, `keys (heads, dh, H, W)`,
    ///   `values (heads, dh, H, W)`, `scores (heads, H, W)` `q.k / sqrt(dh)`, `weights (heads, H, W)`
    ///   their softmax, `mixed (heads, dh)` the weighted sum of v, `output (C)` after `proj`. BoTNet's
    ///   adds `content (heads, H, W)`, `q.k / sqrt(dh)` alone: its `scores` hold the relative
    ///   position term too; its `output` is the heads side by side (no `proj`).
    pub trace: bool,
    /// The position (row-major over `H x W`) whose steps Non-local and MHSA trace.
    pub query: usize,
    /// A NaN or infinite input is computed with as PyTorch computes it, so that it propagates
    /// (inside a whole network: a diverged checkpoint's NaN reaches the logits), instead of
    /// refused with [`Error::NonFinite`] (the `apply` contract for a block's own input).
    pub propagate_non_finite: bool,
}

/// A block's output `y`, its named maps (`channel`, `spatial`, `context`, `attention`), and
/// where it was computed.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutput {
    pub y: Tensor,
    pub maps: BTreeMap<&'static str, Tensor>,
    pub ran_on: RanOn,
}

/// One image's share of a [`BlockOutput`]; the batch is assembled by [`Block`].
pub(crate) struct ImageOutput {
    pub y: Vec<f32>,
    /// `(name, shape of one image's map, data)`.
    pub maps: Vec<(&'static str, Vec<usize>, Vec<f32>)>,
}

impl ImageOutput {
    /// `y = x * gate[c]`, reporting the gate as the `channel` map (SE, ECA, GC).
    pub(crate) fn channel_gated(img: &[f32], gate: Vec<f32>, dims: Dims, kernels: Kernels) -> Self {
        let y = match kernels {
            Kernels::Reference => scale_channels(img, &gate, dims.positions()),
            fast => fast.apply_gates(img, &gate, None, dims.positions()),
        };
        Self { y, maps: vec![("channel", vec![dims.c], gate)] }
    }

    /// SE and ECA: the gate `gate_from_means` makes of the channel means, applied. The fast
    /// kernels' means also prove the input finite ([`check_finite_via`]). With `trace` on, the
    /// means are kept as `trace.squeeze` and `gate_from_means` keeps its own steps in `trace`.
    pub(crate) fn gated_by_means(
        img: &[f32],
        dims: Dims,
        kernels: Kernels,
        mut trace: Trace,
        gate_from_means: impl FnOnce(&[f32], &mut Trace) -> Vec<f32>,
    ) -> Result<Self> {
        let means = match kernels {
            Kernels::Reference => mean_per_channel(img, dims.positions()),
            fast => {
                let means = fast.channel_means(img, dims.positions());
                check_finite_via(&means, img)?;
                means
            }
        };
        trace.keep("trace.squeeze", &means);
        let gate = gate_from_means(&means, &mut trace);
        let mut out = Self::channel_gated(img, gate, dims, kernels);
        out.maps.extend(trace.steps);
        Ok(out)
    }
}

/// The steps a block keeps for [`MapRequest::trace`], one image's: nothing unless asked.
pub(crate) struct Trace {
    on: bool,
    pub steps: Vec<(&'static str, Vec<usize>, Vec<f32>)>,
}

impl Trace {
    pub fn new(request: MapRequest) -> Self {
        Self { on: request.trace, steps: Vec::new() }
    }

    /// Keeps nothing.
    pub fn off() -> Self {
        Self { on: false, steps: Vec::new() }
    }

    /// Whether the caller asked for the steps.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Keeps a copy of a vector step (one value per channel or hidden unit) when tracing.
    pub fn keep(&mut self, name: &'static str, values: &[f32]) {
        self.keep_shaped(name, &[values.len()], values);
    }

    /// Keeps a copy of a step of one image's `shape` when tracing.
    pub fn keep_shaped(&mut self, name: &'static str, shape: &[usize], values: &[f32]) {
        if self.on {
            debug_assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}");
            self.steps.push((name, shape.to_vec(), values.to_vec()));
        }
    }
}

/// Fails where `img` holds a NaN or an infinity, given sums its first pass took over every
/// value: a NaN or infinity makes any sum it enters NaN or infinite, so finite sums prove the
/// values finite at the cost of looking at the sums. Where one is not finite the values are
/// scanned (finite values whose sum overflowed pass).
pub(crate) fn check_finite_via(sums: &[f32], img: &[f32]) -> Result<()> {
    if sums.iter().all(|v| v.is_finite()) { Ok(()) } else { crate::tensor::check_finite(img) }
}

impl GpuOutput {
    /// `y = x * gate[c]` on the device, reporting the gate as the `channel` map (SE, ECA, GC).
    pub(crate) fn channel_gated(g: &mut Graph, x: &GpuTensor, gate: GpuTensor, dims: Dims) -> Result<Self> {
        let y = apply_gates(g, x, dims.c, dims.positions(), Gating::Channel(&gate))?;
        Ok(Self { y, maps: vec![("channel", vec![dims.c], gate)] })
    }
}

/// A loaded block of any kind.
#[derive(Debug, Clone)]
pub enum Block {
    Se(se::Se),
    Cbam(cbam::Cbam),
    // Boxed: it holds five layers, the others two or three.
    NonLocal(Box<nonlocal::NonLocal>),
    Eca(eca::Eca),
    Gc(gc::Gc),
    Mhsa(mhsa::Mhsa),
}

impl Block {
    /// Builds a block from its state dict. Refuses options the block does not take, missing or
    /// misshapen keys, and keys the block would not use.
    pub fn load(kind: BlockKind, weights: &Weights, options: &BlockOptions) -> Result<Self> {
        options.check_for(kind)?;
        let mut r = weights.reader(kind.name());
        let block = match kind {
            BlockKind::Se => Block::Se(se::Se::load(&mut r)?),
            BlockKind::Cbam => Block::Cbam(cbam::Cbam::load(&mut r, options)?),
            BlockKind::NonLocal => Block::NonLocal(Box::new(nonlocal::NonLocal::load(&mut r, options)?)),
            BlockKind::Eca => Block::Eca(eca::Eca::load(&mut r, options)?),
            BlockKind::Gc => Block::Gc(gc::Gc::load(&mut r, options)?),
            BlockKind::Mhsa => Block::Mhsa(mhsa::Mhsa::load(&mut r, options)?),
        };
        r.finish(block.unused_key_hint())?;
        Ok(block)
    }

    pub fn kind(&self) -> BlockKind {
        match self {
            Block::Se(_) => BlockKind::Se,
            Block::Cbam(_) => BlockKind::Cbam,
            Block::NonLocal(_) => BlockKind::NonLocal,
            Block::Eca(_) => BlockKind::Eca,
            Block::Gc(_) => BlockKind::Gc,
            Block::Mhsa(_) => BlockKind::Mhsa,
        }
    }

    /// Input channels the weights were made for; `None` for ECA, whose 1-D kernel fits any C.
    pub fn channels(&self) -> Option<usize> {
        match self {
            Block::Se(b) => Some(b.channels()),
            Block::Cbam(b) => Some(b.channels()),
            Block::NonLocal(b) => Some(b.channels()),
            Block::Eca(_) => None,
            Block::Gc(b) => Some(b.channels()),
            Block::Mhsa(b) => Some(b.channels()),
        }
    }

    /// Why a leftover key may be there: the option that would have used it.
    fn unused_key_hint(&self) -> &'static str {
        match self {
            Block::NonLocal(b) => b.unused_key_hint(),
            Block::Gc(_) => "mlp_add.* belongs to --fusion add, mlp_scale.* to --fusion scale",
            _ => "",
        }
    }

    /// Checks `x` before any backend sees it: NCHW, the block's channel count, finite values,
    /// and a size the block can work on.
    pub fn check_input(&self, x: &Tensor) -> Result<Dims> {
        let dims = self.check_shape(x)?;
        x.check_finite()?;
        Ok(dims)
    }

    /// [`Block::check_input`] but for the values.
    pub(crate) fn check_shape(&self, x: &Tensor) -> Result<Dims> {
        let dims = x.dims4()?;
        self.check_dims(dims)?;
        Ok(dims)
    }

    /// [`Block::check_shape`] of an input of `dims` (one on the GPU, whose values are not here).
    pub(crate) fn check_dims(&self, dims: Dims) -> Result<()> {
        let shape = [dims.n, dims.c, dims.h, dims.w];
        if let Some(c) = self.channels().filter(|&c| c != dims.c) {
            return Err(Error::InputShape {
                expected: format!("(N, {c}, H, W): the weights are for {c} channels"),
                found: Shape(shape.to_vec()),
            });
        }
        if let Block::NonLocal(b) = self {
            b.check_size(dims, &shape)?;
        }
        if let Block::Mhsa(b) = self {
            b.check_grid(dims)?;
        }
        Ok(())
    }

    /// Whether [`Block::forward_cpu`] on `kernels` checks that the input is finite itself, from
    /// the sums its first pass takes over every value (see [`check_finite_via`]), sparing the
    /// gates a separate pass over `x`.
    pub(crate) fn checks_finite_itself(&self, kernels: Kernels) -> bool {
        kernels != Kernels::Reference && matches!(self, Block::Se(_) | Block::Eca(_) | Block::Cbam(_) | Block::Gc(_))
    }

    /// Refuses a full attention map larger than [`MAX_ATTENTION_BYTES`].
    pub fn check_request(&self, dims: Dims, request: MapRequest) -> Result<()> {
        if request.trace && matches!(self, Block::NonLocal(_) | Block::Mhsa(_)) {
            self.check_query(dims, request.query)?;
        }
        if !request.full_attention {
            return Ok(());
        }
        let (rows_per_image, keys) = match self {
            Block::NonLocal(b) => (dims.positions(), b.num_keys(dims)),
            Block::Mhsa(b) => (b.heads() * dims.positions(), dims.positions()),
            _ => {
                return Err(Error::NoAttentionRows { block: self.kind().name() });
            }
        };
        let bytes = (dims.n * rows_per_image).saturating_mul(keys).saturating_mul(4);
        if bytes > MAX_ATTENTION_BYTES {
            return Err(Error::BadOption {
                option: "--save-attention",
                reason: format!(
                    "the full attention map would take {:.1} GiB (limit 1 GiB); ask for one query's row instead (--query X,Y)",
                    bytes as f64 / (1u64 << 30) as f64
                ),
            });
        }
        Ok(())
    }

    /// The forward pass on the CPU, with the reference or the fast kernels. `x` must have passed
    /// [`Block::check_input`].
    pub(crate) fn forward_cpu(&self, x: &Tensor, dims: Dims, request: MapRequest, kernels: Kernels) -> Result<BlockOutput> {
        let per_image = |img: &[f32]| match self {
            Block::Se(b) => b.forward_image(img, dims, Trace::new(request), kernels),
            Block::Cbam(b) => b.forward_image(img, dims, Trace::new(request), kernels),
            Block::NonLocal(b) => Ok(b.forward_image(img, dims, request, kernels)),
            Block::Eca(b) => b.forward_image(img, dims, Trace::new(request), kernels),
            Block::Gc(b) => b.forward_image(img, dims, Trace::new(request), kernels),
            Block::Mhsa(b) => Ok(b.forward_image(img, dims, request, kernels)),
        };
        let image_len = dims.image_len();
        let images = x
            .data()
            .chunks_exact(image_len)
            .enumerate()
            .map(|(i, img)| {
                per_image(img).map_err(|e| match e {
                    // The index into the image, made an index into `x`.
                    Error::NonFinite { index, value } => Error::NonFinite { index: i * image_len + index, value },
                    other => other,
                })
            })
            .collect::<Result<Vec<ImageOutput>>>()?;
        Ok(assemble(x.shape(), images))
    }

    /// Refuses a query position outside the image.
    pub(crate) fn check_query(&self, dims: Dims, query: usize) -> Result<()> {
        if query >= dims.positions() {
            return Err(Error::QueryOutOfRange { query, positions: dims.positions() });
        }
        Ok(())
    }

    /// Records the forward pass on the GPU; the twin of [`Block::forward_cpu`].
    pub(crate) fn record_gpu(&self, g: &mut Graph, x: &GpuTensor, dims: Dims, request: MapRequest) -> Result<GpuOutput> {
        match self {
            Block::Se(b) => b.record_gpu(g, x, dims, request),
            Block::Cbam(b) => b.record_gpu(g, x, dims, request),
            Block::NonLocal(b) => b.record_gpu(g, x, dims, request),
            Block::Eca(b) => b.record_gpu(g, x, dims, request),
            Block::Gc(b) => b.record_gpu(g, x, dims, request),
            Block::Mhsa(b) => b.record_gpu(g, x, dims, request),
        }
    }

    /// Records one query's attention row on the GPU; returns one image's shape of it and the
    /// batch's rows. The twin of [`Block::attention_row_cpu`].
    pub(crate) fn record_attention_row_gpu(
        &self,
        g: &mut Graph,
        x: &GpuTensor,
        dims: Dims,
        query: usize,
    ) -> Result<(Vec<usize>, GpuTensor)> {
        match self {
            Block::NonLocal(b) => b.record_attention_row_gpu(g, x, dims, query),
            Block::Mhsa(b) => b.record_attention_row_gpu(g, x, dims, query),
            _ => Err(Error::NoAttentionRows { block: self.kind().name() }),
        }
    }

    /// The attention weights of query position `query` (row-major over H x W), per image:
    /// `(N, Hk, Wk)` for Non-local, `(N, heads, H, W)` for self-attention.
    pub(crate) fn attention_row_cpu(&self, x: &Tensor, dims: Dims, query: usize) -> Result<Tensor> {
        self.check_query(dims, query)?;
        let rows: Vec<(Vec<usize>, Vec<f32>)> = match self {
            Block::NonLocal(b) => x.data().chunks_exact(dims.image_len()).map(|img| b.attention_row(img, dims, query)).collect(),
            Block::Mhsa(b) => x.data().chunks_exact(dims.image_len()).map(|img| b.attention_row(img, dims, query)).collect(),
            _ => {
                return Err(Error::NoAttentionRows { block: self.kind().name() });
            }
        };
        let mut shape = vec![dims.n];
        shape.extend_from_slice(&rows[0].0);
        let data = rows.into_iter().flat_map(|(_, d)| d).collect();
        Ok(Tensor::new(shape, data).expect("rows of equal shape"))
    }
}

/// Stacks per-image outputs into batch tensors.
fn assemble(x_shape: &[usize], images: Vec<ImageOutput>) -> BlockOutput {
    let n = images.len();
    if n == 1 {
        // One image (the playground's case): its buffers are the batch's, nothing to copy.
        let image = images.into_iter().next().expect("one image");
        return BlockOutput {
            y: Tensor::new(x_shape.to_vec(), image.y).expect("y has the shape of x"),
            maps: image
                .maps
                .into_iter()
                .map(|(name, shape, data)| (name, Tensor::new([&[1][..], &shape].concat(), data).expect("map of its shape")))
                .collect(),
            ran_on: RanOn::cpu(),
        };
    }
    let mut maps: BTreeMap<&'static str, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
    let mut y = Vec::with_capacity(x_shape.iter().product());
    for image in images {
        y.extend_from_slice(&image.y);
        for (name, shape, data) in image.maps {
            let entry = maps.entry(name).or_insert_with(|| {
                let mut batched = vec![n];
                batched.extend_from_slice(&shape);
                (batched, Vec::new())
            });
            entry.1.extend_from_slice(&data);
        }
    }
    BlockOutput {
        y: Tensor::new(x_shape.to_vec(), y).expect("y has the shape of x"),
        maps: maps.into_iter().map(|(name, (shape, data))| (name, Tensor::new(shape, data).expect("maps of equal shape"))).collect(),
        ran_on: RanOn::cpu(),
    }
}

/// `x * gate[c]` for every channel of `(C, N)`.
pub(crate) fn scale_channels(x: &[f32], gate: &[f32], positions: usize) -> Vec<f32> {
    x.chunks_exact(positions).zip(gate).flat_map(|(ch, &g)| ch.iter().map(move |&v| v * g)).collect()
}

/// `x * gate[p]` for every position of `(C, N)`.
pub(crate) fn scale_positions(x: &[f32], gate: &[f32]) -> Vec<f32> {
    x.chunks_exact(gate.len()).flat_map(|ch| ch.iter().zip(gate).map(|(&v, &g)| v * g)).collect()
}
