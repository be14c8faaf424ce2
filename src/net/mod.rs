//! Whole networks as data: a list of [`Node`]s (convolutions with their BatchNorm folded in,
//! activations, pools, residual blocks, the classifier) in which every attention block is a
//! first-class node with its module path (`layer3.1.se`), its kind and its maps. One small
//! builder per family reads a checkpoint's state dict into a [`Net`] (`families/`); one forward
//! pass ([`Net::run`]) gives the logits and every attention block's maps, with any set of blocks
//! switched off.
//!
//! Everything runs on the chosen backend. On the CPU the layers run on the SIMD kernels
//! ([`layers`], each beside its plain reference) and the attention blocks through the same
//! [`Block`]s as the single-block engine. On the GPU each top-level node (the stem's layers, a
//! module, the head) is recorded into one pass of WGSL dispatches, layers and blocks alike, and read
//! back once ([`gpu`]); where the device fails, that node runs on the CPU and says why.

pub mod branch_attention;
pub mod checkpoint;
pub mod config;
pub mod families;
mod gpu;
pub use crate::layers;
pub mod preprocess;
pub mod random;
pub mod report;
pub mod session;

use std::collections::BTreeMap;

use crate::backend::{AnyBackend, BackendKind, RanOn};
use crate::blocks::{Block, MapRequest};
use crate::error::{Error, Result};
use crate::simd::Kernels;
use crate::tensor::Tensor;
use layers::{Activation, Conv2d, Linear, Pool, global_average};

/// One step of a network.
#[derive(Debug, Clone)]
pub enum Node {
    /// A convolution, its BatchNorm folded in.
    Conv(Conv2d),
    Act(Activation),
    Pool(Pool),
    /// `act(body(x) + shortcut(x))`; an empty shortcut is the identity. Where `partial`, the
    /// shortcut may have fewer channels than the body's output and is added to its first ones
    /// (ReXNet's `cat([y[:, :C_in] + x, y[:, C_in:]])`); otherwise the shapes must be equal.
    Residual {
        body: Vec<Node>,
        shortcut: Vec<Node>,
        act: Activation,
        partial: bool,
    },
    /// GhostNet's ghost module (Han et al. 2020): `cat([p, cheap(p)])[:, :channels]` with
    /// `p = primary(x)`, the features of a primary convolution joined by cheap depthwise ones
    /// made from them (timm's `GhostModule`: `primary_conv`, `cheap_operation`).
    Ghost {
        primary: Vec<Node>,
        cheap: Vec<Node>,
        channels: usize,
    },
    /// The input's channels split into consecutive groups of the given sizes, each group through
    /// its own nodes, the outputs joined along the channels (timm's `MixedConv2d` in MixNet:
    /// depthwise kernels of several sizes, or grouped 1x1s of unequal groups).
    Split {
        parts: Vec<(usize, Vec<Node>)>,
    },
    /// The whole input through each path, the outputs joined along the channels (SKNet's
    /// `SelectiveKernel` with `split_input=False`: every kernel sees every channel).
    Fork {
        paths: Vec<Vec<Node>>,
    },
    /// An attention block, switchable.
    Attention(Box<Attention>),
    /// One module of the reference library by its path (`layer3.1`, `blocks.2.0`,
    /// `features.4`): a ResNet block, an inverted residual. A network's top level is its stem,
    /// these modules in order and its head; a [`session::Session`] caches the features between
    /// them.
    Module {
        path: String,
        nodes: Vec<Node>,
    },
    /// Global average pooling to `(C, 1, 1)` (MobileNetV3 pools before its last convolution).
    GlobalPool,
    /// The bundled scenes network's stem ([`families::scenes::stem`]): the photo scaled to
    /// [`families::scenes::image::NETWORK_SIDE`] on its longer side, then 16 fixed, named channels at
    /// a quarter of that. It has no weights and runs on the CPU on every backend.
    SceneStem,
    /// Global average pooling, then the linear classifier: the logits.
    Head(Linear),
}

