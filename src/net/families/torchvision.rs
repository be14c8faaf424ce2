//! torchvision's MobileNetV3 (`torchvision/models/mobilenetv3.py`) and EfficientNet B0 to B7
//! (`torchvision/models/efficientnet.py`), from their state-dict names. Widths, depths and kernel
//! sizes are read off the weights; the strides, activations and SE placement are the
//! architecture's tables and cannot be, so `--arch` names it (`torchvision.mobilenet_v3_small`,
//! `torchvision.mobilenet_v3_large`, `torchvision.efficientnet_b0` ... `_b7`).
//!
//! The structure (facts of torchvision 0.2x):
//! - `features.0`: the stem, `Conv2dNormActivation` 3x3 stride 2: `.0` conv, `.1` BatchNorm, then
//!   Hardswish (MobileNetV3) or SiLU (EfficientNet);
//! - inverted residual blocks, `features.N.block.M` (MobileNetV3, one block per `features.N`) or
//!   `features.N.K.block.M` (EfficientNet's `MBConv`, stage `N`, block `K`); the sequence `block`
//!   holds an expansion `Conv2dNormActivation` 1x1 (only where it widens), the depthwise k x k
//!   one (the block's stride), `SqueezeExcitation` (`fc1`, act, `fc2`, gate; both 1x1 with bias)
//!   where the architecture has one, and the projection 1x1 (BatchNorm, no activation); a
//!   residual where the stride is 1 and the widths match (stochastic depth is the identity in
//!   eval);
//! - MobileNetV3's blocks take ReLU ("RE") or Hardswish ("HS") per its table (both inside the
//!   block; its SE is ReLU then Hardsigmoid); EfficientNet's take SiLU, its SE SiLU then sigmoid,
//!   and every block has one;
//! - the last convolution `features.{last}`: 1x1, BatchNorm and the stem's activation;
//! - head: global average pool, then MobileNetV3 `classifier.0` Linear, Hardswish, Dropout,
//!   `classifier.3` Linear; EfficientNet Dropout, `classifier.1` Linear;
//! - padding `(k - 1) / 2` on both sides; BatchNorm eps 1e-3 in MobileNetV3 and EfficientNet
//!   B5 to B7, PyTorch's 1e-5 in B0 to B4.

use super::conv_bn_eps;
use crate::error::{Error, Result};
use crate::kernels::norm::BatchNorm;
use crate::layers::{Activation, Conv2d, Padding};
use crate::net::checkpoint::StateDict;
use crate::net::{Net, Node};

use Activation::{HardSigmoid, HardSwish, Relu, Sigmoid, Silu};

/// One inverted residual block as MobileNetV3's table gives it: the stride, whether it uses
/// Hardswish ("HS", else ReLU), whether it has an SE.
type MobileBlock = (usize, bool, bool);

/// `_mobilenet_v3_conf("mobilenet_v3_large")`: stride, HS, SE of each block.
const MOBILENET_V3_LARGE: &[MobileBlock] = &[
    (1, false, false),
    (2, false, false),
    (1, false, false),
    (2, false, true),
    (1, false, true),
    (1, false, true),
    (2, true, false),
    (1, true, false),
    (1, true, false),
    (1, true, false),
    (1, true, true),
    (1, true, true),
    (2, true, true),
    (1, true, true),
    (1, true, true),
];

/// `_mobilenet_v3_conf("mobilenet_v3_small")`.
const MOBILENET_V3_SMALL: &[MobileBlock] = &[
    (2, false, true),
    (2, false, false),
    (1, false, false),
    (2, true, true),
    (1, true, true),
    (1, true, true),
    (1, true, true),
    (1, true, true),
    (2, true, true),
    (1, true, true),
    (1, true, true),
];

/// EfficientNet B0 to B7's seven stages: the stride of each stage's first block.
const EFFICIENTNET_STRIDES: [usize; 7] = [1, 2, 2, 2, 1, 2, 1];

