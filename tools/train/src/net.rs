//! The default network written again in candle ops, for autograd: the same layers, in the same
//! order, with the same timm semantics as `attention_playground::model` (the trainer checks the
//! two against each other on held-out scenes before it writes anything).
//!
//! BatchNorm layers (CBAM's spatial gate, Non-local's output) are trained in their eval form, an
//! affine map with running mean 0 and variance 1, so what is trained is exactly what the engine
//! computes; no batch statistics are involved.

use std::collections::BTreeMap;

use attention_playground::blocks::init::{eca_kernel_size, seeded_tensor, seeded_weights};
use attention_playground::model::{self, BODY_WIDTHS, CBAM_RD, MHSA_HEADS, stem};
use attention_playground::scenes::CLASSES;
use attention_playground::{BlockKind, Tensor as EngineTensor, Weights};
use candle_core::{D, DType, Device, Result, Tensor, Var};

const BN_EPS: f64 = 1e-5;
const LN_EPS: f64 = 1e-6;

/// The trainable tensors by state-dict name, and the fixed ones (BatchNorm running statistics).
pub struct Net {
    pub blocks: Vec<BlockKind>,
    params: BTreeMap<String, Var>,
    fixed: BTreeMap<String, Tensor>,
}

impl Net {
    /// A fresh network with `blocks` present. Convolutions and linear layers start as PyTorch's
    /// (uniform in `±1/sqrt(fan_in)`, He-uniform for the ReLU convolutions), norms at identity,
    /// and Non-local's output BatchNorm at zero as timm does, from fixed seeds.
    pub fn new(blocks: &[BlockKind], seed: u64) -> Result<Self> {
        let device = Device::Cpu;
        let mut params = BTreeMap::new();
        let mut fixed = BTreeMap::new();
        let mut seed_for = {
            let mut next = seed;
            move || {
                next += 1;
                next
            }
        };
        let mut add = |name: String, shape: Vec<usize>, bound: f32, params: &mut BTreeMap<String, Var>| -> Result<()> {
            let t = seeded_tensor(shape.clone(), seed_for(), bound);
            params.insert(name, Var::from_tensor(&Tensor::from_vec(t.into_data(), shape, &device)?)?);
            Ok(())
        };
        let convs = [
            ("body.conv1", stem::CHANNELS, BODY_WIDTHS[0]),
            ("body.conv2", BODY_WIDTHS[0], BODY_WIDTHS[1]),
            ("body.conv3", BODY_WIDTHS[1], BODY_WIDTHS[2]),
        ];
        for (name, cin, cout) in convs {
            add(format!("{name}.weight"), vec![cout, cin, 3, 3], (6.0 / (9 * cin) as f32).sqrt(), &mut params)?;
            add(format!("{name}.bias"), vec![cout], 0.0, &mut params)?;
        }
        add("head.fc.weight".into(), vec![CLASSES.len(), BODY_WIDTHS[2]], (1.0 / BODY_WIDTHS[2] as f32).sqrt(), &mut params)?;
        add("head.fc.bias".into(), vec![CLASSES.len()], 0.0, &mut params)?;

        for &kind in blocks {
            let template = seeded_weights(kind, model::channels_at(kind), &model::trained_options(kind), 0)
                .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            for key in template.keys() {
                let shape = trained_shape(kind, key, template.get(key).expect("listed key").shape());
                let name = format!("{}.{key}", kind.name());
                let value = |v: f32| Tensor::full(v, shape.clone(), &device);
                if key.ends_with("running_mean") {
                    fixed.insert(name, value(0.0)?);
                } else if key.ends_with("running_var") {
                    fixed.insert(name, value(1.0)?);
                } else if key.ends_with("norm.weight") || key.ends_with("bn.weight") {
                    // timm zeroes Non-local's output norm so the block starts as the identity.
                    let start = if kind == BlockKind::NonLocal { 0.0 } else { 1.0 };
                    params.insert(name, Var::from_tensor(&value(start)?)?);
                } else if key.ends_with("bias") && (key.contains("norm") || key.contains("bn")) {
                    params.insert(name, Var::from_tensor(&value(0.0)?)?);
                } else {
                    let fan_in: usize = shape[1..].iter().product();
                    let bound = (1.0 / fan_in.max(1) as f32).sqrt();
                    let bound = if key.ends_with("bias") { bound * 0.1 } else { bound };
                    add(name, shape, bound, &mut params)?;
                }
            }
        }
        Ok(Self { blocks: blocks.to_vec(), params, fixed })
    }

