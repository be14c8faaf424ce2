//! timm's ResNet family (`timm/models/resnet.py`), from its state-dict names: ResNet, the deep
//! (-D) and tiered (-T) stems, average-pool downsampling, ResNeXt groups, BasicBlock and
//! Bottleneck, and the attention layer timm puts in each block's `se` slot. torchvision's
//! `resnet18/50` use the same names and structure (plain stem, no attention), so they build here
//! too.
//!
//! The structure (facts of timm 1.0's `ResNet`):
//! - stem: `conv1` 7x7 stride 2 padding 3, or the deep stem `conv1.0` (3x3 stride 2), `conv1.3`,
//!   `conv1.6` (3x3 stride 1) with BatchNorm `conv1.1`, `conv1.4` and ReLU between; then `bn1`,
//!   ReLU, max pool 3x3 stride 2 padding 1;
//! - stages `layer1` to `layer4`, strides 1, 2, 2, 2, the stride in each stage's first block;
//! - BasicBlock: `conv1` 3x3 (the stride), `bn1`, ReLU, `conv2` 3x3, `bn2`, attention, + shortcut, ReLU;
//! - Bottleneck: `conv1` 1x1, `bn1`, ReLU, `conv2` 3x3 (the stride, the groups), `bn2`, ReLU,
//!   `conv3` 1x1, `bn3`, attention, + shortcut, ReLU;
//! - shortcut: `downsample.0` 1x1 conv with the stride and `downsample.1` BatchNorm, or with
//!   average-pool downsampling (`avg_down`, the -D models) `AvgPool2d(2, stride, ceil_mode=True,
//!   count_include_pad=False)` (none at stride 1), `downsample.1` 1x1 conv, `downsample.2` BatchNorm;
//! - head: global average pool, `fc`.
//!
//! The `se` slot's kind is read off its keys: `fc1` SE (`SEModule`), `conv` ECA (`EcaModule`;
//! CECA's `CecaModule` has the same key, so an `--arch` with `ceca` picks circular padding), `fc`
//! EffectiveSE (one 1x1 conv, hard-sigmoid gate), `channel.fc1` CBAM, `conv_attn` with `mlp_scale`
//! GC or with `mlp_add` GCA, `t`/`p`/`g`/`z` Non-local.

use super::conv_bn;
use crate::blocks::{Block, BlockKind, BlockOptions, EcaPadding, Fusion};
use crate::error::{Error, Result};
use crate::layers::{Activation, Padding, Pool};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Net, Node};

/// Whether `arch` names a model of this family.
pub fn takes(arch: &str) -> bool {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    // timm's gcresnet* and the *_ts networks (seresnet33ts, eca_resnext26ts) are ByobNets
    // (byobnet.py), whose keys are another layout.
    ["resnet", "seresnet", "seresnext", "resnext", "ecaresnet", "cecaresnet", "resnetblur", "skresnet", "skresnext", "resnest"]
        .iter()
        .any(|p| name.starts_with(p))
        && !name.ends_with("ts")
        || name.starts_with("torchvision.resnet")
        || name.starts_with("torchvision.resnext")
}

/// The attention kind a timm ResNet-family name says its blocks are (`se` for seresnet50 and
/// seresnext26d_32x4d, `eca` for ecaresnet50d and cecaresnet50t); None where the name says none.
pub fn attention_of(arch: &str) -> Option<&'static str> {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    if name.starts_with("seresne") {
        Some("se")
    } else if name.starts_with("ecaresnet") || name.starts_with("cecaresnet") {
        Some("eca")
    } else {
        None
    }
}

/// Builds the network; `arch` names it in the result (and picks CECA's circular padding).
pub fn build(dict: &StateDict, arch: &str) -> Result<Net> {
    let circular_eca = arch.contains("ceca");
    let mut nodes = stem(dict)?;
    let mut channels = dict.dim("bn1.weight", 1, 0)?;
    let mut depths = Vec::new();
    for stage in 1..=4 {
        let prefix = format!("layer{stage}");
        let blocks = (0..).take_while(|j| dict.keys().any(|k| k.starts_with(&format!("{prefix}.{j}.")))).count();
        if blocks == 0 {
            return Err(Error::Checkpoint { reason: format!("the checkpoint has no `{prefix}.0.*`: not a four-stage ResNet") });
        }
        depths.push(blocks);
        for j in 0..blocks {
            let stride = if stage > 1 && j == 0 { 2 } else { 1 };
            let path = format!("{prefix}.{j}");
            let (node, out) = block(dict, &path, channels, stride, circular_eca)?;
            nodes.push(Node::Module { path, nodes: vec![node] });
            channels = out;
        }
    }
    let fc = super::linear(dict, "fc")?;
    let classes = fc.bias.len();
    if fc.inputs != channels {
        return Err(Error::Checkpoint { reason: format!("`fc.weight` takes {} features; the last stage gives {channels}", fc.inputs) });
    }
    nodes.push(Node::Head(fc));
    dict.finish("ResNet")?;
    let net = Net { family: "timm resnet", arch: arch.to_string(), nodes, classes };
    // Without --arch, the name timm would give these depths and this attention, where it has one.
    let arch = if arch == "resnet" { name_from_weights(dict, &depths, &net) } else { arch.to_string() };
    Ok(Net { arch, ..net })
}

