//! The bundled network, trained on generated scenes (`crate::model`, `tools/train`), as one more
//! [`Net`]:
//!
//! ```text
//! SceneStem                                   the photo at 96 px, 16 fixed named channels at 1/4
//! se, eca, gc                                 each a module of its own, on the named channels
//! body.conv1: Conv 3x3 16->32 (bias), ReLU, MaxPool2d(2)
//! cbam, nonlocal, mhsa (x + mhsa(x))          each a module of its own
//! body.conv2: Conv 3x3 32->64 (bias), ReLU, MaxPool2d(2)
//! body.conv3: Conv 3x3 64->128 (bias), ReLU   a grid of at most 6 x 6: the stem's scaling sees to it
//! Head: mean over positions, head.fc 128->6
//! ```
//!
//! Every block's module path is its key prefix (`se`, `cbam`, ...), and so is its attention path
//! (its kind too, but Non-local's, `nl` as in timm's ResNet family);
//! a block that is not built is absent (`crate::model::Model` builds the ones switched on, with
//! their options). MHSA is a residual branch ([`Attention::residual`]: `x + mhsa(x)`, as in
//! BoTNet; timm's `Attention2d` has none of its own), so switching it off leaves `x`.

use crate::blocks::{Block, BlockKind, BlockOptions};
use crate::error::{Error, Result};
use crate::layers::{Activation, Conv2d, Linear, Padding, Pool, WeightId};
use crate::net::checkpoint::StateDict;
use crate::net::{Attention, AttentionLayer, Net, Node};
use crate::scenes::CLASSES;
use crate::weights::Weights;

pub mod image;
pub mod stem;

/// Blocks on the stem's named channels, in the order they run.
pub const EARLY_BLOCKS: [BlockKind; 3] = [BlockKind::Se, BlockKind::Eca, BlockKind::Gc];
/// Blocks after the first convolution, in the order they run.
pub const LATE_BLOCKS: [BlockKind; 3] = [BlockKind::Cbam, BlockKind::NonLocal, BlockKind::Mhsa];
/// Channels after `body.conv1`, `body.conv2` and `body.conv3`.
pub const BODY_WIDTHS: [usize; 3] = [32, 64, 128];
/// The trained network's self-attention heads.
pub const MHSA_HEADS: usize = 4;
/// CBAM's hidden width in the trained network: timm's `CbamModule(32, rd_ratio=1/4)`. timm's
/// default ratio, 1/16, gives 2 hidden units, and its MLP has no bias: in the block-dropout
/// training both units ended below zero on every input, which left the channel gate at 0.5 for
/// every channel. (The engine reads a block's hidden width from its weights.)
pub const CBAM_RD: usize = 8;

/// The channel count a block sees in this network.
pub fn channels_at(kind: BlockKind) -> usize {
    if EARLY_BLOCKS.contains(&kind) { stem::CHANNELS } else { BODY_WIDTHS[0] }
}

/// The options the network was trained with: timm's defaults, and [`MHSA_HEADS`] heads.
pub fn trained_options(kind: BlockKind) -> BlockOptions {
    BlockOptions { heads: (kind == BlockKind::Mhsa).then_some(MHSA_HEADS), ..Default::default() }
}

/// Names of a block's channels when they have names (the early blocks see the stem's).
pub fn channel_names(kind: BlockKind) -> Option<&'static [&'static str]> {
    EARLY_BLOCKS.contains(&kind).then_some(&stem::CHANNEL_NAMES[..])
}

/// Loads a block's weights for its place in this network: the block's own checks (names,
/// shapes, options) and the channel count it sees here.
pub fn load_block(kind: BlockKind, weights: &Weights, options: &BlockOptions) -> Result<Block> {
    let block = Block::load(kind, weights, options)?;
    let expected = channels_at(kind);
    match block.channels() {
        Some(c) if c != expected => Err(Error::BadOption {
            option: "weights",
            reason: format!("block {} sits on {expected} channels in this network; these weights are for {c}", kind.name()),
        }),
        _ => Ok(block),
    }
}

/// The family's name in a [`Net`].
pub const FAMILY: &str = "scenes";

/// Whether `dict` is this network's state dict (`body.conv1.weight` and `head.fc.weight`).
pub fn looks_like(dict: &StateDict) -> bool {
    dict.contains("body.conv1.weight") && dict.contains("head.fc.weight")
}

