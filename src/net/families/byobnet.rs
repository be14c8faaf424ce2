//! timm's ByobNet (`timm/models/byobnet.py`, "bring your own blocks") and the ByoaNets of
//! `byoanet.py` built with it: the `*_ts` ResNets with a tiered stem and SiLU (resnext26ts,
//! gcresnext26ts, seresnext26ts, eca_resnext26ts, the resnet33ts series, gcresnext50ts),
//! gcresnet50t, RegNetZ (regnetz_b16, c16, d8, d32, e8: SE, `bottle_in`, `linear_out`, no
//! shortcut where a block changes the shape) and BoTNet's (botnet26t_256, sebotnet33ts_256,
//! botnet50ts_256, eca_botnext26ts_256), from their state-dict names.
//!
//! The structure (facts of timm 1.0's `ByobNet` with these models' `ByoModelCfg`):
//! - every convolution is a `ConvNormAct`: `{name}.conv` (no bias), `{name}.bn`, then the
//!   model's activation (`act_layer`) unless the block says `apply_act=False`; padding timm's
//!   static `((stride - 1) + (k - 1)) / 2`;
//! - stem (`create_byob_stem`): a stack `stem.conv1`, `stem.conv2`, ... (the tiered stem's three
//!   are `3c/8`, `c/2` and `c` wide), the first with stride 2; then `MaxPool2d(3, 2, 1)` where the
//!   model has `stem_pool='maxpool'`, or else the last convolution strided too; or one 3x3
//!   `stem.conv` / `stem.bn` with stride 2;
//! - stages `stages.{i}.{j}`, the stride (the model's, not the weights') in each stage's first block;
//! - `BottleneckBlock`: `conv1_1x1` (to `mid`, from the output's width or, with `bottle_in`,
//!   the input's: the weights say), `conv2_kxk` (the stride, groups `mid / group_size`),
//!   `attn` (on `mid` channels, before `conv3_1x1`; any of the ResNet family's attention layers,
//!   [`super::resnet::attention`]), `conv3_1x1` without activation, `attn_last` (after it, where
//!   the model sets `attn_last`), + shortcut, the activation (none with `linear_out`);
//! - `SelfAttnBlock`: `conv1_1x1`, `self_attn` (BoTNet's `BottleneckAttn`,
//!   [`crate::blocks::mhsa`]: 4 heads by default, read off `qkv` and the position embedding;
//!   the stride an `AvgPool2d(2, 2)` after it), `post_attn` (a BatchNorm and the activation:
//!   the BatchNorm a depthwise 1x1 convolution here), `conv3_1x1` without activation,
//!   + shortcut, the activation;
//! - shortcut (`downsample='conv1x1'`): `shortcut.conv` 1x1 with the stride and `shortcut.bn`, no
//!   activation, where the block changes the shape (with `downsample=''`, RegNetZ's, no
//!   shortcut and no sum there); else the identity;
//! - `final_conv` (a 1x1 `ConvNormAct`) where the model has `num_features` (the 33ts series);
//! - head: global average pool, `head.fc`.
//!
//! The activation, the stem's pool, `linear_out` and the stage strides are not in the weights: they come from
//! timm's name ([`LAYOUTS`]), given by `--arch`, the checkpoint's config.json, or read from the
//! weights where only one of these networks has their depths, widths and attention. BoTNet's
//! position embedding fixes each self-attention's grid, so its input size: 256 x 256 for the
//! `_256` networks.

use super::conv_bn;
use crate::blocks::Block;
use crate::blocks::mhsa::{Mhsa, RelPos};
use crate::error::{Error, Result};
use crate::layers::params::Conv1x1;
use crate::layers::{Activation, Conv2d, Padding, Pool};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Net, Node};

/// What a ByobNet's name says and its weights do not.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub name: &'static str,
    /// `stem_pool='maxpool'`: a 3x3 max pool after the stem (else its last convolution strides).
    stem_pool: bool,
    act: Activation,
    /// Each stage's stride, in its first block.
    strides: [usize; 4],
    /// `linear_out`: no activation after a block's sum (RegNetZ).
    linear_out: bool,
}

const fn ts(name: &'static str, stem_pool: bool, act: Activation) -> Layout {
    Layout { name, stem_pool, act, strides: [1, 2, 2, 2], linear_out: false }
}