/// timm's name for a plain ResNet of these stage depths, the attention kind as its prefix
/// (`seresnet50`, `ecaresnet101`), `resnext` where the 3x3 convolutions are grouped, `d`/`t`
/// for the deep and tiered stems; `resnet` where the depths are no standard ones.
fn name_from_weights(dict: &StateDict, depths: &[usize], net: &Net) -> String {
    let kinds: Vec<&str> = net.attention_blocks().iter().map(|b| b.kind).collect();
    if kinds.contains(&"splat") {
        // ResNeSt counts its depth as 3 x blocks + 2; the -d stem is 32 wide, the -e stem 64.
        let depth = 3 * depths.iter().sum::<usize>() + 2;
        let stem = if dict.shape("conv1.0.weight").is_ok_and(|s| s[0] >= 64) { "e" } else { "d" };
        return format!("resnest{depth}{stem}");
    }
    if kinds.contains(&"sk") {
        let bottleneck = dict.contains("layer1.0.conv3.conv.weight");
        let depth = match (bottleneck, depths) {
            (false, [2, 2, 2, 2]) => "18",
            (false, [3, 4, 6, 3]) => "34",
            (true, [3, 4, 6, 3]) => "50",
            _ => return "skresnet".into(),
        };
        let grouped = dict.shape("layer1.0.conv2.paths.0.conv.weight").ok().zip(dict.shape("layer1.0.conv1.conv.weight").ok());
        return match grouped {
            Some((p, c1)) if p[1] * 2 != c1[0] && p[1] < c1[0] => format!("skresnext{depth}_{}x{}d", c1[0] / p[1], p[1]),
            _ => format!("skresnet{depth}{}", if dict.contains("conv1.0.weight") { "d" } else { "" }),
        };
    }
    let bottleneck = dict.contains("layer1.0.conv3.weight");
    let depth = match (bottleneck, depths) {
        (false, [2, 2, 2, 2]) => "18",
        (false, [3, 4, 6, 3]) => "34",
        (true, [2, 2, 2, 2]) => "26",
        (true, [3, 4, 6, 3]) => "50",
        (true, [3, 4, 23, 3]) => "101",
        (true, [3, 8, 36, 3]) => "152",
        _ => return "resnet".into(),
    };
    let grouped = bottleneck && dict.shape("layer1.0.conv2.weight").is_ok_and(|s| s[1] < s[0]);
    let prefix = net.attention_blocks().first().map(|b| b.kind).filter(|kind| ["se", "eca", "gc", "gca"].contains(kind)).unwrap_or("");
    let stem = match (
        dict.contains("conv1.0.weight"),
        dict.shape("conv1.0.weight").map(|s| s[0]).ok(),
        dict.shape("conv1.3.weight").map(|s| s[0]).ok(),
    ) {
        (true, Some(a), Some(b)) if a != b => "t",
        (true, ..) => "d",
        _ => "",
    };
    match dict.shape("layer1.0.conv2.weight") {
        // ResNeXt: `_{groups}x{width of a group}d`, as `seresnext26d_32x4d`.
        Ok(s) if grouped => format!("{prefix}resnext{depth}{stem}_{}x{}d", s[0] / s[1], s[1]),
        _ => format!("{prefix}resnet{depth}{stem}"),
    }
}

fn same(k: usize) -> Padding {
    Padding::Explicit(k / 2, k / 2)
}

fn kernel(dict: &StateDict, key: &str) -> Result<usize> {
    dict.dim(key, 4, 2)
}

fn stem(dict: &StateDict) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    if dict.contains("conv1.weight") {
        let k = kernel(dict, "conv1.weight")?;
        nodes.push(Node::Conv(conv_bn(dict, "conv1", "bn1", 1, 2, same(k))?));
    } else {
        // The deep stem: three 3x3 convolutions, the first with stride 2; the last one's
        // BatchNorm is `bn1`.
        nodes.push(Node::Conv(conv_bn(dict, "conv1.0", "conv1.1", 1, 2, same(kernel(dict, "conv1.0.weight")?))?));
        nodes.push(Node::Act(Activation::Relu));
        nodes.push(Node::Conv(conv_bn(dict, "conv1.3", "conv1.4", 1, 1, same(kernel(dict, "conv1.3.weight")?))?));
        nodes.push(Node::Act(Activation::Relu));
        nodes.push(Node::Conv(conv_bn(dict, "conv1.6", "bn1", 1, 1, same(kernel(dict, "conv1.6.weight")?))?));
    }
    nodes.push(Node::Act(Activation::Relu));
    nodes.push(Node::Pool(Pool { max: true, kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true }));
    Ok(nodes)
}

