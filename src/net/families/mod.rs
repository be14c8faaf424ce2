//! One small builder per family of networks, each reading the reference library's own state-dict
//! names into a [`Net`]. [`build`] picks the builder from `--arch` or, where the weights tell
//! (the ResNet and RegNet families), from the keys.

pub mod efficientnet;
pub mod regnet;
pub mod resnet;
pub mod scenes;
pub mod torchvision;

use super::Net;
use super::checkpoint::{StateDict, describe};
use super::layers::{Activation, Conv2d, Linear, Padding, WeightId};
use super::{Attention, AttentionLayer};
use crate::error::{Error, Result, Shape};

/// The architectures supported, for messages.
pub const SUPPORTED: &str = "timm's ResNet family (resnet*, seresnet*, seresnext*, ecaresnet*, ...; BasicBlock and Bottleneck, \
    deep and tiered stems, average-pool downsampling, ResNeXt groups, se/eca/ceca/ese/cbam/gc/gca/nl attention), \
    timm's regnetx_* and regnety_*, \
    timm's efficientnet_b*, tf_efficientnet_b*, mobilenetv3_large_*, mobilenetv3_small_* (with --arch), \
    torchvision's resnet18/50, mobilenet_v3_large, mobilenet_v3_small, efficientnet_b0..b7 (with --arch torchvision.NAME), \
    and the playground's own scenes network (src/model/trained.safetensors)";

/// Whether the engine has a builder for timm's (or torchvision's) model name `arch`.
pub fn runs(arch: &str) -> bool {
    arch == scenes::FAMILY || resnet::takes(arch) || efficientnet::takes(arch) || regnet::takes(arch) || torchvision::takes(arch)
}

/// Builds the network of `dict`: as `arch` when the user names one; else as `config_arch`, the
/// name a checkpoint's `config.json` gives ([`crate::net::config`]), where the engine runs it;
/// else from the keys. A config's name the engine does not run is named in the refusal.
pub fn build_with_config(dict: &StateDict, arch: Option<&str>, config_arch: Option<&str>) -> Result<Net> {
    match (arch, config_arch) {
        (Some(_), _) | (None, None) => build(dict, arch),
        // A name of a family the engine runs, on keys of another kind (timm's ByobNet
        // `gcresnet50t` is no timm.models.resnet ResNet): the refusal says what it looks like.
        (None, Some(name)) if runs(name) => build(dict, Some(name)).map_err(|e| {
            let looks = describe(dict);
            if ["a ResNet", "a timm RegNet", "a timm EfficientNet or MobileNetV3", "a torchvision MobileNet, EfficientNet or VGG"]
                .contains(&looks)
            {
                e
            } else {
                not_run(name, looks)
            }
        }),
        (None, Some(name)) => build(dict, None).map_err(|_| not_run(name, describe(dict))),
    }
}

fn not_run(name: &str, looks: &str) -> Error {
    Error::BadOption {
        option: "--arch",
        reason: format!(
            "its config.json names the architecture {name}, which this engine does not run yet (the checkpoint looks like {looks}); supported: {SUPPORTED}"
        ),
    }
}

/// Builds the network of `dict`, for `arch` (timm's model name) when given.
pub fn build(dict: &StateDict, arch: Option<&str>) -> Result<Net> {
    let looks_like_resnet =
        dict.keys().any(|k| k.starts_with("layer1.")) && (dict.contains("conv1.weight") || dict.contains("conv1.0.weight"));
    match arch {
        Some(scenes::FAMILY) => scenes::build_dict(dict),
        None if scenes::looks_like(dict) => scenes::build_dict(dict),
        Some(name) if resnet::takes(name) => resnet::build(dict, name),
        Some(name) if efficientnet::takes(name) => efficientnet::build(dict, name),
        Some(name) if regnet::takes(name) => regnet::build(dict, name),
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
        None if dict.contains("conv_stem.weight") => Err(Error::BadOption {
            option: "--arch",
            reason: "the checkpoint is a timm EfficientNet or MobileNetV3, whose strides and activations the weights do not tell: \
                name it, e.g. --arch efficientnet_b0, tf_efficientnet_b0, mobilenetv3_large_100 or mobilenetv3_small_100"
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
            let shape = dict.shape(&key)?.to_vec();
            let (out, inputs) = (shape[0], shape.get(1).copied().unwrap_or(0));
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
