//! Weights saved by other codes than timm, for blocks whose semantics the engine's options
//! already cover: recognised by their key names, renamed (and reshaped) to timm's, with the
//! options the code implies. This is the one place that knows other codes' names.
//!
//! - AlexHex7/Non-local_pytorch (`lib/non_local_*.py`): `theta`, `phi`, `g`, `W.0` (conv),
//!   `W.1` (BatchNorm), or `W` alone with `bn_layer=False`; `g.0`, `phi.0` with `sub_sample=True`
//!   (its default); `concat_project.0` for the concatenation form. No logit scale.
//! - mmcv's `NonLocal2d` (`mmcv/cnn/bricks/non_local.py`): `theta.conv`, `phi.conv`, `g.conv`,
//!   `conv_out.conv` (no bias beside a norm) and `conv_out.bn`; `g.0.conv`, `phi.0.conv` with
//!   `sub_sample`. Its `use_scale=True` (the default) divides embedded-Gaussian logits by
//!   `sqrt(inter_channels)`: `--scale inner`; its Gaussian form has no scale. Output `x + conv_out(y)`.
//! - The official CBAM code (Jongchan/attention-module `MODELS/cbam.py`): `ChannelGate.mlp.1` and
//!   `.3` are 2-D `Linear` weights with bias, `SpatialGate.spatial.conv` (no bias) and
//!   `SpatialGate.spatial.bn`; the pooled maps are concatenated max first: `--spatial-order max-mean`.
//!
//! Options the caller gives always win over those a convention implies. Names that match no
//! convention pass through unchanged, so [`Block::load`] reports them as it always has.

use std::collections::BTreeMap;

use super::{Block, BlockKind, BlockOptions, Pairwise, ScaleMode, SpatialOrder};
use crate::error::{Error, Result};
use crate::kernels::norm::BatchNorm;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// Whose names a state dict uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    Timm,
    AlexHex7,
    Mmcv,
    CbamOfficial,
}

impl Convention {
    pub fn name(self) -> &'static str {
        match self {
            Convention::Timm => "timm",
            Convention::AlexHex7 => "AlexHex7/Non-local_pytorch",
            Convention::Mmcv => "mmcv's NonLocal2d",
            Convention::CbamOfficial => "the official CBAM code (Jongchan/attention-module)",
        }
    }

    /// The conventions a block of `kind` may come in, timm's first.
    fn all_for(kind: BlockKind) -> &'static [Convention] {
        match kind {
            BlockKind::NonLocal => &[Convention::Timm, Convention::AlexHex7, Convention::Mmcv],
            BlockKind::Cbam => &[Convention::Timm, Convention::CbamOfficial],
            _ => &[Convention::Timm],
        }
    }

    /// Keys every state dict of this convention has: one per slot, under one of the slot's names.
    /// The first slot's names are what a search under prefixes looks for.
    fn signature(self, kind: BlockKind) -> &'static [&'static [&'static str]] {
        match (self, kind) {
            (Convention::Timm, BlockKind::Se) => &[&["fc1.weight"], &["fc2.weight"]],
            (Convention::Timm, BlockKind::Cbam) => &[&["channel.fc1.weight"], &["spatial.conv.conv.weight"]],
            (Convention::Timm, BlockKind::NonLocal) => &[&["z.weight"], &["g.weight"]],
            (Convention::Timm, BlockKind::Eca) => &[&["conv.weight"]],
            (Convention::Timm, BlockKind::Gc) => &[&["conv_attn.weight"]],
            (Convention::Timm, BlockKind::Mhsa) => &[&["qkv.weight"], &["proj.weight"]],
            (Convention::AlexHex7, _) => &[&["W.0.weight", "W.weight"], &["g.weight", "g.0.weight"]],
            (Convention::Mmcv, _) => &[&["conv_out.conv.weight"], &["g.conv.weight", "g.0.conv.weight"]],
            (Convention::CbamOfficial, _) => &[&["ChannelGate.mlp.1.weight"], &["ChannelGate.mlp.3.weight"]],
        }
    }

    /// `(this convention's module path, timm's)`: the first that starts a key renames it.
    fn renames(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Convention::Timm => &[],
            Convention::AlexHex7 => &[
                ("theta.", "t."),
                ("phi.0.", "p."),
                ("phi.", "p."),
                ("g.0.", "g."),
                ("W.0.", "z."),
                ("W.1.", "norm."),
                ("W.", "z."),
                ("concat_project.0.", "concat_project."),
            ],
            Convention::Mmcv => &[
                ("theta.conv.", "t."),
                ("phi.0.conv.", "p."),
                ("phi.conv.", "p."),
                ("g.0.conv.", "g."),
                ("g.conv.", "g."),
                ("conv_out.conv.", "z."),
                ("conv_out.bn.", "norm."),
                ("concat_project.conv.", "concat_project."),
            ],
            Convention::CbamOfficial => &[
                ("ChannelGate.mlp.1.", "channel.fc1."),
                ("ChannelGate.mlp.3.", "channel.fc2."),
                ("SpatialGate.spatial.conv.", "spatial.conv.conv."),
                ("SpatialGate.spatial.bn.", "spatial.conv.bn."),
            ],
        }
    }

    /// Whether the keys under `prefix` are a block of this convention.
    fn matches(self, kind: BlockKind, weights: &Weights, prefix: &str) -> bool {
        let get = |key: &str| weights.get(&format!("{prefix}{key}"));
        let complete = self.signature(kind).iter().all(|slot| slot.iter().any(|k| get(k).is_some()));
        // ECA's one key is named like any convolution's: only its (1, 1, k) shape tells it apart.
        complete && (kind != BlockKind::Eca || get("conv.weight").is_some_and(|t| matches!(t.shape(), [1, 1, _])))
    }
}