/// RegNetZ (`bottle_in`, `linear_out`, no shortcut where a block changes the shape, SE): after a
/// single 3x3 stem every stage strides (b16, c16), after the tiered stem the first does not.
const fn regnetz(name: &'static str, strides: [usize; 4]) -> Layout {
    Layout { name, stem_pool: false, act: Activation::Silu, strides, linear_out: true }
}

/// timm's ByobNets this builder runs.
pub const LAYOUTS: [Layout; 20] = [
    ts("resnext26ts", true, Activation::Silu),
    ts("gcresnext26ts", true, Activation::Silu),
    ts("seresnext26ts", true, Activation::Silu),
    ts("eca_resnext26ts", true, Activation::Silu),
    ts("gcresnext50ts", true, Activation::Silu),
    ts("resnet32ts", false, Activation::Silu),
    ts("resnet33ts", false, Activation::Silu),
    ts("gcresnet33ts", false, Activation::Silu),
    ts("seresnet33ts", false, Activation::Silu),
    ts("eca_resnet33ts", false, Activation::Silu),
    ts("gcresnet50t", false, Activation::Relu),
    // BoTNet (byoanet.py), with BottleneckAttn self-attention blocks.
    ts("botnet26t_256", true, Activation::Relu),
    ts("eca_botnext26ts_256", true, Activation::Silu),
    ts("sebotnet33ts_256", false, Activation::Silu),
    ts("botnet50ts_256", true, Activation::Silu),
    regnetz("regnetz_b16", [2, 2, 2, 2]),
    regnetz("regnetz_c16", [2, 2, 2, 2]),
    regnetz("regnetz_d8", [1, 2, 2, 2]),
    regnetz("regnetz_d32", [1, 2, 2, 2]),
    regnetz("regnetz_e8", [1, 2, 2, 2]),
];

/// Whether `name` is one of the BoTNets (self-attention blocks).
fn is_botnet(name: &str) -> bool {
    name.contains("botne")
}

fn layout(arch: &str) -> Option<Layout> {
    let name = arch.strip_prefix("timm.").unwrap_or(arch);
    // A Hub name's pretrained tag (`gcresnext26ts.ch_in1k`) is not part of the architecture.
    let name = name.split('.').next().unwrap_or(name);
    LAYOUTS.iter().find(|l| l.name == name).copied()
}

/// Whether `arch` names a ByobNet this builder runs.
pub fn takes(arch: &str) -> bool {
    layout(arch).is_some()
}

/// Whether the keys are a ByobNet's: a `stem.conv1.conv` stack or a `stem.conv` with
/// `stages.0.0.conv1_1x1` bottleneck blocks.
pub fn looks_like(dict: &StateDict) -> bool {
    (dict.contains("stem.conv1.conv.weight") || dict.contains("stem.conv.weight"))
        && dict.contains("stages.0.0.conv1_1x1.conv.weight")
        && dict.contains("head.fc.weight")
}

