//! A checkpoint's state dict, as researchers have them: safetensors in float32, float16 or
//! bfloat16 (widened at load), keys prefixed by `module.` (DataParallel) or `model.` (many
//! training scripts) stripped, `num_batches_tracked` dropped. [`StateDict`] hands the builders
//! their tensors and remembers which were used, so a checkpoint with layers a builder does not
//! know is refused instead of silently running without them.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::error::{Error, Result, Shape};
use crate::kernels::norm::BatchNorm;
use crate::tensor::Tensor;
use crate::weights::{Weights, read_safetensors};

/// Prefixes a whole state dict may sit under, stripped when every key has one: a checkpoint's
/// `{"state_dict": ...}` (flattened with a dot), DataParallel's `module.`, a script's `model.`.
const WRAPPERS: [&str; 4] = ["state_dict.", "model_state_dict.", "module.", "model."];
/// The entries a training checkpoint keeps the network under, in order of preference.
const NETWORK_ENTRIES: [&str; 3] = ["state_dict.", "model_state_dict.", "model."];
/// What a training checkpoint holds beside the network (dropped when a network entry is there).
const TRAINING_STATE: [&str; 8] =
    ["optimizer.", "optimizer_state_dict.", "scheduler.", "lr_scheduler.", "scaler.", "state_dict_ema.", "model_ema.", "ema."];
/// Checkpoints over this are refused before they are read.
pub const MAX_CHECKPOINT_BYTES: u64 = 2 << 30;

/// A network's state dict. Builders take each tensor out as they build (its memory moves into
/// the network, so building needs little more than the checkpoint), and what nobody took is
/// what [`StateDict::finish`] refuses.
#[derive(Debug)]
pub struct StateDict {
    /// Every key's shape, taken or not.
    shapes: BTreeMap<String, Vec<usize>>,
    /// The tensors not taken yet.
    tensors: RefCell<BTreeMap<String, Tensor>>,
    /// The first tensor (in name order) that holds a NaN or an infinity, checked at load.
    non_finite: Option<NonFinite>,
}

/// A value of a checkpoint that is not finite: the weights of a diverged run. The engine computes
/// with it as PyTorch does (NaN propagates to the logits), and says where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct NonFinite {
    /// The tensor's key in the state dict.
    pub key: String,
    /// The flat index of its first non-finite value.
    pub index: usize,
    /// That value: NaN, inf or -inf.
    pub value: f32,
}

/// What to say instead of a prediction when `logits` hold a NaN or an infinity: the first such
/// logit and, where the load found one (`source`), the checkpoint's tensor that holds it. None for
/// finite logits.
pub fn non_finite_logits(logits: &[f32], source: Option<&NonFinite>) -> Option<String> {
    let bad = logits.iter().find(|v| !v.is_finite())?;
    Some(match source {
        Some(source) => format!("the logits hold {bad}, as PyTorch's do for these weights: {source}"),
        None => format!("the logits hold {bad}: a layer overflowed float32 on this input"),
    })
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the checkpoint's `{}` holds {} at index {}", self.key, self.value, self.index)
    }
}

impl StateDict {
    /// Reads a checkpoint held in memory: safetensors, or a PyTorch `.pth`/`.pt`/`.bin` in the ZIP
    /// layout torch.save has written since PyTorch 1.6 ([`crate::weights::pth`], read without
    /// running any of its code); `file` names it in messages.
    pub fn read(bytes: &[u8], file: &str) -> Result<Self> {
        let tensors = if crate::weights::sniff::is_pytorch(bytes) {
            crate::weights::pth::read_pth(bytes, file)?
        } else {
            read_safetensors(bytes, file)?
        };
        Self::from_tensors(tensors).checked(file)
    }

