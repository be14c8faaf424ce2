//! timm's ReXNet (`timm/models/rexnet.py`, Han et al. 2020, "ReXNet: Diminishing Representational
//! Bottleneck on Convolutional Neural Network"), from its state-dict names. Widths, expansions and
//! the SE widths are read off the weights; the strides are those of timm's `_block_cfg` at depth
//! multiplier 1, which every `rexnet_*` and `rexnetr_*` uses, so the keys tell the family.
//!
//! The structure (facts of timm 1.0's `RexNet`, swish = SiLU):
//! - stem: `stem.conv` 3x3 stride 2 (padding 1), `stem.bn`, SiLU;
//! - `features.0` to `features.15` (`LinearBottleneck`), stage lengths 1, 2, 2, 3, 3, 5 with
//!   stride 2 in the first block of stages 2, 3, 4 and 6: `conv_exp` 1x1 + `bn` + SiLU (absent in
//!   the first block, whose expansion is 1); `conv_dw` 3x3 depthwise with the stride + `bn` (no
//!   activation); `se` where present; ReLU6; `conv_pwl` 1x1 + `bn` (no activation); where the
//!   stride is 1 (the widths never shrink) the input is added to the output's first channels:
//!   `cat([y[:, :C_in] + x, y[:, C_in:]])`;
//! - SE (`SEModule` with `norm_layer=BatchNorm2d`): `x * sigmoid(fc2(relu(bn(fc1(mean(x))))))`;
//!   the BatchNorm is folded into `fc1`, so the engine's SE block computes it (its `fc1` map is
//!   `bn(fc1(.))`);
//! - `features.16`: `conv` 1x1 + `bn` + SiLU; head: global average pool, `head.fc`.

use super::{conv, conv_bn};
use crate::blocks::{Block, BlockKind, BlockOptions};
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Net, Node};
use crate::tensor::Tensor;
use crate::weights::Weights;

/// The blocks whose depthwise convolution has stride 2 (`_block_cfg`'s strides 1, 2, 2, 2, 1, 2
/// over stages of 1, 2, 2, 3, 3, 5 blocks).
const STRIDE_2: [usize; 4] = [1, 3, 5, 11];
const BLOCKS: usize = 16;

/// Whether `arch` names a model of this family.
pub fn takes(arch: &str) -> bool {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    name.starts_with("rexnet_") || name.starts_with("rexnetr_")
}

/// Whether the keys are a ReXNet's.
pub fn looks_like(dict: &StateDict) -> bool {
    dict.contains("stem.conv.weight") && dict.contains("features.0.conv_dw.conv.weight") && dict.contains("head.fc.weight")
}

/// Builds the network; `arch` names it in the result.
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    let stem = conv_bn(dict, "stem.conv", "stem.bn", 1, 2, Padding::Explicit(1, 1))?;
    let mut channels = stem.cout;
    let mut nodes = vec![Node::Conv(stem), Node::Act(Activation::Silu)];
    let blocks = (0..).take_while(|b| dict.contains(&format!("features.{b}.conv_dw.conv.weight"))).count();
    if blocks != BLOCKS {
        return Err(Error::Checkpoint {
            reason: format!(
                "the checkpoint has {blocks} bottleneck blocks; timm's ReXNets (depth multiplier 1) have {BLOCKS}, whose strides this knows"
            ),
        });
    }
    for b in 0..BLOCKS {
        let path = format!("features.{b}");
        let stride = if STRIDE_2.contains(&b) { 2 } else { 1 };
        let (block, out) = bottleneck(dict, &path, channels, stride)?;
        nodes.push(Node::Module { path, nodes: block });
        channels = out;
    }
    let last = format!("features.{BLOCKS}");
    let conv = conv_bn(dict, &format!("{last}.conv"), &format!("{last}.bn"), 1, 1, Padding::Explicit(0, 0))?;
    channels = conv.cout;
    nodes.push(Node::Module { path: last, nodes: vec![Node::Conv(conv), Node::Act(Activation::Silu)] });
    let fc = super::linear(dict, "head.fc")?;
    if fc.inputs != channels {
        return Err(Error::Checkpoint {
            reason: format!("`head.fc.weight` takes {} features; the last stage gives {channels}", fc.inputs),
        });
    }
    let classes = fc.bias.len();
    nodes.push(Node::Head(fc));
    dict.finish("ReXNet")?;
    Ok(Net { family: "timm rexnet", arch: arch.to_string(), nodes, classes })
}

/// One `LinearBottleneck` at `path` taking `channels`; returns its nodes and its output channels.
fn bottleneck(dict: &StateDict, path: &str, channels: usize, stride: usize) -> Result<(Vec<Node>, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    let mut body = Vec::new();
    let mut width = channels;
    if dict.contains(&key("conv_exp.conv.weight")) {
        let exp = conv_bn(dict, &key("conv_exp.conv"), &key("conv_exp.bn"), 1, 1, Padding::Explicit(0, 0))?;
        width = exp.cout;
        body.extend([Node::Conv(exp), Node::Act(Activation::Silu)]);
    }
    body.push(Node::Conv(conv_bn(dict, &key("conv_dw.conv"), &key("conv_dw.bn"), width, stride, Padding::Explicit(1, 1))?));
    if dict.keys().any(|k| k.starts_with(&key("se."))) {
        body.push(Node::Attention(Box::new(se_with_norm(dict, &key("se"))?)));
    }
    body.push(Node::Act(Activation::Relu6));
    let pwl = conv_bn(dict, &key("conv_pwl.conv"), &key("conv_pwl.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let out = pwl.cout;
    body.push(Node::Conv(pwl));
    if stride == 1 && channels <= out {
        return Ok((vec![Node::Residual { body, shortcut: Vec::new(), act: Activation::Identity, partial: true }], out));
    }
    Ok((body, out))
}

/// timm's `SEModule` with a BatchNorm after `fc1` at `path`, as the engine's SE block: the
/// BatchNorm `bn` folded into `fc1` as into any convolution ([`crate::layers::Conv2d::fold`]).
fn se_with_norm(dict: &StateDict, path: &str) -> Result<Attention> {
    let key = |name: &str| format!("{path}.{name}");
    let fc1 = conv(dict, &key("fc1"), 1, 1, Padding::Explicit(0, 0))?;
    let norm = dict.batchnorm(&key("bn"), fc1.cout)?;
    let fc1 = fc1.fold(&norm);
    let tensor = |shape: Vec<usize>, data: Vec<f32>| {
        Tensor::new(shape, data).ok_or_else(|| Error::Checkpoint { reason: format!("{path}.fc1: a weight of the wrong length") })
    };
    let mut tensors = vec![
        ("fc1.weight".to_string(), tensor(vec![fc1.cout, fc1.cin, fc1.kernel.0, fc1.kernel.1], fc1.weight)?),
        ("fc1.bias".to_string(), tensor(vec![fc1.cout], fc1.bias)?),
    ];
    for name in ["fc2.weight", "fc2.bias"] {
        tensors.push((name.to_string(), dict.take(&key(name))?));
    }
    let block =
        Block::load(BlockKind::Se, &Weights::from_tensors(tensors), &BlockOptions::default()).map_err(|e| crate::net::at_block(path, e))?;
    Ok(Attention { path: path.to_string(), kind: "se", layer: AttentionLayer::Block(block), residual: false })
}
