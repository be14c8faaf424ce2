//! timm's GhostNet (`timm/models/ghostnet.py`, version 1: `ghostnet_050`, `_100`, `_130`; Han et al.
//! 2020, "GhostNet: More Features from Cheap Operations"), from its state-dict names. Widths,
//! kernel sizes, strides (a block has `conv_dw` exactly where its stride is 2) and the SE layers
//! are read off the weights, so the keys tell the family.
//!
//! The structure (facts of timm 1.0):
//! - stem: `conv_stem` 3x3 stride 2 (padding 1), `bn1`, ReLU;
//! - `blocks.S.B` (`GhostBottleneck`): `ghost1` (ReLU); where the stride is 2, `conv_dw` k x k
//!   depthwise with padding `(k - 1) / 2` and `bn_dw` (no activation); `se` where present;
//!   `ghost2` (no activation); plus the shortcut: the identity where the widths match at stride
//!   1, else `shortcut.0` k x k depthwise with the stride, `shortcut.1` BatchNorm, `shortcut.2`
//!   1x1, `shortcut.3` BatchNorm; no activation after the sum;
//! - ghost module (`GhostModule`, ratio 2): `primary_conv.0` 1x1 + `primary_conv.1` BatchNorm +
//!   act, then `cheap_operation.0` 3x3 depthwise (padding 1) + `.1` BatchNorm + act on that;
//!   `cat([primary, cheap])[:, :out]`, `out` the width its consumer takes;
//! - SE (`SqueezeExcite`): `x * hard_sigmoid(conv_expand(relu(conv_reduce(mean(x)))))`;
//! - the last stage `blocks.9.0` (`ConvBnAct`): `conv` 1x1, `bn1`, ReLU;
//! - head: global average pool, `conv_head` 1x1 with bias, ReLU, `classifier`.
//!
//! GhostNetV2 (`ghostnetv2_*`: DFC attention, `short_conv`) and V3 (re-parameterised branches) are
//! other structures and are refused by name.

use super::{channel_gate, conv, conv_bn};
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding};
use crate::net::checkpoint::StateDict;
use crate::net::{Net, Node};

/// Whether `arch` names a model of this family (version 1).
pub fn takes(arch: &str) -> bool {
    arch.strip_prefix("timm.").unwrap_or(arch).starts_with("ghostnet_")
}

/// Whether the keys are a GhostNet's (any version: [`build`] refuses V2 and V3 by name).
pub fn looks_like(dict: &StateDict) -> bool {
    dict.contains("conv_stem.weight") && dict.keys().any(|k| k.contains(".ghost1.primary_conv."))
}

/// Builds the network; `arch` names it in the result.
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    if let Some(key) = dict.keys().find(|k| k.contains(".short_conv.") || k.contains("_rpr_")) {
        return Err(Error::Checkpoint {
            reason: format!(
                "`{key}`: a GhostNetV2 or V3 (DFC attention, re-parameterised branches), which this engine does not run yet; it runs GhostNet v1 (ghostnet_*)"
            ),
        });
    }
    let stem = conv_bn(dict, "conv_stem", "bn1", 1, 2, Padding::Explicit(1, 1))?;
    let mut channels = stem.cout;
    let mut nodes = vec![Node::Conv(stem), Node::Act(Activation::Relu)];
    let stages = (0..).take_while(|s| dict.keys().any(|k| k.starts_with(&format!("blocks.{s}.")))).count();
    for s in 0..stages {
        let count = (0..).take_while(|b| dict.keys().any(|k| k.starts_with(&format!("blocks.{s}.{b}.")))).count();
        for b in 0..count {
            let path = format!("blocks.{s}.{b}");
            let (block, out) = if dict.contains(&format!("{path}.conv.weight")) {
                let key = format!("{path}.conv.weight");
                let k = dict.dim(&key, 4, 2)?;
                let layer = conv_bn(dict, &format!("{path}.conv"), &format!("{path}.bn1"), 1, 1, Padding::Explicit(k / 2, k / 2))?;
                let out = layer.cout;
                (vec![Node::Conv(layer), Node::Act(Activation::Relu)], out)
            } else {
                bottleneck(dict, &path, channels)?
            };
            nodes.push(Node::Module { path, nodes: block });
            channels = out;
        }
    }
    nodes.extend([Node::GlobalPool, Node::Conv(conv(dict, "conv_head", 1, 1, Padding::Explicit(0, 0))?), Node::Act(Activation::Relu)]);
    let classifier = super::linear(dict, "classifier")?;
    let classes = classifier.bias.len();
    nodes.push(Node::Head(classifier));
    dict.finish("GhostNet")?;
    Ok(Net { family: "timm ghostnet", arch: arch.to_string(), nodes, classes })
}