/// Builds the network from a checkpoint (`net --model src/model/trained.safetensors`, or the page's
/// "Open a network…"): every block whose keys it holds, with the options it was trained with.
/// Errors: as [`build`]; a key no layer takes.
pub fn build_dict(dict: &StateDict) -> Result<Net> {
    let present: Vec<(BlockKind, BlockOptions)> = BlockKind::ALL
        .iter()
        .filter(|kind| dict.keys().any(|k| k.starts_with(&format!("{}.", kind.name()))))
        .map(|&kind| (kind, trained_options(kind)))
        .collect();
    // The layers' and the present blocks' keys; any other is left for `finish` to name.
    let ours = |k: &str| {
        ["body.conv1.", "body.conv2.", "body.conv3.", "head.fc."].iter().any(|p| k.starts_with(p))
            || present.iter().any(|(kind, _)| k.starts_with(&format!("{}.", kind.name())))
    };
    let keys: Vec<String> = dict.keys().filter(|k| ours(k)).map(String::from).collect();
    let weights = Weights::from_tensors(keys.iter().map(|k| dict.take(k).map(|t| (k.clone(), t))).collect::<Result<Vec<_>>>()?);
    let net = build(&weights, &present)?;
    dict.finish("scenes")?;
    Ok(net)
}

/// PyTorch's `MaxPool2d(2)`.
const MAX_POOL_2: Pool = Pool { max: true, kernel: 2, stride: 2, padding: 0, ceil_mode: false, count_include_pad: true };

/// Builds the network from its state dict (`body.conv1.weight`, ..., `head.fc.bias`, each block's
/// keys under its name), with the blocks of `blocks` and their options; the keys of other blocks
/// are ignored. Errors: a missing or misshapen key, named with its layer; a block's weights that
/// do not fit the channels it sees here.
pub fn build(weights: &Weights, blocks: &[(BlockKind, BlockOptions)]) -> Result<Net> {
    let conv = |name: &'static str, cin: usize, cout: usize| -> Result<Conv2d> {
        let layer = weights.under(&format!("{name}."));
        let mut r = layer.reader(name);
        let shape = [cout, cin, 3, 3];
        let weight = r.require("weight", &shape)?;
        let bias = r.require("bias", &[cout])?;
        Conv2d::new(&format!("{name}.weight"), weight, &shape, Some(bias), 1, 1, 1, Padding::Explicit(1, 1))
    };
    let layer = |name: &'static str, cin: usize, cout: usize, pool: bool| -> Result<Node> {
        let mut nodes = vec![Node::Conv(conv(name, cin, cout)?), Node::Act(Activation::Relu)];
        if pool {
            nodes.push(Node::Pool(MAX_POOL_2));
        }
        Ok(Node::Module { path: name.to_string(), nodes })
    };
    let attention = |kinds: &[BlockKind]| -> Result<Vec<Node>> {
        let mut nodes = Vec::new();
        for &kind in kinds {
            let Some((_, options)) = blocks.iter().find(|(k, _)| *k == kind) else { continue };
            let path = kind.name();
            let block = load_block(kind, &weights.under(&format!("{path}.")), options)?;
            let residual = kind == BlockKind::Mhsa;
            // Non-local's kind as timm's ResNet family names it (`nl`), so the page treats it alike.
            let kind = if kind == BlockKind::NonLocal { "nl" } else { path };
            let attention = Attention { path: path.to_string(), kind, layer: AttentionLayer::Block(block), residual };
            nodes.push(Node::Module { path: path.to_string(), nodes: vec![Node::Attention(Box::new(attention))] });
        }
        Ok(nodes)
    };
    let head_weights = weights.under("head.fc.");
    let mut head = head_weights.reader("head.fc");
    let features = BODY_WIDTHS[2];
    let head = Linear {
        id: WeightId::fresh(),
        weight: head.require("weight", &[CLASSES.len(), features])?,
        bias: head.require("bias", &[CLASSES.len()])?,
        inputs: features,
    };

    let mut nodes = vec![Node::SceneStem];
    nodes.extend(attention(&EARLY_BLOCKS)?);
    nodes.push(layer("body.conv1", stem::CHANNELS, BODY_WIDTHS[0], true)?);
    nodes.extend(attention(&LATE_BLOCKS)?);
    nodes.push(layer("body.conv2", BODY_WIDTHS[0], BODY_WIDTHS[1], true)?);
    nodes.push(layer("body.conv3", BODY_WIDTHS[1], BODY_WIDTHS[2], false)?);
    nodes.push(Node::Head(head));
    Ok(Net { family: FAMILY, arch: FAMILY.into(), nodes, classes: CLASSES.len() })
}