/// What the weights cannot tell about an architecture.
enum Spec {
    MobileNetV3 { blocks: &'static [MobileBlock] },
    EfficientNet { eps: f32 },
}

fn spec(arch: &str) -> Option<Spec> {
    let name = arch.strip_prefix("torchvision.")?;
    match name {
        "mobilenet_v3_large" => Some(Spec::MobileNetV3 { blocks: MOBILENET_V3_LARGE }),
        "mobilenet_v3_small" => Some(Spec::MobileNetV3 { blocks: MOBILENET_V3_SMALL }),
        "efficientnet_b0" | "efficientnet_b1" | "efficientnet_b2" | "efficientnet_b3" | "efficientnet_b4" => {
            Some(Spec::EfficientNet { eps: BatchNorm::EPS })
        }
        // torchvision builds B5 to B7 with `partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)`.
        "efficientnet_b5" | "efficientnet_b6" | "efficientnet_b7" => Some(Spec::EfficientNet { eps: 1e-3 }),
        _ => None,
    }
}

/// Whether `arch` names a model this builder knows.
pub fn takes(arch: &str) -> bool {
    spec(arch).is_some()
}

/// Builds the network for `arch`.
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    let spec = spec(arch).ok_or_else(|| Error::BadOption {
        option: "--arch",
        reason: format!("{arch} is not a torchvision MobileNetV3 or EfficientNet this knows"),
    })?;
    let (family, eps, act) = match spec {
        Spec::MobileNetV3 { .. } => ("torchvision mobilenetv3", 1e-3, HardSwish),
        Spec::EfficientNet { eps } => ("torchvision efficientnet", eps, Silu),
    };
    let stem = conv_norm(dict, "features.0", 1, 2, eps)?;
    let mut channels = stem.cout;
    let mut nodes = vec![Node::Conv(stem), Node::Act(act)];
    let last = match spec {
        Spec::MobileNetV3 { blocks } => {
            let found = (1..).take_while(|n| dict.keys().any(|k| k.starts_with(&format!("features.{n}.block.")))).count();
            if found != blocks.len() {
                return Err(wrong_arch(arch, format!("{} inverted residual blocks; the checkpoint has {found}", blocks.len())));
            }
            for (i, &(stride, hs, se)) in blocks.iter().enumerate() {
                let path = format!("features.{}", i + 1);
                let gate = if se { Some((Relu, HardSigmoid)) } else { None };
                let (block, out) = inverted_residual(dict, arch, &path, channels, stride, if hs { HardSwish } else { Relu }, gate, eps)?;
                nodes.push(Node::Module { path, nodes: block });
                channels = out;
            }
            blocks.len() + 1
        }
        Spec::EfficientNet { .. } => {
            let stages = (1..).take_while(|n| dict.keys().any(|k| k.starts_with(&format!("features.{n}.0.block.")))).count();
            if stages != EFFICIENTNET_STRIDES.len() {
                return Err(wrong_arch(
                    arch,
                    format!("{} stages of MBConv blocks; the checkpoint has {stages}", EFFICIENTNET_STRIDES.len()),
                ));
            }
            for (s, &first_stride) in EFFICIENTNET_STRIDES.iter().enumerate() {
                let count = (0..).take_while(|k| dict.keys().any(|key| key.starts_with(&format!("features.{}.{k}.", s + 1)))).count();
                for k in 0..count {
                    let path = format!("features.{}.{k}", s + 1);
                    let stride = if k == 0 { first_stride } else { 1 };
                    let (block, out) = inverted_residual(dict, arch, &path, channels, stride, Silu, Some((Silu, Sigmoid)), eps)?;
                    nodes.push(Node::Module { path, nodes: block });
                    channels = out;
                }
            }
            stages + 1
        }
    };
    nodes.extend([Node::Conv(conv_norm(dict, &format!("features.{last}"), 1, 1, eps)?), Node::Act(act), Node::GlobalPool]);
    let classifier = match spec {
        Spec::MobileNetV3 { .. } => {
            nodes.extend([Node::Head(super::linear(dict, "classifier.0")?), Node::Act(HardSwish)]);
            super::linear(dict, "classifier.3")?
        }
        Spec::EfficientNet { .. } => super::linear(dict, "classifier.1")?,
    };
    let classes = classifier.bias.len();
    nodes.push(Node::Head(classifier));
    dict.finish(family)?;
    Ok(Net { family, arch: arch.to_string(), nodes, classes })
}