impl Node {
    /// A split's or a fork's paths, each with the input channels it takes (`None`: all of them)
    /// and its nodes; empty for any other node.
    fn paths(&self) -> Vec<(Option<std::ops::Range<usize>>, &[Node])> {
        match self {
            Node::Split { parts } => {
                let mut first = 0;
                parts
                    .iter()
                    .map(|(count, nodes)| {
                        first += count;
                        (Some(first - count..first), nodes.as_slice())
                    })
                    .collect()
            }
            Node::Fork { paths } => paths.iter().map(|nodes| (None, nodes.as_slice())).collect(),
            _ => Vec::new(),
        }
    }

    /// How many attention blocks this node holds.
    pub fn attention_count(&self) -> usize {
        match self {
            Node::Attention(_) => 1,
            Node::Residual { body, shortcut, .. } => body.iter().chain(shortcut).map(Node::attention_count).sum(),
            Node::Module { nodes, .. } => nodes.iter().map(Node::attention_count).sum(),
            _ => 0,
        }
    }
}

/// An attention block in a network.
#[derive(Debug, Clone)]
pub struct Attention {
    /// The module path in the reference library's state dict, e.g. `layer3.1.se`.
    pub path: String,
    /// The kind as the family names it: `se`, `eca`, `ceca`, `ese`, `cbam`, `gc`, `gca`, `nl`.
    pub kind: &'static str,
    pub layer: AttentionLayer,
    /// The network adds the block's output to its input, `x + block(x)` (the scenes network's
    /// MHSA, as BoTNet's self-attention: timm's `Attention2d` has no residual of its own), so
    /// switched off it gives `x`. A block with its own residual (Non-local) has `false`.
    pub residual: bool,
}

/// How an attention block computes.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a network holds a few dozen of these; boxing buys nothing
pub enum AttentionLayer {
    /// One of the engine's blocks (SE, ECA, CBAM, GC, Non-local), on the chosen backend.
    Block(Block),
    /// A channel gate from the channel means through linear layers: `x * gate(fc_n(act(... fc_1(mean))))`.
    /// timm's `EffectiveSEModule` (one layer, hard-sigmoid), `SqueezeExcite` of EfficientNet and
    /// MobileNetV3 (`conv_reduce`, act, `conv_expand`, gate), torchvision's `SqueezeExcitation`.
    Gate { layers: Vec<Linear>, act: Activation, gate: Activation },
    /// A softmax across branches per channel, the branches then summed with those weights:
    /// SKNet's `SelectiveKernelAttn` (`sk`), ResNeSt's `SplitAttn` (`splat`). Its input is the
    /// branches joined along the channels, `(R * C, H, W)`; its output `(C, H, W)`.
    Branches(branch_attention::BranchAttention),
}

impl Attention {
    /// Whether the block takes a convolution's place (SKNet, ResNeSt, BoTNet's self-attention)
    /// rather than following one: switched off, it then keeps its computation with uniform
    /// weights (every branch `1 / R`, every position `1 / P`) instead of being the identity.
    pub fn replaces_convolution(&self) -> bool {
        matches!(self.layer, AttentionLayer::Branches(_)) || self.fixed_grid().is_some()
    }

    /// The `(H, W)` grid the block's weights fix (BoTNet's relative position embedding).
    pub fn fixed_grid(&self) -> Option<(usize, usize)> {
        match &self.layer {
            AttentionLayer::Block(Block::Mhsa(m)) => m.grid(),
            _ => None,
        }
    }

    /// Input channels, as far as the weights fix them: 0 for ECA, whose 1-D kernel runs on any
    /// channel count ([`BlockRecord::channels`] has the count a run saw).
    pub fn channels(&self) -> usize {
        match &self.layer {
            AttentionLayer::Block(block) => block.channels().unwrap_or(0),
            AttentionLayer::Gate { layers, .. } => layers[0].inputs,
            AttentionLayer::Branches(b) => b.branches * b.channels,
        }
    }
}

/// A whole network, built from a checkpoint by a family's builder.
#[derive(Debug, Clone)]
pub struct Net {
    /// The family's builder, e.g. `timm resnet`.
    pub family: &'static str,
    /// The architecture as the user or the weights named it, e.g. `seresnet50`.
    pub arch: String,
    pub nodes: Vec<Node>,
    pub classes: usize,
}

/// What a run switches off: block paths (`layer3.1.se`), path prefixes (`layer4`) or kinds (`se`).
#[derive(Debug, Clone, Default)]
pub struct Off(pub Vec<String>);

