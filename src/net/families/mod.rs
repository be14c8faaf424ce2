//! One small builder per family of networks, each reading the reference library's own state-dict
//! names into a [`Net`]. [`build`] picks the builder from `--arch` or, where the weights tell
//! (the ResNet and RegNet families), from the keys.

pub mod byobnet;
pub mod efficientnet;
pub mod ghostnet;
pub mod regnet;
pub mod resnest;
pub mod resnet;
pub mod rexnet;
pub mod scenes;
pub mod sknet;
pub mod torchvision;

use super::Net;
use super::checkpoint::{StateDict, describe};
use super::config::CheckpointConfig;
use super::layers::{Activation, Conv2d, Linear, Padding, WeightId};
use super::{Attention, AttentionLayer};
use crate::error::{Error, Result, Shape};

/// The architectures supported, for messages.
pub const SUPPORTED: &str = "timm's ResNet family (resnet*, seresnet*, seresnext*, ecaresnet*, ...; BasicBlock and Bottleneck, \
    deep and tiered stems, average-pool downsampling, ResNeXt groups, se/eca/ceca/ese/cbam/gc/gca/nl attention), \
    timm's skresnet*/skresnext* (Selective Kernel) and resnest* (Split Attention), \
    timm's ByobNet resnext26ts, gcresnext26ts, seresnext26ts, eca_resnext26ts, resnet32ts, resnet33ts, gcresnet33ts, seresnet33ts, eca_resnet33ts, gcresnet50t and gcresnext50ts, \
    timm's RegNetZ regnetz_b16, regnetz_c16, regnetz_d8, regnetz_d32 and regnetz_e8, \
    timm's BoTNet botnet26t_256, eca_botnext26ts_256, sebotnet33ts_256 and botnet50ts_256 (bottleneck self-attention), \
    timm's regnetx_* and regnety_*, timm's rexnet_* and rexnetr_*, timm's ghostnet_* (v1), \
    timm's efficientnet_b*, tf_efficientnet_b*, mobilenetv3_large_*, mobilenetv3_small_*, mnasnet_*, semnasnet_*, mixnet_*, tf_mixnet_* (with --arch), lcnet_*, \
    torchvision's resnet18/50, mobilenet_v3_large, mobilenet_v3_small, efficientnet_b0..b7 (with --arch torchvision.NAME), \
    and the playground's own scenes network (src/model/trained.safetensors)";

/// Whether the engine has a builder for timm's (or torchvision's) model name `arch`.
pub fn runs(arch: &str) -> bool {
    arch == scenes::FAMILY
        || resnet::takes(arch)
        || efficientnet::takes(arch)
        || regnet::takes(arch)
        || byobnet::takes(arch)
        || rexnet::takes(arch)
        || ghostnet::takes(arch)
        || torchvision::takes(arch)
}

/// Builds the network of `dict`: as `arch` when the user names one; else as the architecture
/// the checkpoint's `config.json` names ([`crate::net::config`]), which must be one the engine
/// runs and must fit the weights; else from the keys. A config whose architecture, class count or
/// attention does not fit the weights is refused by name: they are not the same network.
pub fn build_with_config(dict: &StateDict, arch: Option<&str>, config: Option<&CheckpointConfig>) -> Result<Net> {
    let named = config.and_then(|c| c.architecture.as_deref());
    let net = match (arch, named) {
        (Some(_), _) | (None, None) => build(dict, arch)?,
        (None, Some(name)) if runs(name) => build(dict, Some(name)).map_err(|e| {
            // Weights the engine builds from their keys, or of a family it does not know, are
            // another network's; a known family's that fail are named by the builder.
            let looks = describe(dict);
            if KNOWN_FAMILIES.contains(&looks) && build(dict, None).is_err() { e } else { not_its_weights(name, looks) }
        })?,
        (None, Some(name)) => {
            return Err(match build(dict, None) {
                Ok(_) => not_its_weights(name, describe(dict)),
                Err(_) => not_run(name, describe(dict)),
            });
        }
    };
    if let Some(config) = config {
        let mismatch = |reason: String| Error::BadOption { option: "--config", reason };
        if let Some(n) = config.num_classes
            && n != net.classes
        {
            return Err(mismatch(format!(
                "its config.json says {n} classes, but the checkpoint's head has {}: they are not the same network's",
                net.classes
            )));
        }
        // timm's ResNet names say their attention: a name whose blocks are not the weights' is
        // another network's config.
        if arch.is_none()
            && let Some(name) = named
            && let Some(expected) = resnet::attention_of(name)
            && !net.attention_blocks().iter().any(|b| b.kind.contains(expected))
        {
            let found = crate::net::report::block_counts(&net.attention_blocks());
            return Err(mismatch(format!(
                "its config.json names {name}, a network with {expected} blocks, but the checkpoint holds {found}: they are not the same network's"
            )));
        }
    }
    Ok(net)
}