/// A block's weights under timm's names, with what their convention implies.
#[derive(Debug, Clone)]
pub struct Ported {
    pub weights: Weights,
    pub convention: Convention,
    /// The options the convention implies; the caller's own options win ([`Ported::options`]).
    pub defaults: BlockOptions,
    /// One line saying which convention was assumed and what that implies; `None` for timm's
    /// names. The CLI prints it on stderr, the page gets it from `loadWeights`.
    pub note: Option<String>,
}

impl Ported {
    fn timm(weights: Weights) -> Self {
        Self { weights, convention: Convention::Timm, defaults: BlockOptions::default(), note: None }
    }

    /// The caller's options, with the convention's filling in those not given.
    pub fn options(&self, given: &BlockOptions) -> BlockOptions {
        given.or_defaults(&self.defaults)
    }

    /// An error about these weights, saying whose names they were read with.
    pub fn explain(&self, e: Error) -> Error {
        match self.convention {
            Convention::Timm => e,
            other => Error::Ported { convention: other.name(), inner: Box::new(e) },
        }
    }

    /// [`Block::load`] with [`Ported::options`], errors explained.
    pub fn load(&self, kind: BlockKind, given: &BlockOptions) -> Result<Block> {
        Block::load(kind, &self.weights, &self.options(given)).map_err(|e| self.explain(e))
    }
}

/// A user's weights file for one block: read (a file that is not safetensors named for what it
/// is), the keys under `prefix` taken, the convention recognised. What the CLI, `render` and
/// the page all do with a weights file.
pub fn read_block_weights(bytes: &[u8], file: &str, prefix: &str, kind: BlockKind, given: &BlockOptions) -> Result<Ported> {
    let (weights, taken) = Weights::read_under(bytes, file, prefix)?;
    recognise_under(kind, weights, &taken, given)
}

/// Recognises the convention of a block's state dict and renames it to timm's. A dict with no
/// block at its top level but one under a prefix is refused with that prefix.
pub fn recognise(kind: BlockKind, weights: Weights, given: &BlockOptions) -> Result<Ported> {
    recognise_under(kind, weights, "", given)
}