impl Off {
    pub fn parse(list: &str) -> Self {
        Off(list.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
    }

    /// Refuses a word that names no block of `net`, listing what the blocks are.
    pub fn check(&self, net: &Net) -> Result<()> {
        let blocks = net.attention_blocks();
        match self.0.iter().find(|w| !blocks.iter().any(|b| Off(vec![w.to_string()]).covers(b))) {
            Some(word) => Err(Error::BadOption {
                option: "--off",
                reason: format!("`{word}` names no attention block of this network (they are {})", report::block_counts(&blocks)),
            }),
            None => Ok(()),
        }
    }

    pub fn covers(&self, block: &Attention) -> bool {
        self.0.iter().any(|w| {
            w == block.kind || w == &block.path || (block.path.starts_with(w.as_str()) && block.path.as_bytes().get(w.len()) == Some(&b'.'))
        })
    }
}

/// An attention block's share of a run.
#[derive(Debug, Clone)]
pub struct BlockRecord {
    pub path: String,
    pub kind: &'static str,
    /// The channels of its input in this run.
    pub channels: usize,
    /// The `(height, width)` of its input (the first image's).
    pub grid: (usize, usize),
    /// Switched off in this run (its maps are then absent).
    pub off: bool,
    /// `channel (N, C)`, `spatial (N, H, W)`, `context (N, H, W)`, as the block gives them;
    /// `branch (N, R, C)` for a branch attention (SK, ResNeSt): the weight each channel gives
    /// each branch.
    pub maps: BTreeMap<&'static str, Tensor>,
    /// Where it ran (the first image's pass); `None` when it was off.
    pub ran_on: Option<RanOn>,
}

/// What [`Net::run`] returns.
#[derive(Debug, Clone)]
pub struct NetRun {
    /// `(N, classes)`.
    pub logits: Tensor,
    /// Every attention block, in order of depth.
    pub blocks: Vec<BlockRecord>,
    /// Where the layers ran: the GPU backend's adapter, or the CPU (with why, where the GPU failed
    /// for some node: the first such reason).
    pub layers: RanOn,
}

impl NetRun {
    /// Where the run ran, for the line a user reads: the first layer or block that fell back to
    /// the CPU (so the line says why), else where the layers ran.
    pub fn ran_on(&self) -> &RanOn {
        RanOn::telling(std::iter::once(&self.layers).chain(self.blocks.iter().filter_map(|b| b.ran_on.as_ref())))
            .expect("the layers' entry")
    }
}

impl Net {
    /// The names of its classes: `labels` (one per line) when given, the bundled network's shapes,
    /// ImageNet-1k's for a 1000-way head, else `class N` ([`preprocess::class_names`]).
    pub fn class_names(&self, labels: Option<&str>) -> Result<Vec<String>> {
        if labels.is_none() && self.family == families::scenes::FAMILY {
            return Ok(crate::scenes::CLASSES.iter().map(|c| c.to_string()).collect());
        }
        preprocess::class_names(self.classes, labels)
    }