/// What [`describe`] says of a MixNet (built by the EfficientNet builder, named with `--arch`).
const MIXNET: &str = "a timm MixNet (mixnet_*, mixed depthwise kernels)";

/// What [`describe`] says of SKNet and ResNeSt (built by the ResNet builder).
const SKNET: &str = "a timm SKNet (skresnet*, Selective Kernel)";
const RESNEST: &str = "a timm ResNeSt (resnest*, Split Attention)";

/// What [`describe`] says of a ByobNet, and of BoTNet (a ByobNet with self-attention blocks).
const BYOBNET: &str = "a timm ByobNet (gcresnet50t, the *_ts networks) or another stage-based network";
const BOTNET: &str = "a timm BoTNet (botnet*: bottleneck self-attention)";

/// What [`describe`] says of the families the engine builds.
const KNOWN_FAMILIES: [&str; 11] = [
    "a ResNet",
    BYOBNET,
    BOTNET,
    SKNET,
    RESNEST,
    "a timm RegNet",
    "a timm EfficientNet or MobileNetV3",
    "a timm ReXNet (rexnet_*)",
    "a timm GhostNet (ghostnet_*)",
    MIXNET,
    "a torchvision MobileNet, EfficientNet or VGG",
];

fn not_run(name: &str, looks: &str) -> Error {
    Error::BadOption {
        option: "--config",
        reason: format!(
            "its config.json names the architecture {name}, which this engine does not run yet (the checkpoint looks like {looks}); supported: {SUPPORTED}"
        ),
    }
}

fn not_its_weights(name: &str, looks: &str) -> Error {
    Error::BadOption {
        option: "--config",
        reason: format!("its config.json names the architecture {name}, but the checkpoint looks like {looks}: not that network's weights"),
    }
}

/// Builds the network of `dict`, for `arch` (timm's model name) when given.
pub fn build(dict: &StateDict, arch: Option<&str>) -> Result<Net> {
    // A ResNet's keys, SKNet's and ResNeSt's among them (timm builds both with its ResNet).
    let looks_like_resnet = matches!(describe(dict), "a ResNet" | SKNET | RESNEST);
    match arch {
        Some(scenes::FAMILY) => scenes::build_dict(dict),
        None if scenes::looks_like(dict) => scenes::build_dict(dict),
        Some(name) if resnet::takes(name) => resnet::build(dict, name),
        Some(name) if efficientnet::takes(name) => efficientnet::build(dict, name),
        Some(name) if regnet::takes(name) => regnet::build(dict, name),
        Some(name) if byobnet::takes(name) => byobnet::build(dict, Some(name)),
        Some(name) if rexnet::takes(name) => rexnet::build(dict, name),
        Some(name) if ghostnet::takes(name) => ghostnet::build(dict, name),
        Some(name) if torchvision::takes(name) => torchvision::build(dict, name),
        Some(name) if name.starts_with("torchvision.") && looks_like_resnet => resnet::build(dict, name),
        Some(name) => Err(Error::BadOption {
            option: "--arch",
            reason: format!("{name} is not supported yet (the checkpoint looks like {}); supported: {SUPPORTED}", describe(dict)),
        }),
        None if looks_like_resnet => resnet::build(dict, "resnet"),
        None if dict.contains("stem.conv.weight") && dict.keys().any(|k| k.starts_with("s1.b1.")) => regnet::build(dict, "regnet"),
        None if dict.keys().any(|k| k.starts_with("features.1.block.") || k.starts_with("features.1.0.block.")) => {
            let efficientnet = dict.keys().any(|k| k.starts_with("features.1.0.block."));
            Err(Error::BadOption {
                option: "--arch",
                reason: if efficientnet {
                    "the checkpoint is a torchvision EfficientNet, whose BatchNorm eps (B5 to B7 differ) the weights do not tell: \
                        name it, e.g. --arch torchvision.efficientnet_b0 (b0 to b7)"
                } else {
                    "the checkpoint is a torchvision MobileNetV3, whose strides and activations the weights do not tell: \
                        name it, --arch torchvision.mobilenet_v3_large or torchvision.mobilenet_v3_small"
                }
                .into(),
            })
        }
        None if [BYOBNET, BOTNET].contains(&describe(dict)) && byobnet::looks_like(dict) => byobnet::build(dict, None),
        None if efficientnet::looks_like_lcnet(dict) => efficientnet::build(dict, "lcnet"),
        None if rexnet::looks_like(dict) => rexnet::build(dict, "rexnet"),
        None if ghostnet::looks_like(dict) => ghostnet::build(dict, "ghostnet"),
        None if matches!(describe(dict), "a timm EfficientNet or MobileNetV3" | MIXNET) => Err(Error::BadOption {
            option: "--arch",
            reason: "the checkpoint is a timm EfficientNet, MobileNetV3, MNASNet or MixNet, whose strides and activations the weights do not tell: \
                name it, e.g. --arch efficientnet_b0, tf_efficientnet_b0, mobilenetv3_large_100, mobilenetv3_small_100, mnasnet_100, semnasnet_100, mixnet_s or mixnet_m"
                .into(),
        }),
        None => Err(Error::BadOption {
            option: "--model",
            reason: format!("the checkpoint looks like {}, which is not supported yet; supported: {SUPPORTED}", describe(dict)),
        }),
    }
}