    /// Reads a checkpoint file: safetensors, or a PyTorch `.pth`/`.pt`/`.bin` written by
    /// `torch.save` (read without executing anything, by the `pytorch-reader` crate), its float16
    /// and bfloat16 tensors widened. One line for each refusal: over 2 GB, not a checkpoint, an
    /// optimizer's state, no tensors.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_path(path: &std::path::Path) -> Result<Self> {
        let file = path.display().to_string();
        let len = std::fs::metadata(path).map_err(|e| Error::BadFile { file: file.clone(), reason: e.to_string() })?.len();
        if len > MAX_CHECKPOINT_BYTES {
            return Err(Error::NotSafetensors {
                file,
                what: format!(
                    "{} GB is over the 2 GB this reads; a CNN's weights are a few hundred MB at most: save `model.state_dict()` alone",
                    len >> 30
                ),
            });
        }
        let bytes = std::fs::read(path).map_err(|e| Error::BadFile { file: file.clone(), reason: e.to_string() })?;
        if !crate::weights::sniff::is_pytorch(&bytes) {
            return Self::read(&bytes, &file);
        }
        let reader = pytorch_reader::PytorchReader::new(path).map_err(|e| Error::NotSafetensors {
            file: file.clone(),
            what: format!("a PyTorch checkpoint that cannot be read ({e}): it is damaged or cut short; save it again with torch.save(model.state_dict(), ...)"),
        })?;
        let mut tensors = BTreeMap::new();
        let mut names = reader.keys();
        names.sort();
        for name in names {
            let t = reader.get(&name).expect("a listed tensor");
            use pytorch_reader::DType;
            let bytes = t.read().map_err(|e| Error::BadFile { file: file.clone(), reason: format!("tensor `{name}`: {e}") })?;
            let data: Vec<f32> = match t.dtype() {
                DType::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
                DType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                DType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                // BatchNorm's step counter and other integer buffers are no weights.
                DType::I64 | DType::I32 | DType::I16 | DType::I8 | DType::U64 | DType::U32 | DType::U16 | DType::U8 | DType::Bool => {
                    continue;
                }
                DType::F64 => {
                    return Err(Error::WrongDtype {
                        file,
                        key: name,
                        found: "F64".into(),
                        remedy: "the engine computes in float32 and does not round weights silently: save them as float32 (`{k: v.float() for k, v in state_dict.items()}`)",
                    });
                }
            };
            let tensor = Tensor::new(t.shape().to_vec(), data).ok_or_else(|| Error::BadFile {
                file: file.clone(),
                reason: format!("tensor `{name}` holds the wrong number of values"),
            })?;
            tensors.insert(name, tensor);
        }
        Self::from_tensors(tensors).checked(&file)
    }

    /// Refuses a state dict that holds no network: empty, or an optimizer's state.
    fn checked(self, file: &str) -> Result<Self> {
        let optimizer =
            |k: &str| k.starts_with("optimizer.") || k.starts_with("state.") || k.contains("exp_avg") || k.contains("momentum_buffer");
        if self.shapes.is_empty() {
            return Err(Error::NotSafetensors {
                file: file.into(),
                what: "holds no tensors: save the network's weights (`torch.save(model.state_dict(), ...)`)".into(),
            });
        }
        if self.shapes.keys().all(|k| optimizer(k)) {
            return Err(Error::NotSafetensors {
                file: file.into(),
                what: "holds an optimizer's state, not a network's weights: save `model.state_dict()`, or give the checkpoint that has it"
                    .into(),
            });
        }
        Ok(self)
    }

    /// The tensors, with a wrapper prefix every key shares stripped (repeatedly: `module.model.`).
    /// A training checkpoint's network entry (`{"state_dict": ..., "optimizer": ..., "epoch": ...}`,
    /// timm's train.py also with `state_dict_ema`) is taken alone: the optimizer's state and an EMA
    /// copy beside it are not the network's.
    pub fn from_tensors(mut tensors: BTreeMap<String, Tensor>) -> Self {
        let training_state = |k: &str| TRAINING_STATE.iter().any(|p| k.starts_with(p));
        if let Some(entry) = NETWORK_ENTRIES.iter().find(|e| tensors.keys().any(|k| k.starts_with(*e)))
            && tensors.keys().all(|k| k.starts_with(entry) || training_state(k))
        {
            tensors.retain(|k, _| k.starts_with(entry));
        }
        while let Some(wrapper) = WRAPPERS.iter().find(|w| !tensors.is_empty() && tensors.keys().all(|k| k.starts_with(*w))) {
            tensors = tensors.into_iter().map(|(k, t)| (k[wrapper.len()..].to_string(), t)).collect();
        }
        let shapes = tensors.iter().map(|(k, t)| (k.clone(), t.shape().to_vec())).collect();
        let non_finite = tensors.iter().find_map(|(key, t)| {
            let index = t.data().iter().position(|v| !v.is_finite())?;
            Some(NonFinite { key: key.clone(), index, value: t.data()[index] })
        });
        Self { shapes, tensors: RefCell::new(tensors), non_finite }
    }

    /// The first tensor (in name order) holding a NaN or an infinity, if any.
    pub fn non_finite(&self) -> Option<&NonFinite> {
        self.non_finite.as_ref()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.shapes.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.shapes.keys().map(String::as_str)
    }

    /// The shape of `key`, taken or not.
    pub fn shape(&self, key: &str) -> Result<&[usize]> {
        self.shapes.get(key).map(Vec::as_slice).ok_or_else(|| missing(key))
    }

    /// Axis `axis` of `key`'s shape, which must have rank `rank`: a tensor of another rank (a
    /// damaged or foreign checkpoint) is refused by name instead of indexed.
    pub fn dim(&self, key: &str, rank: usize, axis: usize) -> Result<usize> {
        let shape = self.shape(key)?;
        match shape.get(axis) {
            Some(&d) if shape.len() == rank => Ok(d),
            _ => {
                Err(Error::WrongShape { key: key.to_string(), expected: format!("a tensor of rank {rank}"), found: Shape(shape.to_vec()) })
            }
        }
    }

    /// `key`'s tensor, taken out (a builder takes each key once).
    pub fn take(&self, key: &str) -> Result<Tensor> {
        if !self.shapes.contains_key(key) {
            return Err(missing(key));
        }
        self.tensors.borrow_mut().remove(key).ok_or_else(|| Error::Checkpoint {
            reason: format!("`{key}` was read twice while building the network (a bug in its family's builder)"),
        })
    }

    /// `key` of exactly `shape`, taken out.
    pub fn take_shaped(&self, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let found = self.shape(key)?;
        if found != shape {
            return Err(Error::WrongShape {
                key: key.to_string(),
                expected: Shape(shape.to_vec()).to_string(),
                found: Shape(found.to_vec()),
            });
        }
        Ok(self.take(key)?.into_data())
    }

    /// The BatchNorm `{prefix}.{weight,bias,running_mean,running_var}` over `channels`.
    pub fn batchnorm(&self, prefix: &str, channels: usize) -> Result<BatchNorm> {
        let get = |field: &str| self.take_shaped(&format!("{prefix}.{field}"), &[channels]);
        Ok(BatchNorm { weight: get("weight")?, bias: get("bias")?, running_mean: get("running_mean")?, running_var: get("running_var")? })
    }

    /// Every key under `prefix` (stripped), taken out: one attention block's own state dict.
    pub fn take_under(&self, prefix: &str) -> Weights {
        let mut tensors = self.tensors.borrow_mut();
        let keys: Vec<String> = tensors.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        Weights::from_tensors(keys.into_iter().filter_map(|k| {
            let t = tensors.remove(&k)?;
            Some((k[prefix.len()..].to_string(), t))
        }))
    }

    /// Fails on the first key no builder took: a layer the family's builder does not know.
    pub fn finish(&self, family: &str) -> Result<()> {
        match self.tensors.borrow().keys().next() {
            Some(key) => Err(Error::Checkpoint {
                reason: format!(
                    "the checkpoint has `{key}`, which the {family} builder does not know: a variant this engine does not run yet"
                ),
            }),
            None => Ok(()),
        }
    }
}

