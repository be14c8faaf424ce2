//! Reading and writing safetensors files, and the per-block view of a state dict.
//!
//! Weights are looked up by the names timm's `state_dict()` uses, so a file saved from a trained
//! timm module loads as it is. Every lookup checks the shape; keys nobody asked for are an error,
//! because a misspelled optional key (say `fc1.bais`) would otherwise be dropped without a word.

pub mod pth;
pub mod sniff;

use std::collections::{BTreeMap, BTreeSet};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result, Shape};
use crate::tensor::Tensor;

/// BatchNorm's step counter: int64, present in every timm state dict, never used in eval mode.
const IGNORED_SUFFIX: &str = "num_batches_tracked";

/// Parses a safetensors file into float32 tensors; float16 and bfloat16 tensors are widened,
/// which is exact. `file` names the file in error messages. A file that is not safetensors is
/// named for what it is ([`sniff`]); a tensor of another dtype is refused, the first in name
/// order, so the same file always gives the same message.
pub fn read_safetensors(bytes: &[u8], file: &str) -> Result<BTreeMap<String, Tensor>> {
    let parsed = SafeTensors::deserialize(bytes).map_err(|e| match sniff::sniff(bytes) {
        Some(kind) => Error::NotSafetensors { file: file.to_string(), what: sniff::Described { kind: &kind, file }.to_string() },
        None => Error::BadFile { file: file.to_string(), reason: e.to_string() },
    })?;
    let mut names = parsed.names();
    names.sort_unstable();
    let mut tensors = BTreeMap::new();
    for name in names {
        if name.ends_with(IGNORED_SUFFIX) {
            continue;
        }
        let view = parsed.tensor(name).map_err(|e| Error::BadFile { file: file.to_string(), reason: e.to_string() })?;
        let data = widen_to_f32(&view).ok_or_else(|| Error::WrongDtype {
            file: file.to_string(),
            key: name.to_string(),
            found: view.dtype().to_string(),
            remedy: dtype_remedy(view.dtype()),
        })?;
        let tensor = Tensor::new(view.shape().to_vec(), data)
            .ok_or_else(|| Error::BadFile { file: file.to_string(), reason: format!("tensor `{name}` holds the wrong number of bytes") })?;
        tensors.insert(name.to_string(), tensor);
    }
    Ok(tensors)
}

/// The values of a float32, float16 or bfloat16 tensor as float32 (every half value is a float32
/// value, so widening is exact); `None` for any other dtype.
fn widen_to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let bytes = view.data();
    let halves = || bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    match view.dtype() {
        Dtype::F32 => Some(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()),
        Dtype::F16 => Some(halves().map(|h| half::f16::from_bits(h).to_f32()).collect()),
        Dtype::BF16 => Some(halves().map(|h| half::bf16::from_bits(h).to_f32()).collect()),
        _ => None,
    }
}

/// What to do about a tensor of a dtype the engine does not read.
fn dtype_remedy(dtype: Dtype) -> &'static str {
    // Narrowing float64 would round: the numbers computed with would not be the file's.
    const FLOAT64: &str = "the engine computes in float32 and does not round weights silently: save them as float32 \
        (`{k: v.float() for k, v in state_dict.items()}` before save_file)";
    const OTHER: &str = "an integer or other non-float tensor is no weight: save it as float32 (`tensor.float()` before \
        save_file) or leave it out";
    if dtype == Dtype::F64 { FLOAT64 } else { OTHER }
}

/// The tensor `x` of an input file (what `apply`, `bench` and the browser benchmark read).
pub fn read_input(bytes: &[u8]) -> Result<Tensor> {
    let mut tensors = read_safetensors(bytes, "input")?;
    tensors.remove("x").ok_or_else(|| {
        let found: Vec<&str> = tensors.keys().map(String::as_str).collect();
        Error::MissingInput { found: if found.is_empty() { "nothing".into() } else { found.join(", ") } }
    })
}