/// One residual block at `path` taking `channels`; returns it and its output channels.
fn block(dict: &StateDict, path: &str, channels: usize, stride: usize, circular_eca: bool) -> Result<(Node, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    let mut body = Vec::new();
    let bottleneck = dict.contains(&key("conv3.weight"));
    let out = if super::sknet::holds(dict, path) {
        let (nodes, out) = super::sknet::body(dict, path, channels, stride)?;
        body = nodes;
        out
    } else if super::resnest::holds(dict, path) {
        let (nodes, out) = super::resnest::body(dict, path, stride)?;
        body = nodes;
        out
    } else if bottleneck {
        let width = dict.dim(&key("conv1.weight"), 4, 0)?;
        let per_group = dict.dim(&key("conv2.weight"), 4, 1)?;
        let groups = if per_group > 0 && width % per_group == 0 { width / per_group } else { 0 };
        body.push(Node::Conv(conv_bn(dict, &key("conv1"), &key("bn1"), 1, 1, Padding::Explicit(0, 0))?));
        body.push(Node::Act(Activation::Relu));
        body.push(Node::Conv(conv_bn(dict, &key("conv2"), &key("bn2"), groups, stride, same(kernel(dict, &key("conv2.weight"))?))?));
        body.push(Node::Act(Activation::Relu));
        let conv3 = conv_bn(dict, &key("conv3"), &key("bn3"), 1, 1, Padding::Explicit(0, 0))?;
        let out = conv3.cout;
        body.push(Node::Conv(conv3));
        out
    } else {
        body.push(Node::Conv(conv_bn(dict, &key("conv1"), &key("bn1"), 1, stride, same(kernel(dict, &key("conv1.weight"))?))?));
        body.push(Node::Act(Activation::Relu));
        let conv2 = conv_bn(dict, &key("conv2"), &key("bn2"), 1, 1, same(kernel(dict, &key("conv2.weight"))?))?;
        let out = conv2.cout;
        body.push(Node::Conv(conv2));
        out
    };
    if dict.keys().any(|k| k.starts_with(&key("se."))) {
        body.push(Node::Attention(Box::new(attention(dict, &key("se"), circular_eca)?)));
    }
    let shortcut = if dict.contains(&key("downsample.0.weight")) {
        vec![Node::Conv(conv_bn(dict, &key("downsample.0"), &key("downsample.1"), 1, stride, Padding::Explicit(0, 0))?)]
    } else if dict.contains(&key("downsample.1.weight")) {
        let mut nodes = Vec::new();
        if stride > 1 {
            nodes.push(Node::Pool(Pool { max: false, kernel: 2, stride, padding: 0, ceil_mode: true, count_include_pad: false }));
        }
        nodes.push(Node::Conv(conv_bn(dict, &key("downsample.1"), &key("downsample.2"), 1, 1, Padding::Explicit(0, 0))?));
        nodes
    } else {
        if channels != out || stride != 1 {
            return Err(Error::Checkpoint { reason: format!("`{path}` changes the shape but has no `downsample`") });
        }
        Vec::new()
    };
    Ok((Node::Residual { body, shortcut, act: Activation::Relu, partial: false }, out))
}

/// The attention layer in a block's `se` slot (ByobNet's `attn` and `attn_last` hold the same
/// modules).
pub(super) fn attention(dict: &StateDict, path: &str, circular_eca: bool) -> Result<Attention> {
    let has = |name: &str| dict.contains(&format!("{path}.{name}"));
    let (kind, block_kind, options) = if has("fc1.weight") {
        ("se", BlockKind::Se, BlockOptions::default())
    } else if has("conv.weight") {
        let padding = if circular_eca { EcaPadding::Circular } else { EcaPadding::Zero };
        (if circular_eca { "ceca" } else { "eca" }, BlockKind::Eca, BlockOptions { padding: Some(padding), ..Default::default() })
    } else if has("fc.weight") {
        // EffectiveSE: x * hard_sigmoid(fc(mean(x))), fc a 1x1 convolution with bias.
        return super::channel_gate(dict, path, "ese", &["fc"], Activation::Identity, Activation::HardSigmoid);
    } else if has("channel.fc1.weight") {
        ("cbam", BlockKind::Cbam, BlockOptions::default())
    } else if has("conv_attn.weight") && has("mlp_add.fc1.weight") {
        ("gca", BlockKind::Gc, BlockOptions { fusion: Some(Fusion::Add), ..Default::default() })
    } else if has("conv_attn.weight") {
        ("gc", BlockKind::Gc, BlockOptions::default())
    } else if has("z.weight") {
        ("nl", BlockKind::NonLocal, BlockOptions::default())
    } else {
        let example = dict.keys().find(|k| k.starts_with(&format!("{path}."))).unwrap_or_default().to_string();
        return Err(Error::Checkpoint { reason: format!("`{example}`: an attention layer this engine does not know") });
    };
    let weights = dict.take_under(&format!("{path}."));
    let block = Block::load(block_kind, &weights, &options).map_err(|e| match e {
        Error::MissingKey { key, .. } => Error::Checkpoint { reason: format!("{path}: missing `{path}.{key}`") },
        other => other,
    })?;
    Ok(Attention { path: path.to_string(), kind, layer: AttentionLayer::Block(block), residual: false })
}
