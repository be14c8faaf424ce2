//! timm's EfficientNet, MobileNetV3 and the networks their generators also build (MNASNet,
//! SE-MNASNet, MixNet, PP-LCNet; `timm/models/efficientnet.py`, `mobilenetv3.py`, their blocks in
//! `_efficientnet_blocks.py`), from their state-dict names. Widths, depths and kernel
//! sizes are read off the weights; the strides and activations of each stage are the
//! architecture's and cannot be, so `--arch` names it (the tables below).
//!
//! The structure (facts of timm 1.0):
//! - stem: `conv_stem` 3x3 stride 2, `bn1` and the stem's activation;
//! - stages `blocks.S`, the stride in each stage's first block; per block, by its keys:
//!   - depthwise-separable (`conv_dw`, `conv_pw`): `conv_dw` k x k, `bn1` + act, SE, `conv_pw`
//!     1x1, `bn2` (no activation; LCNet's `dsa` blocks: `bn2` + act, and never a residual);
//!   - inverted residual (`conv_pw`, `conv_dw`, `conv_pwl`): `conv_pw` 1x1, `bn1` + act,
//!     `conv_dw` k x k, `bn2` + act, SE, `conv_pwl` 1x1, `bn3`;
//!   - conv-BN-act (`conv`): `conv`, `bn1` + act;
//!   - a residual where the stride is 1 and the widths match (drop-path is the identity in eval);
//! - SE (`SqueezeExcite`): `x * gate(conv_expand(act(conv_reduce(mean(x)))))`, both 1x1 with bias;
//!   EfficientNet and MNASNet: the block's activation and sigmoid; MobileNetV3 and LCNet: ReLU and
//!   hard-sigmoid;
//! - head: EfficientNet and MNASNet `conv_head` 1x1, `bn2` + act, global pool, `classifier`;
//!   MobileNetV3 and LCNet global pool, `conv_head` 1x1 with bias (no BatchNorm), the network's
//!   activation (hard-swish), `classifier`;
//! - MixNet's mixed convolutions (`MixedConv2d`: `conv_dw.0`, `conv_dw.1`, ... and likewise
//!   `conv_pw`, `conv_pwl`): the input channels split into equal groups (the first takes the
//!   remainder), one convolution each (its own kernel size, "same" padding by it), outputs joined;
//! - activations: EfficientNet SiLU; MixNet ReLU in its first two stages, swish after; MNASNet
//!   (`mnasnet_*`, `semnasnet_*`) ReLU; MobileNetV3 ReLU in its first stages and hard-swish after;
//!   LCNet hard-swish;
//! - padding `k / 2`; the `tf_` ports pad as TensorFlow's "SAME" and their BatchNorm's eps is 1e-3.

use super::{channel_gate, conv, conv_bn_eps};
use crate::error::{Error, Result};
use crate::kernels::norm::BatchNorm;
use crate::layers::{Activation, Padding};
use crate::net::checkpoint::StateDict;
use crate::net::{Net, Node};

/// What the weights cannot tell about an architecture.
struct Spec {
    family: &'static str,
    /// The stride of each stage's first block.
    strides: &'static [usize],
    /// The activation of each stage's blocks.
    acts: &'static [Activation],
    stem_act: Activation,
    se_act: Option<Activation>,
    se_gate: Activation,
    /// MobileNetV3's head: pool first, then `conv_head` with bias and the stem's activation.
    pooled_head: bool,
    /// Depthwise-separable blocks are timm's `dsa` (LCNet): an activation after `conv_pw` too,
    /// and no residual.
    dsa: bool,
    /// The blocks `(stage, index)` the architecture marks `noskip`: no residual even where the
    /// stride is 1 and the widths match (MNASNet's first block, whose widths match at small
    /// channel multipliers).
    noskip: &'static [(usize, usize)],
    tf: bool,
}

use Activation::{HardSigmoid, HardSwish, Relu, Sigmoid, Silu};