/// The convolution `{name}.weight` (no bias) with the BatchNorm `{bn}` folded in (`eps` 1e-5).
pub(crate) fn conv_bn(dict: &StateDict, name: &str, bn: &str, groups: usize, stride: usize, padding: Padding) -> Result<Conv2d> {
    conv_bn_eps(dict, name, bn, groups, stride, padding, crate::kernels::norm::BatchNorm::EPS)
}

/// [`conv_bn`] with the BatchNorm's `eps`.
pub(crate) fn conv_bn_eps(
    dict: &StateDict,
    name: &str,
    bn: &str,
    groups: usize,
    stride: usize,
    padding: Padding,
    eps: f32,
) -> Result<Conv2d> {
    let conv = conv(dict, name, groups, stride, padding)?;
    let norm = dict.batchnorm(bn, conv.cout)?;
    Ok(conv.fold_with_eps(&norm, eps))
}

/// The convolution `{name}.weight`, with `{name}.bias` where the checkpoint has one.
pub(crate) fn conv(dict: &StateDict, name: &str, groups: usize, stride: usize, padding: Padding) -> Result<Conv2d> {
    let key = format!("{name}.weight");
    let shape = dict.shape(&key)?.to_vec();
    let weight = dict.take(&key)?.into_data();
    let bias = if dict.contains(&format!("{name}.bias")) { Some(dict.take(&format!("{name}.bias"))?.into_data()) } else { None };
    Conv2d::new(&key, weight, &shape, bias, groups, stride, 1, padding)
}

/// A channel gate at `path` from its 1x1 convolutions `{path}.{name}` (weight and bias), in
/// order, as the families' squeeze-and-excitation modules hold them:
/// `x * gate(fc_n(act(... fc_1(mean(x)))))`.
pub(crate) fn channel_gate(
    dict: &StateDict,
    path: &str,
    kind: &'static str,
    names: &[&str],
    act: Activation,
    gate: Activation,
) -> Result<Attention> {
    let layers = names
        .iter()
        .map(|name| {
            let key = format!("{path}.{name}.weight");
            let (out, inputs) = (dict.dim(&key, 4, 0)?, dict.dim(&key, 4, 1)?);
            Ok(Linear {
                id: WeightId::fresh(),
                weight: dict.take_shaped(&key, &[out, inputs, 1, 1])?,
                bias: dict.take_shaped(&format!("{path}.{name}.bias"), &[out])?,
                inputs,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Attention { path: path.to_string(), kind, layer: AttentionLayer::Gate { layers, act, gate }, residual: false })
}

/// The `Linear` `{path}.weight` `(out, in)` and `{path}.bias`.
pub(crate) fn linear(dict: &StateDict, path: &str) -> Result<Linear> {
    let key = format!("{path}.weight");
    let shape = dict.shape(&key)?.to_vec();
    let [out, inputs] = shape[..] else {
        return Err(Error::WrongShape { key, expected: "[out, in]".into(), found: Shape(shape) });
    };
    Ok(Linear {
        id: WeightId::fresh(),
        weight: dict.take_shaped(&key, &shape)?,
        bias: dict.take_shaped(&format!("{path}.bias"), &[out])?,
        inputs,
    })
}