    /// The attention blocks in order of depth.
    pub fn attention_blocks(&self) -> Vec<&Attention> {
        fn walk<'a>(nodes: &'a [Node], out: &mut Vec<&'a Attention>) {
            for node in nodes {
                match node {
                    Node::Attention(a) => out.push(a),
                    Node::Residual { body, shortcut, .. } => {
                        walk(body, out);
                        walk(shortcut, out);
                    }
                    Node::Module { nodes, .. } => walk(nodes, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.nodes, &mut out);
        out
    }

    /// The side of the square input a network must get where a block fixes its grid (BoTNet's
    /// relative position embedding): the largest side up to 2048 px that gives the first such
    /// block its grid (the grid times the stride before it: 256 for BoTNet's 16 x 16 at stride 16,
    /// as timm's `img_size`); `None` for a network that takes any size, or where no side fits.
    pub fn fixed_input_size(&self) -> Option<usize> {
        // The size after `nodes`, or the grid the first fixed-grid block sees (Err).
        fn walk(nodes: &[Node], (h, w): (usize, usize)) -> std::result::Result<(usize, usize), (usize, usize)> {
            let mut size = (h, w);
            for node in nodes {
                size = match node {
                    Node::Conv(conv) => conv.output_size(size.0, size.1),
                    Node::Pool(pool) => (pool.out_size(size.0), pool.out_size(size.1)),
                    Node::Residual { body, .. } => walk(body, size)?,
                    Node::Module { nodes, .. } => walk(nodes, size)?,
                    Node::Ghost { primary, .. } => walk(primary, size)?,
                    Node::Split { .. } | Node::Fork { .. } => match node.paths().first() {
                        Some((_, nodes)) => walk(nodes, size)?,
                        None => size,
                    },
                    Node::Attention(a) if a.fixed_grid().is_some() => return Err(size),
                    Node::Attention(_) => size,
                    Node::Act(_) => size,
                    Node::GlobalPool | Node::SceneStem | Node::Head(_) => return Ok((1, 1)),
                };
            }
            Ok(size)
        }
        let grid = self.attention_blocks().iter().find_map(|a| a.fixed_grid())?;
        (8..=2048).rev().find(|&side| walk(&self.nodes, (side, side)) == Err(grid))
    }

    /// The attention block at `path`, to change it (a user's own weights for one block).
    pub fn attention_mut(&mut self, path: &str) -> Option<&mut Attention> {
        fn walk<'a>(nodes: &'a mut [Node], path: &str) -> Option<&'a mut Attention> {
            for node in nodes {
                let found = match node {
                    Node::Attention(a) if a.path == path => return Some(a),
                    Node::Residual { body, shortcut, .. } => walk(body, path).or_else(|| walk(shortcut, path)),
                    Node::Module { nodes, .. } => walk(nodes, path),
                    _ => None,
                };
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        walk(&mut self.nodes, path)
    }

    /// The stage of each top-level node, for timings: `stem` before the first module,
    /// [`report::stage_of`] the module's path (`layer3` for `layer3.1`, `blocks.2` for
    /// `blocks.2.0`) for a module and anything between modules, `head` after the last.
    pub fn stages(&self) -> Vec<String> {
        let last_module = self.nodes.iter().rposition(|n| matches!(n, Node::Module { .. }));
        let mut current = "stem".to_string();
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                if let Node::Module { path, .. } = node {
                    current = report::stage_of(path);
                } else if last_module.is_some_and(|m| i > m) {
                    current = "head".into();
                }
                current.clone()
            })
            .collect()
    }

    /// Runs `x` `(N, 3, H, W)` (already preprocessed: normalised as the network expects) through
    /// the network on `backend` (on the CPU, the layers on its kernels), the blocks `off` covers as
    /// the identity.
    pub async fn run(&self, backend: &AnyBackend, x: &Tensor, off: &Off) -> Result<NetRun> {
        self.run_with(backend, backend.cpu_kernels(), x, off).await
    }

    /// [`Net::run`] with the layers on `kernels` where they run on the CPU (the reference, to
    /// compare); a GPU backend runs them on the device.
    pub async fn run_with(&self, backend: &AnyBackend, kernels: Kernels, x: &Tensor, off: &Off) -> Result<NetRun> {
        let dims = x.dims4()?;
        if dims.c != 3 {
            return Err(Error::InputShape {
                expected: "(N, 3, H, W): an RGB image".into(),
                found: crate::error::Shape(x.shape().to_vec()),
            });
        }
        x.check_finite()?;
        let mut logits = Vec::with_capacity(dims.n * self.classes);
        let mut per_image: Vec<Vec<BlockRecord>> = Vec::with_capacity(dims.n);
        let mut layers = None;
        for image in x.data().chunks_exact(dims.image_len()) {
            let mut state = State::new(kernels, backend, off);
            let mut out = Features { data: image.to_vec(), channels: 3, height: dims.h, width: dims.w };
            for node in &self.nodes {
                out = state.node(node, out).await?;
            }
            layers = layers.or(state.layers.take());
            if out.data.len() != self.classes {
                return Err(Error::Checkpoint {
                    reason: format!("the network ends in {} values, not {} logits", out.data.len(), self.classes),
                });
            }
            logits.extend_from_slice(&out.data);
            per_image.push(state.records);
        }
        // The first image's records, each map stacked over the batch once.
        let mut images = per_image.into_iter();
        let mut records = images.next().unwrap_or_default();
        let rest: Vec<Vec<BlockRecord>> = images.collect();
        for (b, record) in records.iter_mut().enumerate() {
            for (name, map) in record.maps.iter_mut() {
                let mut data = map.data().to_vec();
                rest.iter().filter_map(|image| image[b].maps.get(name)).for_each(|m| data.extend_from_slice(m.data()));
                let mut shape = map.shape().to_vec();
                shape[0] = data.len() / map.data().len();
                *map = Tensor::new(shape, data).expect("maps of equal shape");
            }
        }
        Ok(NetRun {
            logits: Tensor::new(vec![dims.n, self.classes], logits).expect("logits of their shape"),
            blocks: records,
            layers: layers.unwrap_or_else(|| backend.layers_ran_on()),
        })
    }
}

/// One image's features, channel-major.
#[derive(Debug, Clone)]
pub(crate) struct Features {
    data: Vec<f32>,
    channels: usize,
    height: usize,
    width: usize,
}

impl Features {
    /// `(C, H, W)`.
    fn chw(&self) -> (usize, usize, usize) {
        (self.channels, self.height, self.width)
    }