    pub fn vars(&self) -> Vec<Var> {
        self.params.values().cloned().collect()
    }

    pub fn parameter_count(&self) -> usize {
        self.params.values().map(|v| v.elem_count()).sum()
    }

    fn p(&self, name: &str) -> &Tensor {
        self.params.get(name).map(|v| v.as_tensor()).or_else(|| self.fixed.get(name)).unwrap_or_else(|| panic!("no parameter {name}"))
    }

    fn has(&self, kind: BlockKind) -> bool {
        self.blocks.contains(&kind)
    }

    /// `(B, 16, S, S)` stem features to `(B, classes)` logits.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with_spatial_logits(x)?.0)
    }

    /// The logits, and with CBAM present its spatial gate before the sigmoid, `(B, 1, S/2, S/2)`
    /// (what the trainer's mask loss looks at).
    pub fn forward_with_spatial_logits(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        self.forward_on(x, &self.blocks)
    }

    /// [`Net::forward_with_spatial_logits`] with only the blocks `on` (of those present) switched
    /// on, the others the identity: block dropout in training, and every on/off combination in
    /// the evaluation.
    pub fn forward_on(&self, x: &Tensor, on: &[BlockKind]) -> Result<(Tensor, Option<Tensor>)> {
        let mut spatial = None;
        let mut x = x.clone();
        for kind in model::EARLY_BLOCKS {
            if self.has(kind) && on.contains(&kind) {
                x = self.block(kind, &x, &mut spatial)?;
            }
        }
        x = self.conv3x3_relu(&x, "body.conv1")?.max_pool2d(2)?;
        for kind in model::LATE_BLOCKS {
            if self.has(kind) && on.contains(&kind) {
                x = self.block(kind, &x, &mut spatial)?;
            }
        }
        // At the training scenes' 96 px the grid here is 6 x 6, what the engine's stem (which
        // scales every photo to 96 px) always gives body.conv3.
        x = self.conv3x3_relu(&x, "body.conv2")?.max_pool2d(2)?;
        x = self.conv3x3_relu(&x, "body.conv3")?;
        let pooled = x.mean((2, 3))?;
        let logits = pooled.matmul(&self.p("head.fc.weight").t()?)?.broadcast_add(self.p("head.fc.bias"))?;
        Ok((logits, spatial))
    }

    fn conv3x3_relu(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let bias = self.p(&format!("{name}.bias"));
        x.conv2d(self.p(&format!("{name}.weight")), 1, 1, 1, 1)?.broadcast_add(&bias.reshape((1, bias.dim(0)?, 1, 1))?)?.relu()
    }

    /// One block on `x`; CBAM also leaves its spatial logits in `spatial`.
    fn block(&self, kind: BlockKind, x: &Tensor, spatial: &mut Option<Tensor>) -> Result<Tensor> {
        let n = kind.name();
        match kind {
            BlockKind::Se => {
                let gate = self.fc(&self.fc(&x.mean((2, 3))?, &format!("{n}.fc1"))?.relu()?, &format!("{n}.fc2"))?;
                gate_channels(x, &candle_nn::ops::sigmoid(&gate)?)
            }
            BlockKind::Eca => {
                let s = x.mean((2, 3))?;
                let w = self.p(&format!("{n}.conv.weight")).flatten_all()?;
                let k = w.dim(0)?;
                debug_assert_eq!(k, eca_kernel_size(x.dim(1)?));
                let padded = s.pad_with_zeros(1, k / 2, k / 2)?;
                let c = s.dim(1)?;
                let mut acc = padded.narrow(1, 0, c)?.broadcast_mul(&w.narrow(0, 0, 1)?)?;
                for j in 1..k {
                    acc = (acc + padded.narrow(1, j, c)?.broadcast_mul(&w.narrow(0, j, 1)?)?)?;
                }
                gate_channels(x, &candle_nn::ops::sigmoid(&acc)?)
            }
            BlockKind::Gc => {
                let (b, c, h, w) = x.dims4()?;
                let logits = self.conv1x1(x, &format!("{n}.conv_attn"))?.reshape((b, h * w))?;
                let weights = candle_nn::ops::softmax(&logits, D::Minus1)?; // (B, N)
                let context = x.reshape((b, c, h * w))?.matmul(&weights.unsqueeze(2)?)?.squeeze(2)?; // (B, C)
                let hidden = self.fc(&context, &format!("{n}.mlp_scale.fc1"))?;
                let hidden =
                    layer_norm(&hidden, self.p(&format!("{n}.mlp_scale.norm.weight")), self.p(&format!("{n}.mlp_scale.norm.bias")))?
                        .relu()?;
                let gate = self.fc(&hidden, &format!("{n}.mlp_scale.fc2"))?;
                gate_channels(x, &candle_nn::ops::sigmoid(&gate)?)
            }
            BlockKind::Cbam => {
                let mlp = |s: &Tensor| -> Result<Tensor> {
                    self.fc(&self.fc(s, &format!("{n}.channel.fc1"))?.relu()?, &format!("{n}.channel.fc2"))
                };
                let gate = (mlp(&x.mean((2, 3))?)? + mlp(&x.max(3)?.max(2)?)?)?;
                let x1 = gate_channels(x, &candle_nn::ops::sigmoid(&gate)?)?;
                let pooled = Tensor::cat(&[x1.mean_keepdim(1)?, x1.max_keepdim(1)?], 1)?; // mean, then max (timm)
                let kernel = self.p(&format!("{n}.spatial.conv.conv.weight"));
                let pad = kernel.dim(3)? / 2;
                let s = pooled.conv2d(kernel, pad, 1, 1, 1)?;
                let s = self.batch_norm(&s, &format!("{n}.spatial.conv.bn"))?;
                let y = x1.broadcast_mul(&candle_nn::ops::sigmoid(&s)?);
                *spatial = Some(s);
                y
            }
            BlockKind::NonLocal => {
                let (b, c, h, w) = x.dims4()?;
                let positions = h * w;
                let flat = |t: Tensor| -> Result<Tensor> {
                    let rd = t.dim(1)?;
                    t.reshape((b, rd, positions))
                };
                let theta = flat(self.conv1x1(x, &format!("{n}.t"))?)?;
                let phi = flat(self.conv1x1(x, &format!("{n}.p"))?)?;
                let g = flat(self.conv1x1(x, &format!("{n}.g"))?)?;
                let logits = (theta.transpose(1, 2)?.matmul(&phi)? * (c as f64).powf(-0.5))?; // (B, N, N), scale C^-0.5
                let attention = candle_nn::ops::softmax(&logits, D::Minus1)?;
                let y = g.matmul(&attention.transpose(1, 2)?)?; // (B, rd, N)
                let rd = y.dim(1)?;
                let z = self.conv1x1(&y.reshape((b, rd, h, w))?, &format!("{n}.z"))?;
                self.batch_norm(&z, &format!("{n}.norm"))? + x
            }
            BlockKind::Mhsa => {
                let (b, c, h, w) = x.dims4()?;
                let positions = h * w;
                let head_dim = c / MHSA_HEADS;
                let qkv = self.conv1x1(x, &format!("{n}.qkv"))?.reshape((b, 3, MHSA_HEADS, head_dim, positions))?;
                let part = |i: usize| qkv.narrow(1, i, 1)?.squeeze(1)?.contiguous(); // (B, heads, d, N)
                let (q, k, v) = (part(0)?, part(1)?, part(2)?);
                let logits = (q.transpose(2, 3)?.matmul(&k)? * (head_dim as f64).powf(-0.5))?; // (B, heads, N, N)
                let attention = candle_nn::ops::softmax(&logits, D::Minus1)?;
                let o = v.matmul(&attention.transpose(2, 3)?)?.reshape((b, c, h, w))?;
                self.conv1x1(&o, &format!("{n}.proj"))? + x // the network's residual around MHSA
            }
        }
    }

    /// A 1x1 convolution with bias on `(B, C, H, W)`.
    fn conv1x1(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let weight = self.p(&format!("{name}.weight"));
        let out = weight.dim(0)?;
        let y = weight.reshape((out, c))?.broadcast_matmul(&x.reshape((b, c, h * w))?)?;
        let y = match self.params.get(&format!("{name}.bias")) {
            Some(bias) => y.broadcast_add(&bias.reshape((1, out, 1))?)?,
            None => y,
        };
        y.reshape((b, out, h, w))
    }

    /// A 1x1 convolution applied to pooled `(B, C)` vectors; the bias is optional (CBAM has none).
    fn fc(&self, s: &Tensor, name: &str) -> Result<Tensor> {
        let weight = self.p(&format!("{name}.weight"));
        let (out, inp) = (weight.dim(0)?, weight.dim(1)?);
        let y = s.matmul(&weight.reshape((out, inp))?.t()?)?;
        match self.params.get(&format!("{name}.bias")) {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }

    /// BatchNorm in eval form over the channels of `(B, C, H, W)`.
    fn batch_norm(&self, x: &Tensor, name: &str) -> Result<Tensor> {
        let c = x.dim(1)?;
        let get = |k: &str| self.p(&format!("{name}.{k}")).reshape((1, c, 1, 1));
        let scale = (get("weight")? / (get("running_var")? + BN_EPS)?.sqrt()?)?;
        x.broadcast_sub(&get("running_mean")?)?.broadcast_mul(&scale)?.broadcast_add(&get("bias")?)
    }

    /// Rounds every trained tensor to the nearest float16, in place: the precision the shipped
    /// weights are stored in (`write_safetensors_f16`), so that everything evaluated after this
    /// is what ships.
    pub fn round_to_f16(&self) -> Result<()> {
        for v in self.params.values() {
            v.set(&v.as_tensor().to_dtype(DType::F16)?.to_dtype(DType::F32)?)?;
        }
        Ok(())
    }

    /// The state dict in the engine's names and shapes.
    pub fn state_dict(&self) -> Result<Weights> {
        let mut tensors = Vec::new();
        for (name, t) in self.params.iter().map(|(k, v)| (k, v.as_tensor())).chain(&self.fixed) {
            let data = t.flatten_all()?.to_vec1::<f32>()?;
            tensors.push((name.clone(), EngineTensor::new(t.dims().to_vec(), data).expect("same length")));
        }
        Ok(Weights::from_tensors(tensors))
    }
}