const EFFICIENTNET: Spec = Spec {
    family: "timm efficientnet",
    strides: &[1, 2, 2, 2, 1, 2, 1],
    acts: &[Silu; 7],
    stem_act: Silu,
    se_act: None,
    se_gate: Sigmoid,
    pooled_head: false,
    dsa: false,
    noskip: &[],
    tf: false,
};
/// `_gen_mixnet_s` and `_gen_mixnet_m` (`mixnet_s/m/l/xl`, `tf_mixnet_*`): six stages, ReLU in
/// the first two and swish after (the blocks' `nsw`), mixed kernels (`MixedConv2d`).
const MIXNET: Spec = Spec {
    family: "timm efficientnet",
    strides: &[1, 2, 2, 2, 1, 2],
    acts: &[Relu, Relu, Silu, Silu, Silu, Silu],
    stem_act: Relu,
    ..EFFICIENTNET
};
/// `_gen_mnasnet_small` (`mnasnet_small`): seven stages with EfficientNet's strides, ReLU
/// throughout.
const MNASNET_SMALL: Spec = Spec { family: "timm efficientnet", acts: &[Relu; 7], stem_act: Relu, ..EFFICIENTNET };
/// `_gen_mnasnet_a1` (`semnasnet_*`): its first block `noskip`.
const MNASNET_A1: Spec = Spec { noskip: &[(0, 0)], ..MNASNET_SMALL };
/// `_gen_mnasnet_b1` (`mnasnet_050..140`): its first and last blocks `noskip`.
const MNASNET_B1: Spec = Spec { noskip: &[(0, 0), (6, 0)], ..MNASNET_SMALL };
const MOBILENETV3_LARGE: Spec = Spec {
    family: "timm mobilenetv3",
    strides: &[1, 2, 2, 2, 1, 2, 1],
    acts: &[Relu, Relu, Relu, HardSwish, HardSwish, HardSwish, HardSwish],
    stem_act: HardSwish,
    se_act: Some(Relu),
    se_gate: HardSigmoid,
    pooled_head: true,
    dsa: false,
    noskip: &[],
    tf: false,
};
const MOBILENETV3_SMALL: Spec = Spec {
    family: "timm mobilenetv3",
    strides: &[2, 2, 2, 1, 2, 1],
    acts: &[Relu, Relu, HardSwish, HardSwish, HardSwish, HardSwish],
    ..MOBILENETV3_LARGE
};
/// `_gen_lcnet` (`lcnet_035..150`, PP-LCNet): six stages of `dsa` blocks, hard-swish throughout,
/// MobileNetV3's SE and head.
const LCNET: Spec = Spec { strides: &[1, 2, 2, 2, 1, 2], acts: &[HardSwish; 6], dsa: true, ..MOBILENETV3_LARGE };

/// timm's model-name prefixes and their specs.
const BY_PREFIX: [(&str, Spec); 8] = [
    ("efficientnet_b", EFFICIENTNET),
    ("mobilenetv3_large", MOBILENETV3_LARGE),
    ("mobilenetv3_small", MOBILENETV3_SMALL),
    ("mnasnet_small", MNASNET_SMALL),
    ("mnasnet_", MNASNET_B1),
    ("semnasnet_", MNASNET_A1),
    ("mixnet_", MIXNET),
    ("lcnet", LCNET),
];

/// The spec of a timm model name, `None` where this family does not know it.
fn spec(arch: &str) -> Option<Spec> {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    let (tf, base) = match name.strip_prefix("tf_") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    // The first prefix that fits (`mnasnet_small` before `mnasnet_`).
    let (_, spec) = BY_PREFIX.iter().find(|(prefix, _)| base.starts_with(prefix))?;
    Some(Spec { tf, ..*spec })
}

/// Whether the weights are a PP-LCNet's, the one network here whose keys tell it: six stages of
/// depthwise-separable blocks only (no `conv_pwl`) and MobileNetV3's head (`conv_head` with a
/// bias, no `bn2`).
pub fn looks_like_lcnet(dict: &StateDict) -> bool {
    let stages = (0..).take_while(|s| dict.keys().any(|k| k.starts_with(&format!("blocks.{s}.")))).count();
    dict.contains("conv_stem.weight")
        && dict.contains("conv_head.bias")
        && !dict.contains("bn2.weight")
        && stages == LCNET.strides.len()
        && !dict.keys().any(|k| k.starts_with("blocks.") && (k.contains(".conv_pwl.") || k.contains(".conv.")))
}