fn wrong_arch(arch: &str, what: String) -> Error {
    Error::BadOption { option: "--arch", reason: format!("{arch} has {what}: name the architecture it was trained as") }
}

/// The `Conv2dNormActivation` at `path`: `{path}.0` convolution (no bias), `{path}.1` BatchNorm
/// folded in; padding `(k - 1) / 2` (a weight that is not `(out, in / groups, k, k)` is refused
/// by `Conv2d`).
fn conv_norm(dict: &StateDict, path: &str, groups: usize, stride: usize, eps: f32) -> Result<Conv2d> {
    let pad = dict.shape(&format!("{path}.0.weight"))?.get(2).map_or(0, |k| k.saturating_sub(1) / 2);
    conv_bn_eps(dict, &format!("{path}.0"), &format!("{path}.1"), groups, stride, Padding::Explicit(pad, pad), eps)
}

/// The inverted residual at `path` (`InvertedResidual` or `MBConv`) taking `channels`: its nodes
/// (one residual, or the body alone) and its output channels. `gate` is the SE's (act, gate),
/// where the architecture puts one.
#[allow(clippy::too_many_arguments)]
fn inverted_residual(
    dict: &StateDict,
    arch: &str,
    path: &str,
    channels: usize,
    stride: usize,
    act: Activation,
    gate: Option<(Activation, Activation)>,
    eps: f32,
) -> Result<(Vec<Node>, usize)> {
    let block = format!("{path}.block");
    let modules = (0..).take_while(|m| dict.keys().any(|k| k.starts_with(&format!("{block}.{m}.")))).count();
    let is_se = |m: usize| dict.contains(&format!("{block}.{m}.fc1.weight"));
    let se_at: Vec<usize> = (0..modules).filter(|&m| is_se(m)).collect();
    let convs: Vec<usize> = (0..modules).filter(|&m| !is_se(m)).collect();
    let expected_se = usize::from(gate.is_some());
    // An expansion (optional), the depthwise convolution, the SE after it, the projection last.
    let layout_ok = se_at.len() == expected_se
        && matches!(convs.len(), 2 | 3)
        && convs.last() == Some(&(modules - 1))
        && se_at.iter().all(|&m| m + 1 == modules - 1 && convs[convs.len() - 2] + 1 == m);
    if !layout_ok {
        return Err(wrong_arch(
            arch,
            format!(
                "{} at `{block}`; the checkpoint's has {} convolutions and {} SE",
                if gate.is_some() { "an inverted residual with an SE" } else { "an inverted residual without an SE" },
                convs.len(),
                se_at.len()
            ),
        ));
    }
    let mut body = Vec::new();
    if convs.len() == 3 {
        body.extend([Node::Conv(conv_norm(dict, &format!("{block}.{}", convs[0]), 1, 1, eps)?), Node::Act(act)]);
    }
    // Depthwise: as many groups as channels.
    let depthwise = format!("{block}.{}", convs[convs.len() - 2]);
    let mid = dict.shape(&format!("{depthwise}.0.weight"))?.first().copied().unwrap_or(0);
    body.extend([Node::Conv(conv_norm(dict, &depthwise, mid, stride, eps)?), Node::Act(act)]);
    if let (Some(&m), Some((se_act, se_gate))) = (se_at.first(), gate) {
        body.push(Node::Attention(Box::new(super::channel_gate(dict, &format!("{block}.{m}"), "se", &["fc1", "fc2"], se_act, se_gate)?)));
    }
    let project = conv_norm(dict, &format!("{block}.{}", convs[convs.len() - 1]), 1, 1, eps)?;
    let out = project.cout;
    body.push(Node::Conv(project));
    if stride == 1 && channels == out {
        Ok((vec![Node::Residual { body, shortcut: Vec::new(), act: Activation::Identity, partial: false }], out))
    } else {
        Ok((body, out))
    }
}