/// Builds the network of timm's model `arch`, or, without one, of the name its weights tell
/// ([`name_from_weights`]); a layout they leave open is refused with the names to pick from.
pub fn build(dict: &StateDict, arch: Option<&str>) -> Result<Net> {
    // Self-attention blocks (BoTNet) or none: the names to offer are of the same kind.
    let attends = dict.keys().any(|k| k.ends_with(".self_attn.pos_embed.height_rel"));
    let told = name_from_weights(dict);
    let arch = match arch {
        Some(a) => a.to_string(),
        None => told.clone().ok_or_else(|| Error::BadOption {
            option: "--arch",
            reason: format!(
                "the checkpoint is a timm ByobNet, whose activation and stem pooling the weights do not tell: name it, as --arch {}",
                LAYOUTS.iter().filter(|l| is_botnet(l.name) == attends).map(|l| l.name).collect::<Vec<_>>().join(", ")
            ),
        })?,
    };
    let Some(layout) = layout(&arch) else {
        return Err(Error::BadOption { option: "--arch", reason: format!("{arch} is not a ByobNet this engine runs") });
    };
    // A name the weights contradict is another network's: refused, not run with its settings.
    if told.as_deref().is_some_and(|t| t != layout.name) || is_botnet(layout.name) != attends {
        let fits = match told {
            Some(t) => format!("they are timm's {t}: name {t} instead, or none"),
            None if attends => "they hold BoTNet self-attention blocks: name a BoTNet".into(),
            None => "they hold no self-attention blocks: name a ByobNet without them".into(),
        };
        return Err(Error::BadOption { option: "--arch", reason: format!("{arch} does not fit these weights; {fits}") });
    }
    let act = layout.act;
    let (mut nodes, mut channels) = stem(dict, layout.stem_pool, act)?;
    for (stage, &first_stride) in layout.strides.iter().enumerate() {
        let blocks = (0..).take_while(|j| dict.keys().any(|k| k.starts_with(&format!("stages.{stage}.{j}.")))).count();
        if blocks == 0 {
            return Err(Error::Checkpoint { reason: format!("the checkpoint has no `stages.{stage}.0.*`: not a four-stage ByobNet") });
        }
        for j in 0..blocks {
            let path = format!("stages.{stage}.{j}");
            let stride = if j == 0 { first_stride } else { 1 };
            let (node, out) = if dict.contains(&format!("{path}.self_attn.qkv.weight")) {
                self_attention(dict, &path, channels, stride, act)?
            } else {
                bottleneck(dict, &path, channels, stride, act, layout.linear_out)?
            };
            nodes.push(Node::Module { path, nodes: vec![node] });
            channels = out;
        }
    }
    if dict.contains("final_conv.conv.weight") {
        let conv = conv_bn(dict, "final_conv.conv", "final_conv.bn", 1, 1, Padding::Explicit(0, 0))?;
        channels = conv.cout;
        nodes.push(Node::Module { path: "final_conv".into(), nodes: vec![Node::Conv(conv), Node::Act(act)] });
    }
    let fc = super::linear(dict, "head.fc")?;
    let classes = fc.bias.len();
    if fc.inputs != channels {
        return Err(Error::Checkpoint { reason: format!("`head.fc.weight` takes {} features; the network gives {channels}", fc.inputs) });
    }
    nodes.push(Node::Head(fc));
    dict.finish("ByobNet")?;
    // byoanet.py's networks (BoTNet) are ByobNets built with self-attention blocks.
    let family = if attends { "timm byoanet" } else { "timm byobnet" };
    Ok(Net { family, arch, nodes, classes })
}

/// The stem's convolutions (the stack's, or the single `stem.conv`'s), its activations and pool;
/// and its output channels.
fn stem(dict: &StateDict, pool: bool, act: Activation) -> Result<(Vec<Node>, usize)> {
    if dict.contains("stem.conv.weight") {
        let conv = conv_bn(dict, "stem.conv", "stem.bn", 1, 2, same(dict, "stem.conv.weight")?)?;
        let channels = conv.cout;
        return Ok((vec![Node::Conv(conv), Node::Act(act)], channels));
    }
    let count = (1..).take_while(|i| dict.contains(&format!("stem.conv{i}.conv.weight"))).count();
    if count == 0 {
        return Err(Error::Checkpoint {
            reason: "the checkpoint has no `stem.conv1.conv.weight` or `stem.conv.weight`: not a ByobNet's stem".into(),
        });
    }
    let mut nodes = Vec::new();
    let mut channels = 0;
    for i in 1..=count {
        // Stride 2 first; the last one too where no pool follows (the stem's stride is 4).
        let stride = if i == 1 || (i == count && !pool) { 2 } else { 1 };
        let name = format!("stem.conv{i}");
        let padding = same(dict, &format!("{name}.conv.weight"))?;
        let conv = conv_bn(dict, &format!("{name}.conv"), &format!("{name}.bn"), 1, stride, padding)?;
        channels = conv.cout;
        nodes.push(Node::Conv(conv));
        nodes.push(Node::Act(act));
    }
    if pool {
        nodes.push(Node::Pool(Pool { max: true, kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true }));
    }
    Ok((nodes, channels))
}

/// timm's static padding for a stride-1-or-2 odd kernel: `k / 2` on each side.
fn same(dict: &StateDict, key: &str) -> Result<Padding> {
    let k = dict.dim(key, 4, 2)?;
    Ok(Padding::Explicit(k / 2, k / 2))
}

