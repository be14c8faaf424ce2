//! A network held open on one photo, as the page and `net --image` use it: the run with every
//! block on is kept, and so is the last run with blocks off, each with the features at the input
//! of every top-level node (stem, each module, head). Switching a block off or on then re-runs
//! only from the module that holds the first block whose state changed; a block's input and
//! output features and a Non-local block's attention rows come from one module's re-run.
//!
//! The results are the same numbers as [`Net::run`]'s: the same nodes run on the same inputs.

use std::rc::Rc;

use super::{BlockRecord, Features, Net, NetRun, Off, State};
use crate::backend::{AnyBackend, AttentionRow, RanOn};
use crate::blocks::BlockKind;
use crate::error::{Error, Result};
use crate::simd::Kernels;
use crate::tensor::Tensor;

/// The time a stage took in one [`Session::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct StageTime {
    /// `stem`, `layer3`, `blocks.2`, `head`: [`Net::stages`].
    pub stage: String,
    /// Milliseconds, by the session's clock; 0 where every node of it was reused.
    pub ms: f64,
    /// Whether its features were reused from an earlier run instead of computed.
    pub reused: bool,
}

/// What [`Session::run`] returns.
#[derive(Debug, Clone)]
pub struct SessionRun {
    /// The logits `(1, classes)` and every block's record, with the blocks `off` covers off.
    pub run: NetRun,
    /// Per stage, in order.
    pub stages: Vec<StageTime>,
    /// The first top-level node computed (0: the whole network ran; the node count: nothing did).
    pub resumed_at: usize,
}

/// A block's steps in a network: [`Session::trace`].
#[derive(Debug, Clone)]
pub struct NetTrace {
    /// Whose steps these are, as the page names them: the engine block's kind (`se`, `cbam`,
    /// `nl`, ...), `se` for a channel gate, `sk` or `splat` for a branch attention.
    pub kind: &'static str,
    /// The engine block, where the network's block is one (CBAM's kernel is read off it).
    pub block: Option<crate::blocks::Block>,
    /// A channel gate's activation between its layers, and its gate.
    pub activations: Option<(super::layers::Activation, super::layers::Activation)>,
    /// The block's output with its `trace.*` maps beside its gates.
    pub out: crate::blocks::BlockOutput,
}

/// One run's features and records, per top-level node.
struct Cached {
    /// Which blocks (in order of depth) were off.
    mask: Vec<bool>,
    /// The input of each top-level node, and the network's output last.
    inputs: Vec<Rc<Features>>,
    /// The records of each top-level node's blocks.
    records: Vec<Rc<Vec<BlockRecord>>>,
    ms: Vec<f64>,
    /// Where each top-level node's layers ran.
    layers: Vec<RanOn>,
}

/// A network and its cached runs on the current input.
pub struct Session {
    pub net: Net,
    stages: Vec<String>,
    /// For each attention block in order of depth, the top-level node that holds it.
    block_node: Vec<usize>,
    /// The input the caches belong to: shape and values.
    input: Option<Tensor>,
    /// The run with every block on, and the last run with some off.
    full: Option<Cached>,
    partial: Option<Cached>,
    /// Which of the two the last [`Session::run`] returned (true: `full`).
    last_full: bool,
}

impl Session {
    pub fn new(net: Net) -> Self {
        let mut block_node = Vec::new();
        for (i, node) in net.nodes.iter().enumerate() {
            block_node.extend(std::iter::repeat_n(i, node.attention_count()));
        }
        let stages = net.stages();
        Session { net, stages, block_node, input: None, full: None, partial: None, last_full: true }
    }