/// Whether `arch` names a model this builder knows.
pub fn takes(arch: &str) -> bool {
    spec(arch).is_some()
}

/// Builds the network for `arch`.
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    let spec = spec(arch).ok_or_else(|| Error::BadOption {
        option: "--arch",
        reason: format!("{arch} is not an EfficientNet, MobileNetV3, MNASNet, MixNet or LCNet this knows"),
    })?;
    let eps = if spec.tf { 1e-3 } else { BatchNorm::EPS };
    let pad = |k: usize| if spec.tf { Padding::TfSame } else { Padding::Explicit(k / 2, k / 2) };
    // A convolution taking `cin` channels (depthwise: groups `cin`) with its BatchNorm folded in,
    // or MixNet's mixed one (`{name}.0.weight`, `{name}.1.weight`, ...).
    let conv_bn = |name: &str, bn: &str, cin: usize, depthwise: bool, stride: usize| -> Result<Node> {
        if !dict.contains(&format!("{name}.weight")) && dict.contains(&format!("{name}.0.weight")) {
            return mixed_conv_bn(dict, name, bn, cin, depthwise, stride, &pad, eps);
        }
        let k = dict.dim(&format!("{name}.weight"), 4, 2)?;
        Ok(Node::Conv(conv_bn_eps(dict, name, bn, if depthwise { cin } else { 1 }, stride, pad(k), eps)?))
    };
    let has = |name: &str| dict.contains(&format!("{name}.weight")) || dict.contains(&format!("{name}.0.weight"));

    let mut nodes = vec![conv_bn("conv_stem", "bn1", 3, false, 2)?, Node::Act(spec.stem_act)];
    let mut channels = dict.dim("conv_stem.weight", 4, 0)?;
    let stages = (0..).take_while(|s| dict.keys().any(|k| k.starts_with(&format!("blocks.{s}.")))).count();
    if stages != spec.strides.len() {
        return Err(Error::BadOption {
            option: "--arch",
            reason: format!(
                "{arch} has {} stages; the checkpoint has {stages}: name the architecture it was trained as",
                spec.strides.len()
            ),
        });
    }
    for s in 0..stages {
        let count = (0..).take_while(|b| dict.keys().any(|k| k.starts_with(&format!("blocks.{s}.{b}.")))).count();
        for b in 0..count {
            let path = format!("blocks.{s}.{b}");
            let key = |name: &str| format!("{path}.{name}");
            let stride = if b == 0 { spec.strides[s] } else { 1 };
            let act = Node::Act(spec.acts[s]);
            let mut body = Vec::new();
            let se = |body: &mut Vec<Node>| -> Result<()> {
                if dict.contains(&key("se.conv_reduce.weight")) {
                    let act = spec.se_act.unwrap_or(spec.acts[s]);
                    let gate = channel_gate(dict, &key("se"), "se", &["conv_reduce", "conv_expand"], act, spec.se_gate)?;
                    body.push(Node::Attention(Box::new(gate)));
                }
                Ok(())
            };
            let out = if has(&key("conv_pwl")) {
                let mid = out_channels(dict, &key("conv_pw"))?;
                body.extend([conv_bn(&key("conv_pw"), &key("bn1"), channels, false, 1)?, act.clone()]);
                body.extend([conv_bn(&key("conv_dw"), &key("bn2"), mid, true, stride)?, act]);
                se(&mut body)?;
                body.push(conv_bn(&key("conv_pwl"), &key("bn3"), mid, false, 1)?);
                out_channels(dict, &key("conv_pwl"))?
            } else if has(&key("conv_dw")) {
                body.extend([conv_bn(&key("conv_dw"), &key("bn1"), channels, true, stride)?, act]);
                se(&mut body)?;
                body.push(conv_bn(&key("conv_pw"), &key("bn2"), channels, false, 1)?);
                if spec.dsa {
                    body.push(Node::Act(spec.acts[s]));
                }
                out_channels(dict, &key("conv_pw"))?
            } else if dict.contains(&key("conv.weight")) {
                body.extend([conv_bn(&key("conv"), &key("bn1"), channels, false, stride)?, act]);
                dict.dim(&key("conv.weight"), 4, 0)?
            } else {
                let example = dict.keys().find(|k| k.starts_with(&format!("{path}."))).unwrap_or_default().to_string();
                return Err(Error::Checkpoint { reason: format!("`{example}`: a block this engine does not know") });
            };
            // A conv-BN-act block has no residual in these architectures, nor has a `dsa` block.
            let no_skip = dict.contains(&key("conv.weight")) || (spec.dsa && !has(&key("conv_pwl"))) || spec.noskip.contains(&(s, b));
            let residual = stride == 1 && out == channels && !no_skip;
            let body = if residual {
                vec![Node::Residual { body, shortcut: Vec::new(), act: Activation::Identity, partial: false }]
            } else {
                body
            };
            nodes.push(Node::Module { path, nodes: body });
            channels = out;
        }
    }
    if spec.pooled_head {
        nodes.extend([Node::GlobalPool, Node::Conv(conv(dict, "conv_head", 1, 1, Padding::Explicit(0, 0))?), Node::Act(spec.stem_act)]);
    } else {
        nodes.extend([conv_bn("conv_head", "bn2", channels, false, 1)?, Node::Act(spec.stem_act)]);
    }
    let classifier = super::linear(dict, "classifier")?;
    let classes = classifier.bias.len();
    nodes.push(Node::Head(classifier));
    dict.finish(spec.family)?;
    Ok(Net { family: spec.family, arch: arch.to_string(), nodes, classes })
}

