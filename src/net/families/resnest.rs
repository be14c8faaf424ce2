//! timm's ResNeSt (`timm/models/resnest.py`): timm's ResNet with `ResNestBottleneck` blocks,
//! whose 3x3 convolution is a Split Attention convolution (`timm/layers/split_attn.py`; Zhang et
//! al. 2020). The stem (deep), stages, average-pool shortcuts and head are the ResNet family's
//! ([`super::resnet`]), which calls [`body`] for a block that holds one.
//!
//! The structure (facts of timm 1.0):
//! - `conv1` 1x1, `bn1`, ReLU;
//! - `avd`: where the block has a stride, the 3x3 convolution keeps stride 1 and an
//!   `AvgPool2d(3, stride, padding=1)` takes it, before the Split Attention (`avd_first`) or
//!   after it;
//! - `conv2`, the Split Attention: `conv2.conv` 3x3 in `cardinality * radix` groups to
//!   `radix * C` channels, `bn0`, ReLU; then [`crate::net::branch_attention`] over the `radix`
//!   groups of channels: `fc1` (bias, `cardinality` groups), `bn1`, ReLU, `fc2` (bias, grouped),
//!   softmax across the radix (a sigmoid where the radix is 1);
//! - `conv3` 1x1, `bn3`, + shortcut, ReLU.
//!
//! The radix and cardinality are read off the shapes. Where the pooling goes is not in the
//! weights: timm's models with radix 2 and one group (resnest14d to resnest269e) pool after the
//! Split Attention, its two others (resnest50d_4s2x40d, resnest50d_1s4x24d) before it.

use super::conv_bn;
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding, Pool};
use crate::net::branch_attention::{BranchAttention, dense_from_grouped};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Node};

/// Whether the block at `path` holds a Split Attention convolution.
pub(super) fn holds(dict: &StateDict, path: &str) -> bool {
    dict.contains(&format!("{path}.conv2.fc1.weight")) && dict.contains(&format!("{path}.conv2.conv.weight"))
}

/// The body of the block at `path` with `stride`, up to the shortcut; and its output channels.
pub(super) fn body(dict: &StateDict, path: &str, stride: usize) -> Result<(Vec<Node>, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    let conv1 = conv_bn(dict, &key("conv1"), &key("bn1"), 1, 1, Padding::Explicit(0, 0))?;
    let width = conv1.cout;
    let mid = dict.dim(&key("conv2.conv.weight"), 4, 0)?;
    let per_group = dict.dim(&key("conv2.conv.weight"), 4, 1)?;
    let channels = dict.dim(&key("conv3.weight"), 4, 1)?;
    let fc1_per_group = dict.dim(&key("conv2.fc1.weight"), 4, 1)?;
    let fits = |a: usize, b: usize| b > 0 && a.is_multiple_of(b);
    if !fits(mid, channels) || !fits(width, per_group) || !fits(channels, fc1_per_group) {
        return Err(Error::Checkpoint {
            reason: format!("`{path}.conv2`: a Split Attention of {mid} channels cannot feed `conv3`'s {channels}"),
        });
    }
    let radix = mid / channels;
    let cardinality = channels / fc1_per_group;
    let groups = width / per_group;
    if groups != cardinality * radix {
        return Err(Error::Checkpoint {
            reason: format!(
                "`{path}.conv2.conv` has {groups} groups; a radix of {radix} and {cardinality} groups make {}",
                cardinality * radix
            ),
        });
    }
    let avd =
        (stride > 1).then_some(Node::Pool(Pool { max: false, kernel: 3, stride, padding: 1, ceil_mode: false, count_include_pad: true }));
    let avd_first = !(radix == 2 && cardinality == 1);
    let mut body = vec![Node::Conv(conv1), Node::Act(Activation::Relu)];
    if avd_first {
        body.extend(avd.clone());
    }
    let conv_stride = if avd.is_some() { 1 } else { stride };
    body.push(Node::Conv(conv_bn(dict, &key("conv2.conv"), &key("conv2.bn0"), groups, conv_stride, Padding::Explicit(1, 1))?));
    body.push(Node::Act(Activation::Relu));
    body.push(Node::Attention(Box::new(split_attention(dict, &key("conv2"), radix, cardinality)?)));
    if !avd_first {
        body.extend(avd);
    }
    let conv3 = conv_bn(dict, &key("conv3"), &key("bn3"), 1, 1, Padding::Explicit(0, 0))?;
    let out = conv3.cout;
    body.push(Node::Conv(conv3));
    Ok((body, out))
}

/// The attention of the Split Attention at `path`: `fc1`, `bn1`, ReLU, `fc2`, the radix softmax.
fn split_attention(dict: &StateDict, path: &str, radix: usize, cardinality: usize) -> Result<Attention> {
    let fc1 = conv_bn(dict, &format!("{path}.fc1"), &format!("{path}.bn1"), cardinality, 1, Padding::Explicit(0, 0))?;
    let fc2 = super::conv(dict, &format!("{path}.fc2"), cardinality, 1, Padding::Explicit(0, 0))?;
    let at = |e: Error| match e {
        Error::Checkpoint { reason } => Error::Checkpoint { reason: format!("{path}: {reason}") },
        other => other,
    };
    let reduce = dense_from_grouped(&fc1.weight, fc1.bias, fc1.cin, cardinality).map_err(at)?;
    let select = dense_from_grouped(&fc2.weight, fc2.bias, fc2.cin, cardinality).map_err(at)?;
    let layer = BranchAttention::new(radix, reduce, Activation::Relu, select, radix > 1, cardinality).map_err(at)?;
    Ok(Attention { path: path.to_string(), kind: "splat", layer: AttentionLayer::Branches(layer), residual: false })
}