/// Serialises named float32 tensors as a safetensors file (little-endian, as every target we
/// build for is).
pub fn write_safetensors<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F32, t.shape().to_vec(), bytemuck::cast_slice(t.data()))
                .expect("a Tensor's length always matches its shape");
            (name.to_string(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory f32 tensors cannot fail")
}

/// Serialises named tensors as a float16 safetensors file, each value rounded to the nearest
/// float16 (half the bytes; read back, they widen exactly to the rounded values). The bundled
/// network ships this way, its weights rounded before it is evaluated.
pub fn write_safetensors_f16<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>) -> Vec<u8> {
    let halves: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            let bytes = t.data().iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
            (name.to_string(), t.shape().to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = halves
        .iter()
        .map(|(name, shape, bytes)| {
            let view = safetensors::tensor::TensorView::new(Dtype::F16, shape.clone(), bytes).expect("two bytes per value");
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serialising in-memory f16 tensors cannot fail")
}

/// A state dict for one block.
#[derive(Debug, Clone, Default)]
pub struct Weights {
    tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        Self::from_safetensors_with_prefix(bytes, "")
    }

    /// Takes only the keys under `prefix` (for instance `layer3.1.se.` of a whole-network state
    /// dict) and strips it.
    pub fn from_safetensors_with_prefix(bytes: &[u8], prefix: &str) -> Result<Self> {
        Self::read(bytes, "weights", prefix)
    }

    /// [`Weights::from_safetensors_with_prefix`] with `file` naming the file in messages.
    pub fn read(bytes: &[u8], file: &str, prefix: &str) -> Result<Self> {
        Self::read_under(bytes, file, prefix).map(|(weights, _)| weights)
    }

    /// [`Weights::read`], also returning the prefix taken: a prefix given without its trailing
    /// dot (`layer1.0.se`) stands for `layer1.0.se.` when keys start with that.
    pub fn read_under(bytes: &[u8], file: &str, prefix: &str) -> Result<(Self, String)> {
        let all = read_safetensors(bytes, file)?;
        let dotted = format!("{prefix}.");
        let prefix = if !prefix.is_empty() && !prefix.ends_with('.') && all.keys().any(|k| k.starts_with(&dotted)) {
            dotted
        } else {
            prefix.to_string()
        };
        let any_key = all.keys().next().cloned();
        let weights = Self::from_tensors(all.into_iter().filter_map(|(k, t)| k.strip_prefix(prefix.as_str()).map(|k| (k.to_string(), t))));
        match any_key {
            Some(example) if weights.tensors.is_empty() => Err(Error::BadOption {
                option: "--prefix",
                reason: format!("no key of the weights starts with `{prefix}` (they look like `{example}`)"),
            }),
            _ => Ok((weights, prefix)),
        }
    }

    pub fn from_tensors(tensors: impl IntoIterator<Item = (String, Tensor)>) -> Self {
        Self { tensors: tensors.into_iter().collect() }
    }

    /// The keys under `prefix` (a whole network's dict, one block's part), with it stripped.
    pub fn under(&self, prefix: &str) -> Weights {
        Self::from_tensors(self.tensors.iter().filter_map(|(k, t)| k.strip_prefix(prefix).map(|k| (k.to_string(), t.clone()))))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Every `(key, tensor)`, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.tensors.iter().map(|(k, t)| (k.as_str(), t))
    }

    pub fn get(&self, key: &str) -> Option<&Tensor> {
        self.tensors.get(key)
    }

    /// Starts reading the weights of `block`; see [`WeightReader`].
    pub fn reader(&self, block: &'static str) -> WeightReader<'_> {
        WeightReader { weights: self, block, used: BTreeSet::new() }
    }
}

/// Hands out the tensors a block asks for, checking each shape, and remembers which keys were
/// used so that [`WeightReader::finish`] can reject the rest.
pub struct WeightReader<'a> {
    weights: &'a Weights,
    block: &'static str,
    used: BTreeSet<&'a str>,
}

impl<'a> WeightReader<'a> {
    /// The shape of a required key, for blocks that read a size (C, rd, k) off a weight.
    pub fn shape(&self, key: &str) -> Result<&'a [usize]> {
        self.weights.tensors.get(key).map(|t| t.shape()).ok_or_else(|| Error::MissingKey { block: self.block, key: key.to_string() })
    }

    /// A required tensor of exactly `shape`.
    pub fn require(&mut self, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
        match self.optional(key, shape)? {
            Some(data) => Ok(data),
            None => Err(Error::MissingKey { block: self.block, key: key.to_string() }),
        }
    }

    /// An optional tensor (a bias some ports leave out) of exactly `shape` when present.
    pub fn optional(&mut self, key: &str, shape: &[usize]) -> Result<Option<Vec<f32>>> {
        let Some((name, tensor)) = self.weights.tensors.get_key_value(key) else {
            return Ok(None);
        };
        if tensor.shape() != shape {
            return Err(Error::WrongShape {
                key: key.to_string(),
                expected: Shape(shape.to_vec()).to_string(),
                found: Shape(tensor.shape().to_vec()),
            });
        }
        self.used.insert(name.as_str());
        Ok(Some(tensor.data().to_vec()))
    }

    /// The `(out, in)` sizes of a 1x1 convolution weight `(out, in, 1, 1)`.
    pub fn conv1x1_dims(&self, key: &str) -> Result<(usize, usize)> {
        match *self.shape(key)? {
            [out, inp, 1, 1] if out > 0 && inp > 0 => Ok((out, inp)),
            ref found => Err(Error::WrongShape { key: key.to_string(), expected: "[out, in, 1, 1]".into(), found: Shape(found.to_vec()) }),
        }
    }

    /// Fails on the first key no lookup asked for. `hint` says what the block expected.
    pub fn finish(self, hint: &str) -> Result<()> {
        match self.weights.keys().find(|k| !self.used.contains(k)) {
            Some(key) => Err(Error::UnexpectedKey {
                block: self.block,
                key: key.to_string(),
                hint: if hint.is_empty() { String::new() } else { format!(" ({hint})") },
            }),
            None => Ok(()),
        }
    }
}