    /// Runs `x` `(1, 3, H, W)` with the blocks `off` covers off, reusing what an earlier run on
    /// the same `x` computed. `clock` gives milliseconds (`performance.now()` in the page).
    pub async fn run(
        &mut self,
        backend: &AnyBackend,
        kernels: Kernels,
        x: &Tensor,
        off: &Off,
        clock: &dyn Fn() -> f64,
    ) -> Result<SessionRun> {
        let dims = x.dims4()?;
        if dims.n != 1 || dims.c != 3 {
            return Err(Error::InputShape {
                expected: "(1, 3, H, W): one RGB image".into(),
                found: crate::error::Shape(x.shape().to_vec()),
            });
        }
        x.check_finite()?;
        if self.input.as_ref() != Some(x) {
            self.input = Some(x.clone());
            self.full = None;
            self.partial = None;
        }
        let blocks = self.net.attention_blocks();
        let mask: Vec<bool> = blocks.iter().map(|b| off.covers(b)).collect();
        let everything_on = !mask.iter().any(|&m| m);
        // Where each cache stops being valid: the module of the first block whose state differs.
        let valid_until = |cached: &Option<Cached>| -> Option<usize> {
            let cached = cached.as_ref()?;
            let first = mask.iter().zip(&cached.mask).position(|(a, b)| a != b);
            Some(first.map_or(self.net.nodes.len(), |b| self.block_node[b]))
        };
        let (from_full, start) = match (valid_until(&self.full), valid_until(&self.partial)) {
            (Some(f), Some(p)) if p > f => (false, p),
            (Some(f), _) => (true, f),
            (None, Some(p)) => (false, p),
            (None, None) => (true, 0),
        };
        let base = if from_full { &self.full } else { &self.partial };
        let n = self.net.nodes.len();
        let mut inputs: Vec<Rc<Features>> = Vec::with_capacity(n + 1);
        let mut records: Vec<Rc<Vec<BlockRecord>>> = Vec::with_capacity(n);
        let mut ms = Vec::with_capacity(n);
        let mut layers = Vec::with_capacity(n);
        match base {
            Some(cached) if start > 0 => {
                inputs.extend(cached.inputs[..=start.min(n)].iter().cloned());
                records.extend(cached.records[..start.min(n)].iter().cloned());
                ms.extend(std::iter::repeat_n(0.0, start.min(n)));
                layers.extend(cached.layers[..start.min(n)].iter().cloned());
            }
            _ => inputs.push(Rc::new(Features { data: x.data().to_vec(), channels: 3, height: dims.h, width: dims.w })),
        }
        let start = start.min(n).min(inputs.len() - 1);
        inputs.truncate(start + 1);
        records.truncate(start);
        ms.truncate(start);
        layers.truncate(start);
        for node in &self.net.nodes[start..] {
            let begin = clock();
            let mut state = State::new(kernels, backend, off);
            let features = Features::clone(inputs.last().expect("the node's input"));
            let out = state.node(node, features).await?;
            inputs.push(Rc::new(out));
            layers.push(state.layers.take().unwrap_or_else(|| backend.layers_ran_on()));
            records.push(Rc::new(state.records));
            ms.push(clock() - begin);
        }
        let out = inputs.last().expect("the network's output");
        if out.data.len() != self.net.classes {
            return Err(Error::Checkpoint {
                reason: format!("the network ends in {} values, not {} logits", out.data.len(), self.net.classes),
            });
        }
        let cached = Cached { mask, inputs, records, ms, layers };
        let result = self.result(&cached, start);
        if everything_on {
            self.full = Some(cached);
        } else {
            self.partial = Some(cached);
        }
        self.last_full = everything_on;
        Ok(result)
    }