/// The shape of a block's weight in the trained network: timm's default, except CBAM's MLP at
/// [`CBAM_RD`] hidden units (`fc1` is `(rd, C, 1, 1)`, `fc2` `(C, rd, 1, 1)`).
fn trained_shape(kind: BlockKind, key: &str, default: &[usize]) -> Vec<usize> {
    match (kind, key) {
        (BlockKind::Cbam, "channel.fc1.weight") => vec![CBAM_RD, default[1], 1, 1],
        (BlockKind::Cbam, "channel.fc2.weight") => vec![default[0], CBAM_RD, 1, 1],
        _ => default.to_vec(),
    }
}

fn gate_channels(x: &Tensor, gate: &Tensor) -> Result<Tensor> {
    let (b, c) = gate.dims2()?;
    x.broadcast_mul(&gate.reshape((b, c, 1, 1))?)
}

/// LayerNorm over the last axis of `(B, R)` (timm `LayerNorm2d` on a 1x1 map).
fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let mean = x.mean_keepdim(1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(1)?;
    centred.broadcast_div(&(var + LN_EPS)?.sqrt()?)?.broadcast_mul(weight)?.broadcast_add(bias)
}

/// Binary cross-entropy of `sigmoid(logits)` against targets in [0, 1], averaged; written as
/// `max(s, 0) - s t + ln(1 + e^-|s|)` so large logits do not overflow.
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let softplus_tail = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    ((logits.relu()? - (logits * targets)?)? + softplus_tail)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_cross_entropy_matches_its_definition_and_does_not_overflow() {
        let logits = [-3.0f32, -0.5, 0.0, 2.0, 40.0, -40.0];
        let targets = [0.0f32, 1.0, 0.5, 0.25, 1.0, 0.0];
        let expected: f64 = logits
            .iter()
            .zip(&targets)
            .map(|(&s, &t)| {
                let p = 1.0 / (1.0 + (-s as f64).exp());
                -(t as f64 * p.max(1e-300).ln() + (1.0 - t as f64) * (1.0 - p).max(1e-300).ln())
            })
            .sum::<f64>()
            / logits.len() as f64;
        let device = Device::Cpu;
        let loss = binary_cross_entropy_with_logits(&Tensor::new(&logits, &device).unwrap(), &Tensor::new(&targets, &device).unwrap())
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((loss as f64 - expected).abs() < 1e-6, "{loss} against {expected}");
    }
}