/// timm's `BottleneckBlock` at `path` taking `channels`; returns it and its output channels.
fn bottleneck(dict: &StateDict, path: &str, channels: usize, stride: usize, act: Activation, linear_out: bool) -> Result<(Node, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    check_block(dict, path)?;
    let conv1 = conv_bn(dict, &key("conv1_1x1.conv"), &key("conv1_1x1.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let mid = conv1.cout;
    let per_group = dict.dim(&key("conv2_kxk.conv.weight"), 4, 1)?;
    let groups = if per_group > 0 && mid % per_group == 0 { mid / per_group } else { 0 };
    let padding = same(dict, &key("conv2_kxk.conv.weight"))?;
    let mut body = vec![
        Node::Conv(conv1),
        Node::Act(act),
        Node::Conv(conv_bn(dict, &key("conv2_kxk.conv"), &key("conv2_kxk.bn"), groups, stride, padding)?),
        Node::Act(act),
    ];
    if dict.keys().any(|k| k.starts_with(&key("attn."))) {
        body.push(Node::Attention(Box::new(super::resnet::attention(dict, &key("attn"), false)?)));
    }
    let conv3 = conv_bn(dict, &key("conv3_1x1.conv"), &key("conv3_1x1.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let out = conv3.cout;
    body.push(Node::Conv(conv3));
    if dict.keys().any(|k| k.starts_with(&key("attn_last."))) {
        body.push(Node::Attention(Box::new(super::resnet::attention(dict, &key("attn_last"), false)?)));
    }
    let after = if linear_out { Activation::Identity } else { act };
    Ok(match shortcut(dict, path, channels, out, stride, linear_out)? {
        Some(shortcut) => (Node::Residual { body, shortcut, act: after, partial: false }, out),
        // RegNetZ's `downsample=''`: a block that changes the shape has no shortcut at all.
        None => (Node::Module { path: path.to_string(), nodes: body }, out),
    })
}

/// Refuses a block that is not one of those this builder knows, by one of its keys.
fn check_block(dict: &StateDict, path: &str) -> Result<()> {
    if dict.contains(&format!("{path}.conv1_1x1.conv.weight")) {
        return Ok(());
    }
    let example = dict.keys().find(|k| k.starts_with(&format!("{path}."))).unwrap_or_default().to_string();
    Err(Error::Checkpoint {
        reason: format!(
            "`{example}`: a ByobNet block other than a bottleneck (conv1_1x1, conv2_kxk, conv3_1x1) or a BoTNet self-attention block, which this engine does not run yet"
        ),
    })
}

/// timm's `SelfAttnBlock` with BoTNet's `BottleneckAttn` at `path` taking `channels`; returns it
/// and its output channels.
fn self_attention(dict: &StateDict, path: &str, channels: usize, stride: usize, act: Activation) -> Result<(Node, usize)> {
    let key = |name: &str| format!("{path}.{name}");
    check_block(dict, path)?;
    if dict.keys().any(|k| k.starts_with(&key("conv2_kxk."))) {
        return Err(Error::Checkpoint {
            reason: format!(
                "`{path}.conv2_kxk`: a self-attention block with a k x k convolution before it (extra_conv), which this engine does not run yet"
            ),
        });
    }
    let conv1 = conv_bn(dict, &key("conv1_1x1.conv"), &key("conv1_1x1.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let mid = conv1.cout;
    let mut body = vec![Node::Conv(conv1), Node::Act(act)];
    body.push(Node::Attention(Box::new(bottleneck_attention(dict, &key("self_attn"), mid)?)));
    if stride == 2 {
        body.push(Node::Pool(Pool { max: false, kernel: 2, stride: 2, padding: 0, ceil_mode: false, count_include_pad: true }));
    }
    // post_attn: BatchNormAct2d, its BatchNorm a depthwise 1x1 convolution of ones, folded.
    let norm = dict.batchnorm(&key("post_attn"), mid)?;
    let identity = Conv2d::new(&key("post_attn.weight"), vec![1.0; mid], &[mid, 1, 1, 1], None, mid, 1, 1, Padding::Explicit(0, 0))?;
    body.push(Node::Conv(identity.fold(&norm)));
    body.push(Node::Act(act));
    let conv3 = conv_bn(dict, &key("conv3_1x1.conv"), &key("conv3_1x1.bn"), 1, 1, Padding::Explicit(0, 0))?;
    let out = conv3.cout;
    body.push(Node::Conv(conv3));
    let shortcut = shortcut(dict, path, channels, out, stride, false)?.unwrap_or_default();
    Ok((Node::Residual { body, shortcut, act, partial: false }, out))
}

/// BoTNet's `BottleneckAttn` at `path` on `channels`: `qkv` `(heads * (2 dim_qk + dim_v),
/// channels, 1, 1)` without bias (timm's default), `pos_embed.height_rel` `(2H - 1, dim_qk)`
/// and `pos_embed.width_rel` `(2W - 1, dim_qk)`; the heads are what is left of `qkv`'s outputs
/// after the values, over `2 dim_qk`.
fn bottleneck_attention(dict: &StateDict, path: &str, channels: usize) -> Result<Attention> {
    let key = |name: &str| format!("{path}.{name}");
    let outputs = dict.dim(&key("qkv.weight"), 4, 0)?;
    let dim_qk = dict.dim(&key("pos_embed.height_rel"), 2, 1)?;
    let (rows_h, rows_w) = (dict.dim(&key("pos_embed.height_rel"), 2, 0)?, dict.dim(&key("pos_embed.width_rel"), 2, 0)?);
    if dict.contains(&key("qkv.bias")) {
        return Err(Error::Checkpoint {
            reason: format!("`{path}.qkv.bias`: a BottleneckAttn with qkv_bias, which this engine does not run yet"),
        });
    }
    let heads = outputs.checked_sub(channels).filter(|r| dim_qk > 0 && r % (2 * dim_qk) == 0).map(|r| r / (2 * dim_qk)).unwrap_or(0);
    if heads == 0 || rows_h % 2 == 0 || rows_w % 2 == 0 {
        return Err(Error::Checkpoint {
            reason: format!(
                "`{path}`: qkv gives {outputs} channels on {channels} and the position embedding is {rows_h} and {rows_w} by {dim_qk}: not a BottleneckAttn"
            ),
        });
    }
    let qkv = Conv1x1 { weight: dict.take_shaped(&key("qkv.weight"), &[outputs, channels, 1, 1])?, bias: None, inputs: channels, outputs };
    let rel_pos = RelPos {
        height: rows_h.div_ceil(2),
        width: rows_w.div_ceil(2),
        height_rel: dict.take_shaped(&key("pos_embed.height_rel"), &[rows_h, dim_qk])?,
        width_rel: dict.take_shaped(&key("pos_embed.width_rel"), &[rows_w, dim_qk])?,
        scaled: false,
    };
    let block = Mhsa::bottleneck(qkv, heads, dim_qk, rel_pos).map_err(|e| match e {
        Error::Checkpoint { reason } => Error::Checkpoint { reason: format!("{path}: {reason}") },
        other => other,
    })?;
    Ok(Attention { path: path.to_string(), kind: "bot", layer: AttentionLayer::Block(Block::Mhsa(block)), residual: false })
}

/// A block's shortcut: `shortcut.conv` and `shortcut.bn` (timm's `conv1x1` downsampling), or
/// the identity (empty) where the block keeps the shape; `None` where it changes the shape in a
/// network without downsampling shortcuts (`none_where_reshaped`, RegNetZ's `downsample=''`).
fn shortcut(
    dict: &StateDict,
    path: &str,
    channels: usize,
    out: usize,
    stride: usize,
    none_where_reshaped: bool,
) -> Result<Option<Vec<Node>>> {
    let key = |name: &str| format!("{path}.{name}");
    Ok(Some(if dict.contains(&key("shortcut.conv.weight")) {
        vec![Node::Conv(conv_bn(dict, &key("shortcut.conv"), &key("shortcut.bn"), 1, stride, Padding::Explicit(0, 0))?)]
    } else if dict.keys().any(|k| k.starts_with(&key("shortcut."))) {
        let example = dict.keys().find(|k| k.starts_with(&key("shortcut."))).unwrap_or_default().to_string();
        return Err(Error::Checkpoint {
            reason: format!("`{example}`: a ByobNet shortcut other than conv1x1 (downsample='avg'), which this engine does not run yet"),
        });
    } else {
        if channels != out || stride != 1 {
            if none_where_reshaped {
                return Ok(None);
            }
            return Err(Error::Checkpoint { reason: format!("`{path}` changes the shape but has no `shortcut`") });
        }
        Vec::new()
    }))
}

/// timm's name for the ByobNet these weights are, where only one of [`LAYOUTS`] has their
/// stem, stage depths, groups and attention; None where the weights leave it open.
pub fn name_from_weights(dict: &StateDict) -> Option<String> {
    let depths: Vec<usize> =
        (0..4).map(|s| (0..).take_while(|j| dict.contains(&format!("stages.{s}.{j}.conv1_1x1.conv.weight"))).count()).collect();
    if let Some(name) = regnetz_from_weights(dict, &depths) {
        return Some(name.to_string());
    }
    if !dict.contains("stem.conv3.conv.weight") || dict.contains("stem.conv4.conv.weight") {
        return None;
    }
    let grouped = dict.shape("stages.0.0.conv2_kxk.conv.weight").is_ok_and(|s| s.len() == 4 && s[1] < s[0]);
    let has = |k: &str| dict.contains(&format!("stages.0.0.attn.{k}"));
    let prefix = if has("mlp_add.fc1.weight") {
        "gc"
    } else if has("fc1.weight") {
        "se"
    } else if has("conv.weight") {
        "eca_"
    } else if dict.keys().any(|k| k.starts_with("stages.0.0.attn.")) {
        return None;
    } else {
        ""
    };
    let final_conv = dict.contains("final_conv.conv.weight");
    if dict.keys().any(|k| k.ends_with(".self_attn.pos_embed.height_rel")) {
        // BoTNet: botnet26t_256 (ReLU, no attention), eca_botnext26ts_256, sebotnet33ts_256.
        let name = match (depths.as_slice(), prefix, grouped, final_conv) {
            ([2, 2, 2, 2], "", false, false) => "botnet26t_256",
            ([2, 2, 2, 2], "eca_", true, false) => "eca_botnext26ts_256",
            ([2, 3, 3, 2], "se", false, true) => "sebotnet33ts_256",
            ([3, 4, 6, 3], "", false, false) => "botnet50ts_256",
            _ => return None,
        };
        return Some(name.to_string());
    }
    let base = if grouped { "resnext" } else { "resnet" };
    let depth = match (depths.as_slice(), final_conv) {
        ([2, 2, 2, 2], false) => "26ts",
        ([2, 3, 3, 2], true) => "33ts",
        ([2, 3, 3, 2], false) => "32ts",
        ([3, 4, 6, 3], false) if grouped => "50ts",
        ([3, 4, 6, 3], false) => "50t",
        _ => return None,
    };
    let name = format!("{prefix}{base}{depth}");
    takes(&name).then_some(name)
}

/// RegNetZ, told by its SE blocks, its final 1x1 and its first block without a shortcut: b16 and
/// c16 (one 3x3 stem conv, bottleneck ratio 3 and 4), d8 and d32 (tiered stem, groups of 8 and 32
/// channels) and e8 (depths 3, 8, 16, 3).
fn regnetz_from_weights(dict: &StateDict, depths: &[usize]) -> Option<&'static str> {
    let se = dict.contains("stages.0.0.attn.fc1.weight");
    if !se || !dict.contains("final_conv.conv.weight") || dict.keys().any(|k| k.starts_with("stages.0.0.shortcut.")) {
        return None;
    }
    let (inputs, mid) =
        (dict.dim("stages.0.0.conv1_1x1.conv.weight", 4, 1).ok()?, dict.dim("stages.0.0.conv1_1x1.conv.weight", 4, 0).ok()?);
    let per_group = dict.dim("stages.0.0.conv2_kxk.conv.weight", 4, 1).ok()?;
    match (dict.contains("stem.conv.weight"), depths) {
        (true, [2, 6, 12, 2]) if mid == 3 * inputs => Some("regnetz_b16"),
        (true, [2, 6, 12, 2]) if mid == 4 * inputs => Some("regnetz_c16"),
        (false, [3, 6, 12, 3]) if per_group == 8 => Some("regnetz_d8"),
        (false, [3, 6, 12, 3]) if per_group == 32 => Some("regnetz_d32"),
        (false, [3, 8, 16, 3]) => Some("regnetz_e8"),
        _ => None,
    }
}