    fn result(&self, cached: &Cached, start: usize) -> SessionRun {
        let out = cached.inputs.last().expect("the network's output");
        let logits = Tensor::new(vec![1, self.net.classes], out.data.clone()).expect("logits of their shape");
        let blocks = cached.records.iter().flat_map(|r| r.iter().cloned()).collect();
        let mut stages: Vec<StageTime> = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let reused = i < start;
            match stages.last_mut() {
                Some(last) if &last.stage == stage => {
                    last.ms += cached.ms[i];
                    last.reused &= reused;
                }
                _ => stages.push(StageTime { stage: stage.clone(), ms: cached.ms[i], reused }),
            }
        }
        let layers = RanOn::telling(&cached.layers).cloned().unwrap_or_else(RanOn::cpu);
        SessionRun { run: NetRun { logits, blocks, layers }, stages, resumed_at: start }
    }

    /// The last run's cache.
    fn last(&self) -> Result<&Cached> {
        let cached = if self.last_full { &self.full } else { &self.partial };
        cached.as_ref().ok_or_else(|| Error::BadOption { option: "network", reason: "run an image first".into() })
    }

    /// The top-level node holding the block at `path`, and the block.
    fn find(&self, path: &str) -> Result<(usize, &super::Attention)> {
        let blocks = self.net.attention_blocks();
        let b = blocks
            .iter()
            .position(|b| b.path == path)
            .ok_or_else(|| Error::BadOption { option: "block", reason: format!("`{path}` is no attention block of this network") })?;
        Ok((self.block_node[b], blocks[b]))
    }

    /// The engine block at `path`, where it has attention rows (Non-local).
    fn with_rows(&self, path: &str) -> Result<crate::blocks::Block> {
        let (_, block) = self.find(path)?;
        match &block.layer {
            super::AttentionLayer::Block(b) if matches!(b.kind(), BlockKind::NonLocal | BlockKind::Mhsa) => Ok(b.clone()),
            _ => Err(Error::BadOption {
                option: "block",
                reason: format!("`{path}` is a {} block, which has no attention rows (Non-local blocks have)", block.kind),
            }),
        }
    }

    /// The input and output features `(1, C, H, W)` of the block at `path` in the last run
    /// (equal where the block was off); re-runs the one module that holds it.
    pub async fn features(&self, backend: &AnyBackend, kernels: Kernels, path: &str) -> Result<(Tensor, Tensor)> {
        let (node, _) = self.find(path)?;
        let cached = self.last()?;
        let off = Off(self.net.attention_blocks().iter().zip(&cached.mask).filter(|(_, m)| **m).map(|(b, _)| b.path.clone()).collect());
        let mut state = State::new(kernels, backend, &off).capturing(path);
        state.node(&self.net.nodes[node], Features::clone(&cached.inputs[node])).await?;
        state.captured.ok_or_else(|| Error::BadOption { option: "block", reason: format!("`{path}` did not run") })
    }

    /// [`crate::analysis::query_independence`] of the Non-local block at `path` in the last run,
    /// with a `side x side` grid of queries.
    pub async fn query_independence(
        &self,
        backend: &AnyBackend,
        kernels: Kernels,
        path: &str,
        side: usize,
    ) -> Result<crate::analysis::QueryIndependence> {
        let (_, block) = self.find(path)?;
        let super::AttentionLayer::Block(engine_block) = &block.layer else {
            return Err(Error::BadOption {
                option: "block",
                reason: format!("`{path}` is a {} block, which has no attention rows", block.kind),
            });
        };
        let engine_block = engine_block.clone();
        let (input, _) = self.features(backend, kernels, path).await?;
        let side = side.min(input.shape()[2]).min(input.shape()[3]);
        crate::analysis::query_independence(backend, &engine_block, &input, side).await
    }

    /// The steps of the block at `path` in the last run ([`crate::blocks::MapRequest::trace`]),
    /// Non-local and MHSA at feature position (`fx`, `fy`) of the block's grid. An engine block
    /// traces on `backend`; a channel gate (timm's `SqueezeExcite`, `EffectiveSEModule`,
    /// torchvision's `SqueezeExcitation`) gives SE's steps, `trace.squeeze (1, C)`, `trace.hidden
    /// (1, rd)` after its activation where it has two layers, `trace.logits (1, C)` and its gate,
    /// computed by the plain code from the features the block received.
    pub async fn trace(&self, backend: &AnyBackend, kernels: Kernels, path: &str, (fx, fy): (usize, usize)) -> Result<NetTrace> {
        let (_, block) = self.find(path)?;
        let (input, _) = self.features(backend, kernels, path).await?;
        let (c, h, w) = (input.shape()[1], input.shape()[2], input.shape()[3]);
        check_cell(path, (fx, fy), (w, h))?;
        match &block.layer {
            super::AttentionLayer::Block(b) => {
                let request =
                    crate::blocks::MapRequest { trace: true, query: fy * w + fx, propagate_non_finite: true, ..Default::default() };
                let out = backend.forward(b, &input, request).await?;
                // A block in a convolution's place (BoTNet's self-attention) by the network's
                // name for it; the others by the engine's (`nonlocal`, `mhsa`).
                let kind = if block.replaces_convolution() { block.kind } else { b.kind().name() };
                Ok(NetTrace { kind, block: Some(b.clone()), activations: None, out })
            }
            super::AttentionLayer::Gate { layers, act, gate } => {
                super::check_gate(block, c)?;
                let mut steps = Vec::new();
                let v = super::gate_values(layers, *act, *gate, input.data(), h * w, Some(&mut steps));
                let y = crate::blocks::scale_channels(input.data(), &v, h * w);
                steps.push(("channel", v));
                let maps = steps.into_iter().map(|(name, v)| (name, Tensor::new(vec![1, v.len()], v).expect("a vector"))).collect();
                let y = Tensor::new(input.shape().to_vec(), y).expect("y has the shape of the input");
                let out = crate::blocks::BlockOutput { y, maps, ran_on: RanOn::cpu() };
                Ok(NetTrace { kind: BlockKind::Se.name(), block: None, activations: Some((*act, *gate)), out })
            }
            super::AttentionLayer::Branches(b) => {
                b.check(c).map_err(|e| super::at_block(path, e))?;
                let positions = h * w;
                let (y, steps) = b.forward(input.data(), positions, false);
                let (r, ch) = (b.branches, b.channels);
                let vector = |v: Vec<f32>| Tensor::new(vec![1, v.len()], v).expect("a vector");
                let per_branch = |v: Vec<f32>| Tensor::new(vec![1, r, ch], v).expect("a value per branch and channel");
                let maps = [
                    ("trace.squeeze", vector(steps.squeeze)),
                    ("trace.hidden", vector(steps.hidden)),
                    ("trace.logits", per_branch(steps.logits)),
                    ("branch", per_branch(steps.weights)),
                ]
                .into_iter()
                .collect();
                let y = Tensor::new(vec![1, ch, h, w], y).expect("y of its shape");
                let out = crate::blocks::BlockOutput { y, maps, ran_on: RanOn::cpu() };
                Ok(NetTrace { kind: block.kind, block: None, activations: None, out })
            }
        }
    }

    /// The attention row of feature position (`fx`, `fy`) on the block's grid of the Non-local
    /// block at `path`, in the last run.
    pub async fn attention_row(
        &self,
        backend: &AnyBackend,
        kernels: Kernels,
        path: &str,
        (fx, fy): (usize, usize),
    ) -> Result<AttentionRow> {
        let engine_block = self.with_rows(path)?;
        let (input, _) = self.features(backend, kernels, path).await?;
        let (h, w) = (input.shape()[2], input.shape()[3]);
        check_cell(path, (fx, fy), (w, h))?;
        backend.attention_row(&engine_block, &input, fy * w + fx).await
    }
}

/// Refuses a feature cell outside the `(w, h)` grid of the block at `path`.
fn check_cell(path: &str, (fx, fy): (usize, usize), (w, h): (usize, usize)) -> Result<()> {
    if fx >= w || fy >= h {
        return Err(Error::BadOption { option: "query", reason: format!("({fx}, {fy}) is outside the {w} x {h} grid of `{path}`") });
    }
    Ok(())
}