    /// The first image of `(N, C, H, W)`.
    pub(crate) fn from_tensor(t: &Tensor) -> Self {
        let s = t.shape();
        let (channels, height, width) = (s[1], s[2], s[3]);
        Features { data: t.data()[..channels * height * width].to_vec(), channels, height, width }
    }

    /// As `(1, C, H, W)`.
    pub(crate) fn to_tensor(&self) -> Tensor {
        Tensor::new(vec![1, self.channels, self.height, self.width], self.data.clone()).expect("features of their shape")
    }

    pub(crate) fn into_data(self) -> Vec<f32> {
        self.data
    }
}

/// What a forward pass carries through the nodes.
pub(crate) struct State<'a> {
    kernels: Kernels,
    backend: &'a AnyBackend,
    off: &'a Off,
    pub(crate) records: Vec<BlockRecord>,
    /// The block whose input and output to keep, by path.
    capture: Option<&'a str>,
    /// The captured block's `(input, output)`, each `(1, C, H, W)`.
    pub(crate) captured: Option<(Tensor, Tensor)>,
    /// Where the layers of the nodes run so far ran: set by the first node, replaced by the
    /// first that fell back to the CPU.
    pub(crate) layers: Option<RanOn>,
}

impl<'a> State<'a> {
    pub(crate) fn new(kernels: Kernels, backend: &'a AnyBackend, off: &'a Off) -> Self {
        State { kernels, backend, off, records: Vec::new(), capture: None, captured: None, layers: None }
    }

    /// Keeps the input and output of the block at `path` in [`State::captured`].
    pub(crate) fn capturing(mut self, path: &'a str) -> Self {
        self.capture = Some(path);
        self
    }