/// One `GhostBottleneck` at `path` taking `channels`; returns its nodes and its output channels.
fn bottleneck(dict: &StateDict, path: &str, channels: usize) -> Result<(Vec<Node>, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    // ghost1's width is what ghost2 takes (the depthwise convolution and SE keep it).
    let mid = dict.dim(&key("ghost2.primary_conv.0.weight"), 4, 1)?;
    let has_shortcut = dict.contains(&key("shortcut.0.weight"));
    let out = if has_shortcut { dict.dim(&key("shortcut.2.weight"), 4, 0)? } else { channels };
    let stride = if dict.contains(&key("conv_dw.weight")) { 2 } else { 1 };
    let mut body = vec![ghost(dict, &key("ghost1"), mid, Activation::Relu)?];
    if stride == 2 {
        let k = dict.dim(&key("conv_dw.weight"), 4, 2)?;
        let pad = k.saturating_sub(1) / 2;
        body.push(Node::Conv(conv_bn(dict, &key("conv_dw"), &key("bn_dw"), mid, 2, Padding::Explicit(pad, pad))?));
    }
    if dict.contains(&key("se.conv_reduce.weight")) {
        let gate = channel_gate(dict, &key("se"), "se", &["conv_reduce", "conv_expand"], Activation::Relu, Activation::HardSigmoid)?;
        body.push(Node::Attention(Box::new(gate)));
    }
    body.push(ghost(dict, &key("ghost2"), out, Activation::Identity)?);
    let shortcut = if has_shortcut {
        let k = dict.dim(&key("shortcut.0.weight"), 4, 2)?;
        let pad = k.saturating_sub(1) / 2;
        vec![
            Node::Conv(conv_bn(dict, &key("shortcut.0"), &key("shortcut.1"), channels, stride, Padding::Explicit(pad, pad))?),
            Node::Conv(conv_bn(dict, &key("shortcut.2"), &key("shortcut.3"), 1, 1, Padding::Explicit(0, 0))?),
        ]
    } else {
        if stride != 1 {
            return Err(Error::Checkpoint { reason: format!("`{path}` changes the shape but has no `shortcut`") });
        }
        Vec::new()
    };
    Ok((vec![Node::Residual { body, shortcut, act: Activation::Identity, partial: false }], out))
}

/// The ghost module at `path` giving `channels`, its convolutions followed by `act`.
fn ghost(dict: &StateDict, path: &str, channels: usize, act: Activation) -> Result<Node> {
    let key = |name: &str| format!("{path}.{name}");
    let k = dict.dim(&key("primary_conv.0.weight"), 4, 2)?;
    let primary = conv_bn(dict, &key("primary_conv.0"), &key("primary_conv.1"), 1, 1, Padding::Explicit(k / 2, k / 2))?;
    let init = primary.cout;
    let dw = dict.dim(&key("cheap_operation.0.weight"), 4, 2)?;
    let cheap = conv_bn(dict, &key("cheap_operation.0"), &key("cheap_operation.1"), init, 1, Padding::Explicit(dw / 2, dw / 2))?;
    Ok(Node::Ghost { primary: vec![Node::Conv(primary), Node::Act(act)], cheap: vec![Node::Conv(cheap), Node::Act(act)], channels })
}
