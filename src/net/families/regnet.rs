//! timm's RegNetX and RegNetY (`timm/models/regnet.py`), from their state-dict names. Widths,
//! group sizes, depths and the SE widths are read off the weights; the rest is the same for every
//! `regnetx_*` and `regnety_*`, so the keys alone tell the family (no `--arch` needed).
//!
//! The structure (facts of timm 1.0's `RegNet` with its default `RegNetCfg`: ReLU, BatchNorm,
//! `conv1x1` downsampling, no pre-activation, no `final_conv`):
//! - stem: `stem.conv` 3x3 stride 2 (padding 1), `stem.bn`, ReLU;
//! - stages `s1` to `s4` of blocks `b1`, `b2`, ...; every stage starts with stride 2 (output
//!   stride 32: the stem's 2, then 2 per stage), in its first block;
//! - block (`Bottleneck`): `conv1.conv` 1x1, `conv1.bn`, ReLU; `conv2.conv` 3x3 with the stride
//!   and groups `width / conv2.weight.shape[1]`, `conv2.bn`, ReLU; `se` (RegNetY; an `SEModule`:
//!   `fc1`, ReLU, `fc2`, sigmoid, both 1x1 with bias, on conv2's output, not after conv3 as in
//!   ResNet); `conv3.conv` 1x1, `conv3.bn` (no activation); + shortcut; ReLU;
//! - shortcut: `downsample.conv` 1x1 with the stride and `downsample.bn` where the block changes
//!   the shape, else the identity (drop-path is the identity in eval);
//! - head: global average pool, `head.fc`.
//!
//! Padding is timm's static `((stride - 1) + (k - 1)) / 2`: 1 for the 3x3s, 0 for the 1x1s.

use super::conv_bn;
use crate::blocks::{Block, BlockKind, BlockOptions};
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Net, Node};

/// Whether `arch` names a model of this family. `regnety_040_sgn` (GroupNorm and SiLU) and the
/// pre-activation `regnetv_*` are other structures.
pub fn takes(arch: &str) -> bool {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    (name.starts_with("regnetx_") || name.starts_with("regnety_")) && !name.contains("sgn")
}

/// Builds the network; `arch` names it in the result.
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    let stem = conv_bn(dict, "stem.conv", "stem.bn", 1, 2, Padding::Explicit(1, 1))?;
    let mut channels = stem.cout;
    let mut nodes = vec![Node::Conv(stem), Node::Act(Activation::Relu)];
    for stage in 1..=4 {
        let prefix = format!("s{stage}");
        let blocks = (1..).take_while(|b| dict.keys().any(|k| k.starts_with(&format!("{prefix}.b{b}.")))).count();
        if blocks == 0 {
            return Err(Error::Checkpoint { reason: format!("the checkpoint has no `{prefix}.b1.*`: not a four-stage RegNet") });
        }
        for b in 1..=blocks {
            let stride = if b == 1 { 2 } else { 1 };
            let path = format!("{prefix}.b{b}");
            let (node, out) = block(dict, &path, channels, stride)?;
            nodes.push(Node::Module { path, nodes: vec![node] });
            channels = out;
        }
    }
    let fc = super::linear(dict, "head.fc")?;
    let classes = fc.bias.len();
    if fc.inputs != channels {
        return Err(Error::Checkpoint {
            reason: format!("`head.fc.weight` takes {} features; the last stage gives {channels}", fc.inputs),
        });
    }
    nodes.push(Node::Head(fc));
    dict.finish("RegNet")?;
    Ok(Net { family: "timm regnet", arch: arch.to_string(), nodes, classes })
}

/// One bottleneck block at `path` taking `channels`; returns it and its output channels.
fn block(dict: &StateDict, path: &str, channels: usize, stride: usize) -> Result<(Node, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    let conv1 = conv_bn(dict, &key("conv1.conv"), &key("conv1.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let width = conv1.cout;
    // `groups = width / group_size`; a shape that divides into no groups is refused by `Conv2d`.
    let per_group = dict.shape(&key("conv2.conv.weight"))?.get(1).copied().unwrap_or(0);
    let groups = if per_group > 0 && width % per_group == 0 { width / per_group } else { 0 };
    let mut body = vec![
        Node::Conv(conv1),
        Node::Act(Activation::Relu),
        Node::Conv(conv_bn(dict, &key("conv2.conv"), &key("conv2.bn"), groups, stride, Padding::Explicit(1, 1))?),
        Node::Act(Activation::Relu),
    ];
    if dict.keys().any(|k| k.starts_with(&key("se."))) {
        body.push(Node::Attention(Box::new(squeeze_excite(dict, &key("se"))?)));
    }
    let conv3 = conv_bn(dict, &key("conv3.conv"), &key("conv3.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let out = conv3.cout;
    body.push(Node::Conv(conv3));
    let shortcut = if dict.contains(&key("downsample.conv.weight")) {
        vec![Node::Conv(conv_bn(dict, &key("downsample.conv"), &key("downsample.bn"), 1, stride, Padding::Explicit(0, 0))?)]
    } else {
        if channels != out || stride != 1 {
            return Err(Error::Checkpoint { reason: format!("`{path}` changes the shape but has no `downsample`") });
        }
        Vec::new()
    };
    Ok((Node::Residual { body, shortcut, act: Activation::Relu, partial: false }, out))
}

/// timm's `SEModule` at `path` (`fc1`, ReLU, `fc2`, sigmoid): the engine's SE block.
fn squeeze_excite(dict: &StateDict, path: &str) -> Result<Attention> {
    if !dict.contains(&format!("{path}.fc1.weight")) {
        let example = dict.keys().find(|k| k.starts_with(&format!("{path}."))).unwrap_or_default().to_string();
        return Err(Error::Checkpoint { reason: format!("`{example}`: an attention layer this engine does not know") });
    }
    let weights = dict.take_under(&format!("{path}."));
    let block = Block::load(BlockKind::Se, &weights, &BlockOptions::default()).map_err(|e| match e {
        Error::MissingKey { key, .. } => Error::Checkpoint { reason: format!("{path}: missing `{path}.{key}`") },
        other => other,
    })?;
    Ok(Attention { path: path.to_string(), kind: "se", layer: AttentionLayer::Block(block), residual: false })
}