    /// Runs one top-level node (the stem's layers, a module, the head): on a GPU backend as one
    /// pass on the device ([`gpu::node`]), on the CPU where the device fails (saying why in
    /// [`State::layers`] and the blocks' records), else on the CPU kernels.
    pub(crate) async fn node(&mut self, node: &Node, x: Features) -> Result<Features> {
        if matches!(node, Node::SceneStem) {
            // No GPU kernel: the fixed stem is a CPU step on every backend, not a fallback.
            return self.node_cpu(node, x).await;
        }
        let AnyBackend::Gpu(device) = self.backend else {
            self.note_layers(self.backend.layers_ran_on());
            return self.node_cpu(node, x).await;
        };
        match gpu::node(device.device(), node, &x, self.off, self.capture).await {
            Ok(run) => {
                self.records.extend(run.records);
                if run.captured.is_some() {
                    self.captured = run.captured;
                }
                self.note_layers(device.ran_on());
                Ok(run.out)
            }
            Err(Error::GpuFailed(reason)) => {
                let first = self.records.len();
                let out = self.node_cpu(node, x).await?;
                let fallback = RanOn::cpu_instead_of_gpu(reason);
                for record in &mut self.records[first..] {
                    if let Some(ran_on) = record.ran_on.as_mut().filter(|r| r.backend == BackendKind::Cpu && r.fallback.is_none()) {
                        *ran_on = fallback.clone();
                    }
                }
                self.note_layers(fallback);
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    fn note_layers(&mut self, ran_on: RanOn) {
        if self.layers.as_ref().is_none_or(|r| r.fallback.is_none() && ran_on.fallback.is_some()) {
            self.layers = Some(ran_on);
        }
    }

    /// Runs `nodes` in order on the CPU (boxed: residual blocks recurse).
    fn nodes_cpu<'s>(
        &'s mut self,
        nodes: &'s [Node],
        x: Features,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Features>> + 's>> {
        Box::pin(async move {
            let mut x = x;
            for node in nodes {
                x = self.node_cpu(node, x).await?;
            }
            Ok(x)
        })
    }

    async fn node_cpu(&mut self, node: &Node, x: Features) -> Result<Features> {
        Ok(match node {
            Node::Conv(conv) => {
                check_conv(conv, x.channels)?;
                let (data, height, width) = conv.forward(&x.data, x.height, x.width, self.kernels);
                Features { data, channels: conv.cout, height, width }
            }
            Node::Act(act) => {
                let mut x = x;
                act.apply_on(&mut x.data, self.kernels);
                x
            }
            Node::Pool(pool) => {
                let (data, height, width) = pool.forward(&x.data, x.channels, x.height, x.width);
                Features { data, height, width, ..x }
            }
            Node::Residual { body, shortcut, act, partial } => {
                let skip = if shortcut.is_empty() {
                    Features { data: x.data.clone(), ..x }
                } else {
                    self.nodes_cpu(shortcut, Features { data: x.data.clone(), ..x }).await?
                };
                let mut y = self.nodes_cpu(body, x).await?;
                check_residual(skip.chw(), y.chw(), *partial)?;
                // (1, C, H, W) is channel-major: the first channels are a prefix of the data.
                y.data.iter_mut().zip(&skip.data).for_each(|(v, s)| *v += s);
                act.apply_on(&mut y.data, self.kernels);
                y
            }
            Node::Ghost { primary, cheap, channels } => {
                let p = self.nodes_cpu(primary, x).await?;
                let q = self.nodes_cpu(cheap, Features { data: p.data.clone(), ..p }).await?;
                check_ghost(p.chw(), q.chw(), *channels)?;
                // (1, C, H, W) is channel-major: joining along the channels appends the data.
                let mut data = p.data;
                data.extend_from_slice(&q.data);
                data.truncate(channels * p.height * p.width);
                Features { data, channels: *channels, height: p.height, width: p.width }
            }
            Node::Split { .. } | Node::Fork { .. } => {
                if let Node::Split { parts } = node {
                    check_split(parts, x.channels)?;
                }
                let plane = x.height * x.width;
                let (mut data, mut channels, mut size) = (Vec::new(), 0, None);
                for (range, nodes) in node.paths() {
                    // (1, C, H, W) is channel-major: a group of channels is a run of the data.
                    let input = match range {
                        Some(r) => Features { data: x.data[r.start * plane..r.end * plane].to_vec(), channels: r.len(), ..x },
                        None => Features { data: x.data.clone(), ..x },
                    };
                    let y = self.nodes_cpu(nodes, input).await?;
                    check_split_output(&mut size, (y.height, y.width))?;
                    data.extend_from_slice(&y.data);
                    channels += y.channels;
                }
                let (height, width) = size.unwrap_or((x.height, x.width));
                Features { data, channels, height, width }
            }
            Node::Attention(block) => self.attention(block, x).await?,
            Node::Module { nodes, .. } => self.nodes_cpu(nodes, x).await?,
            Node::GlobalPool => Features { data: global_average(&x.data, x.height * x.width), height: 1, width: 1, ..x },
            Node::SceneStem => {
                let image = Tensor::new(vec![1, x.channels, x.height, x.width], x.data).expect("features of their shape");
                Features::from_tensor(&families::scenes::stem::forward(&families::scenes::image::to_network_side(&image)))
            }
            Node::Head(linear) => {
                let pooled = global_average(&x.data, x.height * x.width);
                check_head(linear, pooled.len())?;
                let data = linear.forward(&pooled);
                Features { channels: data.len(), data, height: 1, width: 1 }
            }
        })
    }

    async fn attention(&mut self, block: &Attention, x: Features) -> Result<Features> {
        let mut record = BlockRecord::new(block, self.off, (x.channels, x.height, x.width));
        let capture = self.capture == Some(block.path.as_str());
        let input = capture.then(|| x.data.clone());
        let y = self.attention_output(block, x.data, x.height, x.width, &mut record).await?;
        // A branch attention joins its branches: fewer channels out than in.
        let channels = y.len() / (x.height * x.width).max(1);
        if let Some(input) = input {
            self.captured = Some((
                Tensor::new(vec![1, x.channels, x.height, x.width], input).expect("features of their shape"),
                Tensor::new(vec![1, channels, x.height, x.width], y.clone()).expect("features of their shape"),
            ));
        }
        self.records.push(record);
        Ok(Features { data: y, channels, ..x })
    }

    /// The block's output for `x` (itself when the block is off), its maps into `record`.
    async fn attention_output(
        &mut self,
        block: &Attention,
        x: Vec<f32>,
        height: usize,
        width: usize,
        record: &mut BlockRecord,
    ) -> Result<Vec<f32>> {
        let channels = x.len() / (height * width);
        let positions = height * width;
        if record.off {
            return Ok(match &block.layer {
                // Off, the branches are averaged: the network keeps its shape.
                AttentionLayer::Branches(b) => {
                    b.check(channels).map_err(|e| at_block(&block.path, e))?;
                    b.forward_on(self.kernels, &x, positions, true).0
                }
                // Off, BoTNet's self-attention weighs every position alike.
                AttentionLayer::Block(Block::Mhsa(m)) if block.replaces_convolution() => {
                    m.uniform(&x, crate::tensor::Dims { n: 1, c: channels, h: height, w: width }).map_err(|e| at_block(&block.path, e))?
                }
                _ => x,
            });
        }
        let y = match &block.layer {
            AttentionLayer::Block(b) => {
                let input = Tensor::new(vec![1, channels, height, width], x).expect("features of their shape");
                // Inside a network a NaN propagates as in PyTorch (a diverged checkpoint).
                let request = MapRequest { propagate_non_finite: true, ..Default::default() };
                let out = self.backend.forward(b, &input, request).await.map_err(|e| at_block(&block.path, e))?;
                record.maps = out.maps;
                record.ran_on = Some(out.ran_on);
                let mut y = out.y.into_data();
                if block.residual {
                    y.iter_mut().zip(input.data()).for_each(|(y, x)| *y += x);
                }
                y
            }
            AttentionLayer::Gate { layers, act, gate } => {
                check_gate(block, channels)?;
                let v = gate_values(layers, *act, *gate, &x, positions, None);
                let mut data = x;
                for (plane, g) in data.chunks_exact_mut(positions).zip(&v) {
                    plane.iter_mut().for_each(|p| *p *= g);
                }
                record.maps.insert("channel", Tensor::new(vec![1, v.len()], v).expect("a gate per channel"));
                record.ran_on = Some(self.backend.layers_ran_on());
                data
            }
            AttentionLayer::Branches(b) => {
                b.check(channels).map_err(|e| at_block(&block.path, e))?;
                let (y, steps) = b.forward_on(self.kernels, &x, positions, false);
                record.maps.insert(
                    "branch",
                    Tensor::new(vec![1, b.branches, b.channels], steps.weights).expect("a weight per branch and channel"),
                );
                record.ran_on = Some(self.backend.layers_ran_on());
                y
            }
        };
        Ok(y)
    }
}

impl BlockRecord {
    /// The record of `block` on its input's `(channels, height, width)`, before it runs: off where
    /// `off` covers it, no maps yet. (The channels are the input's: ECA's weights do not fix them.)
    fn new(block: &Attention, off: &Off, (channels, height, width): (usize, usize, usize)) -> Self {
        BlockRecord {
            path: block.path.clone(),
            kind: block.kind,
            channels,
            grid: (height, width),
            off: off.covers(block),
            maps: BTreeMap::new(),
            ran_on: None,
        }
    }
}

/// Refuses a convolution's input of the wrong width (a builder's mistake, or a checkpoint whose
/// shapes disagree in a way the builder did not see).
fn check_conv(conv: &Conv2d, channels: usize) -> Result<()> {
    if conv.cin != channels {
        return Err(Error::Checkpoint { reason: format!("a convolution takes {} channels but receives {channels}", conv.cin) });
    }
    Ok(())
}

/// A channel gate's values for the features `x` `(C, positions)`: the channel means through
/// `layers`, `act` between them and `gate` after the last. With `steps`, it keeps what the page's
/// how-it-works view shows: the means, the hidden units after `act` (two layers) and the logits.
pub(crate) fn gate_values(
    layers: &[Linear],
    act: Activation,
    gate: Activation,
    x: &[f32],
    positions: usize,
    mut steps: Option<&mut Vec<(&'static str, Vec<f32>)>>,
) -> Vec<f32> {
    let mut keep = |name, v: &[f32]| {
        if let Some(steps) = steps.as_deref_mut() {
            steps.push((name, v.to_vec()));
        }
    };
    let mut v = global_average(x, positions);
    keep("trace.squeeze", &v);
    for (i, layer) in layers.iter().enumerate() {
        v = layer.forward(&v);
        if i + 1 < layers.len() {
            act.apply_in_place(&mut v);
            keep("trace.hidden", &v);
        }
    }
    keep("trace.logits", &v);
    gate.apply_in_place(&mut v);
    v
}

/// Refuses a channel gate whose first layer does not take the features' width.
fn check_gate(block: &Attention, channels: usize) -> Result<()> {
    match &block.layer {
        AttentionLayer::Gate { layers, .. } if layers.first().is_some_and(|l| l.inputs != channels) => Err(Error::Checkpoint {
            reason: format!("{}: the gate takes {} channels but receives {channels}", block.path, layers[0].inputs),
        }),
        _ => Ok(()),
    }
}

/// The shapes `(C, H, W)` of a residual's shortcut and body fit: equal, or where `partial` the
/// shortcut's channels a part of the body's.
fn check_residual(skip: (usize, usize, usize), body: (usize, usize, usize), partial: bool) -> Result<()> {
    let fits = if partial { skip.0 <= body.0 && (skip.1, skip.2) == (body.1, body.2) } else { skip == body };
    if !fits {
        return Err(Error::Checkpoint { reason: "a residual block's two branches differ in shape".into() });
    }
    Ok(())
}

/// A split's groups cover the input's `channels` exactly.
fn check_split(parts: &[(usize, Vec<Node>)], channels: usize) -> Result<()> {
    let total: usize = parts.iter().map(|(c, _)| c).sum();
    if total != channels || parts.is_empty() {
        return Err(Error::Checkpoint { reason: format!("a mixed convolution's groups take {total} channels; it is given {channels}") });
    }
    Ok(())
}

/// Every group of a split gives the same `(H, W)` (the first sets it).
fn check_split_output(size: &mut Option<(usize, usize)>, got: (usize, usize)) -> Result<()> {
    match size {
        Some(s) if *s != got => {
            Err(Error::Checkpoint { reason: format!("a mixed convolution's groups give {} x {} and {} x {}", s.0, s.1, got.0, got.1) })
        }
        _ => {
            *size = Some(got);
            Ok(())
        }
    }
}

/// A ghost module's two parts `(C, H, W)` join: the same size, and `channels` within them.
fn check_ghost(primary: (usize, usize, usize), cheap: (usize, usize, usize), channels: usize) -> Result<()> {
    if (primary.1, primary.2) != (cheap.1, cheap.2) || channels < primary.0 || channels > primary.0 + cheap.0 {
        return Err(Error::Checkpoint {
            reason: format!(
                "a ghost module joins {} and {} channels of {} x {} and {} x {} into {channels}",
                primary.0, cheap.0, primary.1, primary.2, cheap.1, cheap.2
            ),
        });
    }
    Ok(())
}

fn check_head(linear: &Linear, features: usize) -> Result<()> {
    if features != linear.inputs {
        return Err(Error::Checkpoint { reason: format!("the classifier takes {} features but receives {features}", linear.inputs) });
    }
    Ok(())
}

/// An error inside a block, with the block's path.
fn at_block(path: &str, e: Error) -> Error {
    match e {
        Error::BadOption { option, reason } => Error::BadOption { option, reason: format!("{path}: {reason}") },
        Error::Checkpoint { reason } => Error::Checkpoint { reason: format!("{path}: {reason}") },
        other => other,
    }
}
