//! timm's SKNet (`timm/models/sknet.py`): timm's ResNet with its 3x3 convolution replaced by a
//! Selective Kernel convolution (`timm/layers/selective_kernel.py`; Li et al. 2019). The stem,
//! stages, shortcuts and head are the ResNet family's ([`super::resnet`]), which calls
//! [`body`] for a block that holds one.
//!
//! The structure (facts of timm 1.0):
//! - `SelectiveKernelBasic` (skresnet18/34): `conv1` the Selective Kernel (the stride), `conv2`
//!   a 3x3 `ConvNormAct` without activation (`conv2.conv`, `conv2.bn`);
//! - `SelectiveKernelBottleneck` (skresnet50, skresnext50_32x4d): `conv1` a 1x1 `ConvNormAct`
//!   (ReLU), `conv2` the Selective Kernel (the stride, the groups), `conv3` a 1x1 without;
//! - the Selective Kernel: `paths.{i}` (`conv`, `bn`, ReLU), by default 3x3 of dilation `i + 1`
//!   (`keep_3x3` turns timm's kernel sizes 3, 5 into dilations 1, 2), padding
//!   `((stride - 1) + dilation * (k - 1)) / 2`; with `split_input` each path takes its own
//!   `1 / R` of the input channels, else every path the whole input; then `attn`
//!   ([`crate::net::branch_attention`]): `fc_reduce` (no bias), `bn`, ReLU, `fc_select` (no bias)
//!   to `(R, C)` logits, softmax across the paths.
//!
//! What the weights do not say is read as timm's models have it: paths of equal 3x3 kernels are
//! dilated `1, 2, ...`; a path whose input is a `1 / R` share of the channels is a split input
//! with one group (skresnet18/34/50), else every path takes the whole input in groups
//! (skresnext50_32x4d).

use super::conv_bn;
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding};
use crate::net::branch_attention::{BranchAttention, dense_from_grouped};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Node};

/// Whether the block at `path` holds a Selective Kernel convolution.
pub(super) fn holds(dict: &StateDict, path: &str) -> bool {
    ["conv1", "conv2"].iter().any(|c| dict.contains(&format!("{path}.{c}.paths.0.conv.weight")))
}

/// The body of the block at `path` taking `channels`, up to where timm's ResNet adds its `se`
/// slot; and its output channels.
pub(super) fn body(dict: &StateDict, path: &str, channels: usize, stride: usize) -> Result<(Vec<Node>, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    let mut body = Vec::new();
    let (last, width) = if dict.contains(&key("conv1.paths.0.conv.weight")) {
        let (nodes, width) = selective_kernel(dict, &key("conv1"), channels, stride)?;
        body.extend(nodes);
        ("conv2", width)
    } else {
        let conv1 = conv_bn(dict, &key("conv1.conv"), &key("conv1.bn"), 1, 1, Padding::Explicit(0, 0))?;
        let width = conv1.cout;
        body.push(Node::Conv(conv1));
        body.push(Node::Act(Activation::Relu));
        let (nodes, width) = selective_kernel(dict, &key("conv2"), width, stride)?;
        body.extend(nodes);
        ("conv3", width)
    };
    let k = dict.dim(&key(&format!("{last}.conv.weight")), 4, 2)?;
    let conv = conv_bn(dict, &key(&format!("{last}.conv")), &key(&format!("{last}.bn")), 1, 1, Padding::Explicit(k / 2, k / 2))?;
    if conv.cin != width {
        return Err(Error::Checkpoint {
            reason: format!("`{path}.{last}` takes {} channels; the Selective Kernel gives {width}", conv.cin),
        });
    }
    let out = conv.cout;
    body.push(Node::Conv(conv));
    Ok((body, out))
}

/// The Selective Kernel at `path` taking `channels`: its paths, then its attention. Returns the
/// nodes and the output channels.
fn selective_kernel(dict: &StateDict, path: &str, channels: usize, stride: usize) -> Result<(Vec<Node>, usize)> {
    let weight = |i: usize| format!("{path}.paths.{i}.conv.weight");
    let count = (0..).take_while(|&i| dict.contains(&weight(i))).count();
    let kernels = (0..count).map(|i| dict.dim(&weight(i), 4, 2)).collect::<Result<Vec<_>>>()?;
    let keep_3x3 = kernels.iter().all(|&k| k == 3);
    let per_group = dict.dim(&weight(0), 4, 1)?;
    let split = per_group * count == channels;
    let (input, groups) = if split { (per_group, 1) } else { (channels, channels.checked_div(per_group).unwrap_or(0)) };
    let mut paths = Vec::with_capacity(count);
    for (i, &k) in kernels.iter().enumerate() {
        let dilation = if keep_3x3 { i + 1 } else { 1 };
        let pad = ((stride - 1) + dilation * (k - 1)) / 2;
        let p = format!("{path}.paths.{i}");
        let mut conv = conv_bn(dict, &format!("{p}.conv"), &format!("{p}.bn"), groups, stride, Padding::Explicit(pad, pad))?;
        conv.dilation = dilation;
        if conv.cin != input {
            return Err(Error::Checkpoint { reason: format!("`{p}.conv` takes {} channels; it is given {input}", conv.cin) });
        }
        paths.push(vec![Node::Conv(conv), Node::Act(Activation::Relu)]);
    }
    let out = dict.dim(&weight(0), 4, 0)?;
    let attn = format!("{path}.attn");
    let at = |e: Error| match e {
        Error::Checkpoint { reason } => Error::Checkpoint { reason: format!("{attn}: {reason}") },
        other => other,
    };
    let reduce = conv_bn(dict, &format!("{attn}.fc_reduce"), &format!("{attn}.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let reduce = dense_from_grouped(&reduce.weight, reduce.bias, reduce.cin, 1).map_err(at)?;
    let select = super::conv(dict, &format!("{attn}.fc_select"), 1, 1, Padding::Explicit(0, 0))?;
    let select = dense_from_grouped(&select.weight, select.bias, select.cin, 1).map_err(at)?;
    let layer = BranchAttention::new(count, reduce, Activation::Relu, select, true, 0).map_err(at)?;
    let joined = if split { Node::Split { parts: paths.into_iter().map(|p| (input, p)).collect() } } else { Node::Fork { paths } };
    let block = Attention { path: path.to_string(), kind: "sk", layer: AttentionLayer::Branches(layer), residual: false };
    Ok((vec![joined, Node::Attention(Box::new(block))], out))
}