/// The output channels of the convolution `name`, plain or mixed (the sum of its groups').
fn out_channels(dict: &StateDict, name: &str) -> Result<usize> {
    if dict.contains(&format!("{name}.weight")) || !dict.contains(&format!("{name}.0.weight")) {
        return dict.dim(&format!("{name}.weight"), 4, 0);
    }
    (0..).map_while(|i| dict.contains(&format!("{name}.{i}.weight")).then(|| dict.dim(&format!("{name}.{i}.weight"), 4, 0))).sum()
}

/// timm's `MixedConv2d` at `name` (`{name}.0.weight`, `{name}.1.weight`, ...) and the BatchNorm
/// `bn` after it: the `cin` input channels split as timm's `_split_channels` splits them (equal
/// groups, the first taking the remainder), each group through its own convolution (depthwise:
/// groups the group's channels; padding by its own kernel), the BatchNorm's channels folded into
/// the group that gives them.
#[allow(clippy::too_many_arguments)]
fn mixed_conv_bn(
    dict: &StateDict,
    name: &str,
    bn: &str,
    cin: usize,
    depthwise: bool,
    stride: usize,
    pad: &dyn Fn(usize) -> Padding,
    eps: f32,
) -> Result<Node> {
    let groups = (0..).take_while(|i| dict.contains(&format!("{name}.{i}.weight"))).count();
    let mut splits = vec![cin / groups; groups];
    splits[0] += cin - splits.iter().sum::<usize>();
    let mut convs = Vec::with_capacity(groups);
    for (i, &c) in splits.iter().enumerate() {
        let key = format!("{name}.{i}");
        let k = dict.dim(&format!("{key}.weight"), 4, 2)?;
        convs.push(conv(dict, &key, if depthwise { c } else { 1 }, stride, pad(k))?);
    }
    let total: usize = convs.iter().map(|c| c.cout).sum();
    let norm = dict.batchnorm(bn, total)?;
    let mut first = 0;
    let mut parts = Vec::with_capacity(groups);
    for (c, layer) in splits.into_iter().zip(convs) {
        let range = first..first + layer.cout;
        first = range.end;
        let part = BatchNorm {
            weight: norm.weight[range.clone()].to_vec(),
            bias: norm.bias[range.clone()].to_vec(),
            running_mean: norm.running_mean[range.clone()].to_vec(),
            running_var: norm.running_var[range].to_vec(),
        };
        parts.push((c, vec![Node::Conv(layer.fold_with_eps(&part, eps))]));
    }
    Ok(Node::Split { parts })
}