/// [`recognise`]; `taken` is the prefix already stripped, for the message.
fn recognise_under(kind: BlockKind, weights: Weights, taken: &str, given: &BlockOptions) -> Result<Ported> {
    for &convention in Convention::all_for(kind) {
        if convention.matches(kind, &weights, "") {
            return match convention {
                Convention::Timm => Ok(Ported::timm(weights)),
                other => convert(other, kind, &weights, given),
            };
        }
    }
    let found = under_prefixes(kind, &weights);
    let Some((prefix, &(convention, anchor))) = found.iter().next() else {
        return Ok(Ported::timm(weights));
    };
    let mut detail = match convention {
        Convention::Timm => String::new(),
        other => format!(", the names of {}", other.name()),
    };
    let others: Vec<String> = found.keys().skip(1).map(|p| format!("`{taken}{p}`")).collect();
    if !others.is_empty() {
        let listed = others.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let more = if others.len() > 3 { format!(" and {} more", others.len() - 3) } else { String::new() };
        detail.push_str(&format!("; such a block is also under {listed}{more}"));
    }
    Err(Error::KeysUnderPrefix {
        block: kind.name(),
        prefix: format!("{taken}{prefix}"),
        found: format!("{taken}{prefix}{anchor}"),
        detail,
    })
}

/// The prefixes under which a whole block of `kind` sits in `weights` (e.g. `layer1.0.se.` of a
/// whole network's state dict), in key order, in any convention a port knows.
pub fn block_prefixes(kind: BlockKind, weights: &Weights) -> Vec<String> {
    under_prefixes(kind, weights).into_keys().collect()
}

/// The prefixes under which a whole block of `kind` sits, in key order, each with its convention
/// and the key that gave it away.
fn under_prefixes(kind: BlockKind, weights: &Weights) -> BTreeMap<String, (Convention, &'static str)> {
    let mut found = BTreeMap::new();
    for &convention in Convention::all_for(kind) {
        for &anchor in convention.signature(kind)[0] {
            for key in weights.keys() {
                if let Some(prefix) = key.strip_suffix(anchor).filter(|p| p.ends_with('.') && convention.matches(kind, weights, p)) {
                    found.entry(prefix.to_string()).or_insert((convention, anchor));
                }
            }
        }
    }
    found
}

/// `key` under timm's name.
fn rename(renames: &[(&str, &str)], key: &str) -> String {
    match renames.iter().find(|(from, _)| key.starts_with(from)) {
        Some((from, to)) => format!("{to}{}", &key[from.len()..]),
        None => key.to_string(),
    }
}

/// A `running_var` for which `sqrt(running_var + eps)` is exactly 1 in float32: with weight 1,
/// bias 0 and mean 0 such a BatchNorm returns its input bit for bit, standing in for a norm a
/// port does not have (scale 1, shift 0).
fn identity_running_var() -> f32 {
    let mut v = 1.0 - BatchNorm::EPS;
    for _ in 0..64 {
        let s = (v + BatchNorm::EPS).sqrt();
        if s == 1.0 {
            break;
        }
        v = f32::from_bits(if s > 1.0 { v.to_bits() - 1 } else { v.to_bits() + 1 });
    }
    v
}

