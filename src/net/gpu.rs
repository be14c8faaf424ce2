//! A network's top-level node (the stem's layers, one module, the head) as one pass on the GPU:
//! every layer and attention block is recorded into one [`Graph`] of WGSL dispatches
//! (`gpu::kernels::layers` for the layers, each block's own `record_gpu`), then run with one
//! submission; the node's output, every block's maps and a captured block's features are read
//! back together. The CPU path in [`super::State`] is the reference it is tested against
//! (`tests/net.rs` on lavapipe, `tests/web_gpu.rs` in Chromium).

use super::{
    Attention, AttentionLayer, BlockRecord, Features, Node, Off, check_conv, check_ghost, check_head, check_residual, check_split,
    check_split_output,
};
use crate::blocks::{Block, MapRequest};
use crate::error::Result;
use crate::gpu::GpuDevice;
use crate::gpu::graph::{GpuTensor, Graph};
use crate::gpu::kernels::gates::{BranchWeights, Gating, apply_gates, select_branches};
use crate::gpu::kernels::layers::{activate, conv2d, linear, pool2d};
use crate::gpu::kernels::pooling::{ChannelReduction, channel_reduce};
use crate::gpu::kernels::slice::{concat, slice};
use crate::layers::Activation;
use crate::tensor::{Dims, Tensor};

/// What [`node`] gives back: the node's output, its blocks' records (maps read back) and the
/// captured block's `(input, output)`.
pub(crate) struct NodeRun {
    pub out: Features,
    pub records: Vec<BlockRecord>,
    pub captured: Option<(Tensor, Tensor)>,
}

/// Features on the device: one image, `(channels, height, width)`.
#[derive(Clone)]
struct OnDevice {
    t: GpuTensor,
    channels: usize,
    height: usize,
    width: usize,
}

impl OnDevice {
    /// `(C, H, W)`.
    fn chw(&self) -> (usize, usize, usize) {
        (self.channels, self.height, self.width)
    }

    fn dims(&self) -> Dims {
        Dims { n: 1, c: self.channels, h: self.height, w: self.width }
    }
}