fn missing(key: &str) -> Error {
    Error::Checkpoint { reason: format!("the checkpoint lacks `{key}`") }
}

/// What a checkpoint looks like, by its keys: for the message that says it is not supported.
pub fn describe(dict: &StateDict) -> &'static str {
    let has = |k: &str| dict.contains(k);
    let any = |p: &str| dict.keys().any(|k| k.starts_with(p));
    let part = |p: &str| dict.keys().any(|k| k.contains(p));
    if any("blocks.") && (has("patch_embed.proj.weight") || has("cls_token")) {
        "a Vision Transformer (timm vit_* / deit_*)"
    } else if part(".ghost1.primary_conv.") {
        "a timm GhostNet (ghostnet_*)"
    } else if has("conv_stem.weight") && part(".conv_dw.0.weight") {
        "a timm MixNet (mixnet_*, mixed depthwise kernels)"
    } else if has("conv_stem.weight") && any("blocks.") {
        "a timm EfficientNet or MobileNetV3"
    } else if has("stem.conv.weight") && any("features.") && any("head.fc.") {
        "a timm ReXNet (rexnet_*)"
    } else if part(".paths.0.") && part(".attn.fc_reduce.") {
        "a timm SKNet (skresnet*, Selective Kernel)"
    } else if part(".fc1.") && part(".bn0.") && any("layer1.") {
        "a timm ResNeSt (resnest*, Split Attention)"
    } else if part(".self_attn.kv.") && part(".pos_embed.height_rel") {
        "a timm HaloNet (halonet*, eca_halonext*, haloregnetz_*: halo attention)"
    } else if part(".self_attn.qkv.") && part(".pos_embed.height_rel") {
        "a timm BoTNet (botnet*: bottleneck self-attention)"
    } else if part(".self_attn.norm_q.") {
        "a timm LambdaNet (lambda_resnet*: lambda layers)"
    } else if part(".attn.ba.") {
        "a timm BAT network (bat_resnext*: bilinear attention transform)"
    } else if any("stages.") && part(".blocks.") && part(".conv_dw.") && any("stem.0.") {
        "a timm ConvNeXt (convnext_*)"
    } else if any("features.") && any("classifier.") {
        "a torchvision MobileNet, EfficientNet or VGG"
    } else if has("stem.conv.weight") && any("s1.") {
        "a timm RegNet"
    } else if any("stages.") && any("head.") {
        "a timm ByobNet (gcresnet50t, the *_ts networks) or another stage-based network"
    } else if any("layer1.") && (has("conv1.weight") || has("conv1.0.weight")) {
        "a ResNet"
    } else if dict.keys().eq(["x"]) {
        "an input tensor `x` (a file for `apply` or `net --input`), not a network's weights"
    } else if dict.keys().count() <= 16 && dict.keys().all(|k| !k.contains("layer") && !k.contains("blocks") && !k.contains("features")) {
        "the weights of one attention block, not a whole network (they go to a block of the bundled network: \
            Own weights… in the page, --weights in render)"
    } else if dict.keys().next().is_none() {
        "an empty state dict"
    } else {
        "no network this engine knows"
    }
}