/// Renames a dict of `convention` to timm's names, and works out the options it implies.
fn convert(convention: Convention, kind: BlockKind, weights: &Weights, given: &BlockOptions) -> Result<Ported> {
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut origin: BTreeMap<String, &str> = BTreeMap::new();
    for (key, tensor) in weights.iter() {
        let timm = rename(convention.renames(), key);
        if let Some(first) = origin.get(&timm) {
            return Err(Error::UnexpectedKey {
                block: kind.name(),
                key: key.to_string(),
                hint: format!(" (`{first}` already gives timm's `{timm}`; read with the names of {})", convention.name()),
            });
        }
        origin.insert(timm.clone(), key);
        tensors.insert(timm, tensor.clone());
    }
    let has = |key: &str| weights.get(key).is_some();
    let mut defaults = BlockOptions::default();
    let mut said: Vec<String> = Vec::new();
    match convention {
        Convention::AlexHex7 | Convention::Mmcv => {
            let alex = convention == Convention::AlexHex7;
            let (theta, concat, pooled_g) = if alex {
                ("theta.weight", "concat_project.0.weight", "g.0.weight")
            } else {
                ("theta.conv.weight", "concat_project.conv.weight", "g.0.conv.weight")
            };
            let form = if has(concat) {
                Pairwise::Concatenation
            } else if has(theta) {
                Pairwise::EmbeddedGaussian
            } else {
                Pairwise::Gaussian
            };
            defaults.pairwise = Some(form);
            said.push(match (given.pairwise, form) {
                (Some(p), _) => format!("--pairwise {p} as given"),
                (None, Pairwise::EmbeddedGaussian) => {
                    "embedded Gaussian assumed (the dot-product block has the same names: --pairwise dot-product for it)".into()
                }
                (None, Pairwise::Gaussian) => "the Gaussian form (no theta, phi)".into(),
                (None, _) => "the concatenation form (concat_project)".into(),
            });
            let pairwise = given.pairwise.unwrap_or(form);
            let scale = if !alex && pairwise == Pairwise::EmbeddedGaussian { ScaleMode::Inner } else { ScaleMode::None };
            defaults.scale = Some(scale);
            // The scale only acts on the softmax forms.
            if matches!(pairwise, Pairwise::EmbeddedGaussian | Pairwise::Gaussian) {
                said.push(match (given.scale, alex, scale) {
                    (Some(s), ..) => format!("--scale {s} as given"),
                    (None, false, ScaleMode::Inner) => {
                        "logits divided by sqrt(inter_channels) as mmcv's use_scale=True does (--scale inner; use_scale=False \
                         is --scale none)"
                            .into()
                    }
                    (None, false, _) => "no logit scale, as mmcv's gaussian mode (--scale none)".into(),
                    (None, true, _) => "no logit scale, as the port (--scale none)".into(),
                });
            }
            if has(pooled_g) {
                defaults.subsample = true;
                said.push("keys and values max-pooled 2x2 after their convolutions, as sub_sample=True (--subsample)".into());
            }
            if let Some(&c) = tensors.get("z.weight").and_then(|z| z.shape().first()) {
                // mmcv's conv_out has no bias when a norm follows it: exactly a zero bias.
                if !alex && !tensors.contains_key("z.bias") {
                    tensors.insert("z.bias".into(), Tensor::zeros(vec![c]));
                }
                if !tensors.keys().any(|k| k.starts_with("norm.")) {
                    tensors.insert("norm.weight".into(), Tensor::new(vec![c], vec![1.0; c]).expect("c values"));
                    tensors.insert("norm.bias".into(), Tensor::zeros(vec![c]));
                    tensors.insert("norm.running_mean".into(), Tensor::zeros(vec![c]));
                    tensors.insert("norm.running_var".into(), Tensor::new(vec![c], vec![identity_running_var(); c]).expect("c values"));
                    said.push(format!("no norm after the output convolution ({})", if alex { "bn_layer=False" } else { "norm_cfg=None" }));
                }
            }
        }
        Convention::CbamOfficial => {
            // nn.Linear weights (out, in) as the 1x1 convolutions (out, in, 1, 1) they act as.
            for key in ["channel.fc1.weight", "channel.fc2.weight"] {
                if let Some(t) = tensors.get_mut(key)
                    && let &[out, inp] = t.shape()
                {
                    *t = Tensor::new(vec![out, inp, 1, 1], t.data().to_vec()).expect("same length");
                }
            }
            defaults.spatial_order = Some(SpatialOrder::MaxMean);
            said.push(match given.spatial_order {
                Some(o) => format!("--spatial-order {o} as given"),
                None => "pooled maps concatenated max first, as the code does (--spatial-order max-mean)".into(),
            });
            said.push("channel pool types avg and max (the code's default)".into());
        }
        Convention::Timm => unreachable!("timm's names need no renaming"),
    }
    let note = format!("weights read with the names of {}: {}", convention.name(), said.join("; "));
    Ok(Ported { weights: Weights::from_tensors(tensors), convention, defaults, note: Some(note) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(entries: &[(&str, &[usize])]) -> Weights {
        Weights::from_tensors(entries.iter().map(|(k, shape)| (k.to_string(), Tensor::zeros(shape.to_vec()))))
    }

    #[test]
    fn the_stand_in_norm_is_exactly_the_identity() {
        let v = identity_running_var();
        let bn = BatchNorm { weight: vec![1.0], bias: vec![0.0], running_mean: vec![0.0], running_var: vec![v] };
        assert_eq!(bn.scale_and_shift(0), (1.0, 0.0));
        let mut x = vec![0.1, -3.7e-20, 1e30, -0.0];
        let before = x.clone();
        bn.apply(&mut x, 4);
        assert_eq!(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>()[..3], before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()[..3]);
    }

    #[test]
    fn timm_names_pass_unchanged_and_other_names_are_renamed() {
        let se = dict(&[("fc1.weight", &[8, 16, 1, 1]), ("fc2.weight", &[16, 8, 1, 1])]);
        let ported = recognise(BlockKind::Se, se, &BlockOptions::default()).unwrap();
        assert_eq!(ported.convention, Convention::Timm);
        assert!(ported.note.is_none());

        let alex = dict(&[
            ("g.0.weight", &[4, 8, 1, 1]),
            ("g.0.bias", &[4]),
            ("phi.0.weight", &[4, 8, 1, 1]),
            ("theta.weight", &[4, 8, 1, 1]),
            ("W.weight", &[8, 4, 1, 1]),
            ("W.bias", &[8]),
        ]);
        let ported = recognise(BlockKind::NonLocal, alex, &BlockOptions::default()).unwrap();
        assert_eq!(ported.convention, Convention::AlexHex7);
        let keys: Vec<&str> = ported.weights.keys().collect();
        assert_eq!(
            keys,
            [
                "g.bias",
                "g.weight",
                "norm.bias",
                "norm.running_mean",
                "norm.running_var",
                "norm.weight",
                "p.weight",
                "t.weight",
                "z.bias",
                "z.weight"
            ]
        );
        assert!(ported.defaults.subsample);
        assert_eq!(ported.defaults.scale, Some(ScaleMode::None));
        let note = ported.note.unwrap();
        assert!(note.contains("AlexHex7") && note.contains("embedded Gaussian assumed") && note.contains("bn_layer=False"), "{note}");

        let cbam = dict(&[("ChannelGate.mlp.1.weight", &[2, 32]), ("ChannelGate.mlp.3.weight", &[32, 2])]);
        let given = BlockOptions { spatial_order: Some(SpatialOrder::MeanMax), ..Default::default() };
        let ported = recognise(BlockKind::Cbam, cbam, &given).unwrap();
        assert_eq!(ported.weights.get("channel.fc1.weight").unwrap().shape(), &[2, 32, 1, 1]);
        assert_eq!(ported.options(&given).spatial_order, Some(SpatialOrder::MeanMax), "the caller's option wins");
        assert_eq!(ported.options(&BlockOptions::default()).spatial_order, Some(SpatialOrder::MaxMean));
    }

    #[test]
    fn a_block_under_a_prefix_is_named_with_the_option() {
        let se = dict(&[("module.fc1.weight", &[8, 16, 1, 1]), ("module.fc2.weight", &[16, 8, 1, 1])]);
        let e = recognise(BlockKind::Se, se, &BlockOptions::default()).unwrap_err().to_string();
        assert!(e.contains("under `module.`") && e.contains("--prefix module."), "{e}");
        // Several blocks: the first is offered, the others listed.
        let net: Vec<(String, &[usize])> = ["layer1.0.se.", "layer1.1.se.", "layer2.0.se."]
            .iter()
            .flat_map(|p| [(format!("{p}fc1.weight"), &[8usize, 16, 1, 1][..]), (format!("{p}fc2.weight"), &[16, 8, 1, 1][..])])
            .collect();
        let entries: Vec<(&str, &[usize])> = net.iter().map(|(k, s)| (k.as_str(), *s)).collect();
        let e = recognise(BlockKind::Se, dict(&entries), &BlockOptions::default()).unwrap_err().to_string();
        assert!(e.contains("--prefix layer1.0.se.") && e.contains("`layer1.1.se.`, `layer2.0.se.`"), "{e}");
        // A convolution named `conv.weight` is no ECA block.
        let e = recognise(BlockKind::Eca, dict(&[("stem.conv.weight", &[8, 3, 3, 3])]), &BlockOptions::default());
        assert!(e.is_ok());
        // Names of nothing known pass through, for Block::load's own message.
        let odd = recognise(BlockKind::Se, dict(&[("fc1.wieght", &[8, 16, 1, 1])]), &BlockOptions::default()).unwrap();
        assert_eq!(odd.convention, Convention::Timm);
    }
}