/// The maps one block asked to read: `(name, shape of one image's map, tensor)`.
type MapReads = Vec<(&'static str, Vec<usize>, GpuTensor)>;

struct Recorder<'a, 'g> {
    g: &'a mut Graph<'g>,
    device: &'a GpuDevice,
    off: &'a Off,
    capture: Option<&'a str>,
    records: Vec<(BlockRecord, MapReads)>,
    captured: Option<(OnDevice, GpuTensor)>,
}

/// Runs `node` on `x` on the device, the blocks `off` covers as the identity, keeping the input
/// and output of the block at `capture`. A device failure is [`crate::Error::GpuFailed`], for the
/// caller to run the node on the CPU instead; a network that does not fit together fails as on the
/// CPU.
pub(crate) async fn node(device: &GpuDevice, node: &Node, x: &Features, off: &Off, capture: Option<&str>) -> Result<NodeRun> {
    let mut g = device.graph();
    let input = g.upload(&x.data)?;
    let mut recorder = Recorder { g: &mut g, device, off, capture, records: Vec::new(), captured: None };
    let out = recorder.node(node, OnDevice { t: input, channels: x.channels, height: x.height, width: x.width })?;
    let Recorder { records, captured, .. } = recorder;
    g.read(&out.t);
    for (_, maps) in &records {
        maps.iter().for_each(|(_, _, t)| g.read(t));
    }
    if let Some((input, output)) = &captured {
        g.read(&input.t);
        g.read(output);
    }
    let mut data = g.run().await?.into_iter();
    let mut next = || data.next().expect("every tensor asked for was read");
    let features = Features { data: next(), channels: out.channels, height: out.height, width: out.width };
    let records = records
        .into_iter()
        .map(|(mut record, maps)| {
            for (name, shape, _) in maps {
                let mut full = vec![1];
                full.extend(shape);
                record.maps.insert(name, Tensor::new(full, next()).expect("a map has its declared shape"));
            }
            record
        })
        .collect();
    let captured = captured.map(|(input, _)| {
        let input_data = next();
        let output_data = next();
        // A branch attention's output has fewer channels than its input.
        let channels = output_data.len() / (input.height * input.width).max(1);
        (
            Tensor::new(vec![1, input.channels, input.height, input.width], input_data).expect("features of their shape"),
            Tensor::new(vec![1, channels, input.height, input.width], output_data).expect("features of their shape"),
        )
    });
    Ok(NodeRun { out: features, records, captured })
}

impl Recorder<'_, '_> {
    /// Records `nodes` in order, a convolution and the activation after it as one dispatch.
    fn nodes(&mut self, nodes: &[Node], x: OnDevice) -> Result<OnDevice> {
        let mut x = x;
        let mut i = 0;
        while i < nodes.len() {
            x = match (&nodes[i], nodes.get(i + 1)) {
                (Node::Conv(conv), Some(Node::Act(act))) => {
                    i += 1;
                    self.conv(conv, x, *act)?
                }
                (node, _) => self.node(node, x)?,
            };
            i += 1;
        }
        Ok(x)
    }

    fn conv(&mut self, conv: &super::layers::Conv2d, x: OnDevice, act: Activation) -> Result<OnDevice> {
        check_conv(conv, x.channels)?;
        let (t, (height, width)) = conv2d(self.g, conv, &x.t, (x.height, x.width), act)?;
        Ok(OnDevice { t, channels: conv.cout, height, width })
    }

    fn node(&mut self, node: &Node, x: OnDevice) -> Result<OnDevice> {
        Ok(match node {
            Node::Conv(conv) => self.conv(conv, x, Activation::Identity)?,
            Node::Act(act) => OnDevice { t: activate(self.g, &x.t, None, *act)?, ..x },
            Node::Pool(pool) => {
                let (t, (height, width)) = pool2d(self.g, pool, &x.t, x.channels, (x.height, x.width))?;
                OnDevice { t, height, width, ..x }
            }
            Node::Residual { body, shortcut, act, partial } => {
                let skip = if shortcut.is_empty() { x.clone() } else { self.nodes(shortcut, x.clone())? };
                let y = self.nodes(body, x)?;
                check_residual(skip.chw(), y.chw(), *partial)?;
                // (1, C, H, W) is channel-major: a shortcut of fewer channels adds to a prefix.
                let skip = skip.t;
                OnDevice { t: activate(self.g, &y.t, Some(&skip), *act)?, ..y }
            }
            Node::Ghost { primary, cheap, channels } => {
                let p = self.nodes(primary, x)?;
                let q = self.nodes(cheap, p.clone())?;
                check_ghost(p.chw(), q.chw(), *channels)?;
                let t = concat(self.g, &p.t, &q.t, channels * p.height * p.width)?;
                OnDevice { t, channels: *channels, ..p }
            }
            Node::Split { .. } | Node::Fork { .. } => {
                if let Node::Split { parts } = node {
                    check_split(parts, x.channels)?;
                }
                let positions = x.height * x.width;
                let mut joined: Option<OnDevice> = None;
                let mut size = None;
                for (range, nodes) in node.paths() {
                    let input = match range {
                        Some(r) => {
                            let t = slice(self.g, &x.t, x.channels, positions, r.clone(), 0..positions)?;
                            OnDevice { t, channels: r.len(), ..x.clone() }
                        }
                        None => x.clone(),
                    };
                    let y = self.nodes(nodes, input)?;
                    check_split_output(&mut size, (y.height, y.width))?;
                    joined = Some(match joined {
                        None => y,
                        Some(a) => OnDevice { t: concat(self.g, &a.t, &y.t, a.t.len + y.t.len)?, channels: a.channels + y.channels, ..y },
                    });
                }
                // `check_split` refused a split of no groups; a fork always has paths.
                joined.ok_or_else(|| crate::Error::Checkpoint {
                    reason: format!("a mixed convolution's groups take 0 channels; it is given {}", x.channels),
                })?
            }
            Node::Attention(block) => self.attention(block, x)?,
            Node::Module { nodes, .. } => self.nodes(nodes, x)?,
            Node::GlobalPool => {
                let t = channel_reduce(self.g, &x.t, x.channels, x.height * x.width, ChannelReduction::Mean)?;
                OnDevice { t, height: 1, width: 1, ..x }
            }
            Node::SceneStem => {
                // `State::node` runs the fixed stem on the CPU before it gets here.
                return Err(crate::Error::GpuFailed("the scenes network's stem has no GPU kernel".into()));
            }
            Node::Head(layer) => {
                check_head(layer, x.channels)?;
                let pooled = channel_reduce(self.g, &x.t, x.channels, x.height * x.width, ChannelReduction::Mean)?;
                let t = linear(self.g, layer, &pooled)?;
                OnDevice { channels: t.len, t, height: 1, width: 1 }
            }
        })
    }

    fn attention(&mut self, block: &Attention, x: OnDevice) -> Result<OnDevice> {
        let mut record = BlockRecord::new(block, self.off, (x.channels, x.height, x.width));
        let mut maps = MapReads::new();
        let positions = x.height * x.width;
        let y = if record.off {
            match &block.layer {
                // Off, the branches are averaged: the network keeps its shape.
                AttentionLayer::Branches(b) => {
                    b.check(x.channels).map_err(|e| super::at_block(&block.path, e))?;
                    select_branches(self.g, &x.t, b.branches, b.channels, positions, BranchWeights::Uniform)?.0
                }
                // Off, BoTNet's self-attention weighs every position alike.
                AttentionLayer::Block(Block::Mhsa(m)) if block.replaces_convolution() => {
                    m.record_uniform_gpu(self.g, &x.t, x.dims()).map_err(|e| super::at_block(&block.path, e))?
                }
                _ => x.t.clone(),
            }
        } else {
            record.ran_on = Some(self.device.ran_on());
            match &block.layer {
                AttentionLayer::Block(b) => {
                    b.check_dims(x.dims()).map_err(|e| super::at_block(&block.path, e))?;
                    let out = b.record_gpu(self.g, &x.t, x.dims(), MapRequest::default()).map_err(|e| super::at_block(&block.path, e))?;
                    maps = out.maps;
                    if block.residual { activate(self.g, &out.y, Some(&x.t), Activation::Identity)? } else { out.y }
                }
                AttentionLayer::Gate { layers, act, gate } => {
                    super::check_gate(block, x.channels)?;
                    let positions = x.height * x.width;
                    let mut v = channel_reduce(self.g, &x.t, x.channels, positions, ChannelReduction::Mean)?;
                    for (i, layer) in layers.iter().enumerate() {
                        v = linear(self.g, layer, &v)?;
                        let after = if i + 1 < layers.len() { *act } else { *gate };
                        v = activate(self.g, &v, None, after)?;
                    }
                    maps.push(("channel", vec![v.len], v.clone()));
                    apply_gates(self.g, &x.t, x.channels, positions, Gating::Channel(&v))?
                }
                AttentionLayer::Branches(b) => {
                    b.check(x.channels).map_err(|e| super::at_block(&block.path, e))?;
                    // The squeeze: each branch's channel means, summed over the branches inside
                    // the reduction (its weights repeated once per branch).
                    let means = channel_reduce(self.g, &x.t, x.channels, positions, ChannelReduction::Mean)?;
                    let reduced = linear(self.g, &b.reduce_over_branches, &means)?;
                    let hidden = activate(self.g, &reduced, None, b.act)?;
                    let logits = linear(self.g, &b.select, &hidden)?;
                    let weighing = if b.softmax { BranchWeights::Softmax(&logits) } else { BranchWeights::Sigmoid(&logits) };
                    let (y, weights) = select_branches(self.g, &x.t, b.branches, b.channels, positions, weighing)?;
                    maps.push(("branch", vec![b.branches, b.channels], weights));
                    y
                }
            }
        };
        let channels = y.len / positions.max(1);
        if self.capture == Some(block.path.as_str()) {
            self.captured = Some((x.clone(), y.clone()));
        }
        self.records.push((record, maps));
        Ok(OnDevice { t: y, channels, ..x })
    }
}
