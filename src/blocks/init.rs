//! Seeded weights in timm's default shapes, for benchmarks and for a playground that has no
//! trained weights for a block yet. The hidden widths follow timm's own rules, so a state dict
//! from a freshly built timm module has the same shapes.

use super::options::{BlockKind, BlockOptions, Fusion, Pairwise};
use crate::error::Result;
use crate::tensor::Tensor;
use crate::weights::Weights;

/// timm's `make_divisible`: round `v` to a multiple of `divisor`, at least `divisor`, and one
/// step up when rounding lost more than `1 - round_limit` of `v`.
pub fn make_divisible(v: f64, divisor: usize, round_limit: f64) -> usize {
    let rounded = ((v + divisor as f64 / 2.0) as usize) / divisor * divisor;
    let mut out = rounded.max(divisor);
    if (out as f64) < round_limit * v {
        out += divisor;
    }
    out
}

/// timm's ECA kernel size for `channels`: `t = int(|log2(C) + 1| / 2)`, made odd, at least 3.
pub fn eca_kernel_size(channels: usize) -> usize {
    let t = ((channels as f64).log2() + 1.0).abs() as usize / 2;
    (if t % 2 == 1 { t } else { t + 1 }).max(3)
}

/// A SplitMix64 stream of floats, so the same seed gives the same numbers on every target (the
/// seeded weights here, the generated scenes in [`crate::scenes`]).
/// The training tool draws its batch order from it too.
pub struct Seeded(pub u64);

impl Seeded {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `[-bound, bound)`.
    fn uniform(&mut self, bound: f32) -> f32 {
        (self.next_unit() * 2.0 - 1.0) * bound
    }

    /// Uniform in `[low, high)`.
    pub(crate) fn range(&mut self, low: f32, high: f32) -> f32 {
        low + self.next_unit() * (high - low)
    }

    /// Uniform over `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_unit() * n as f32) as usize).min(n - 1)
    }
}

/// A tensor of `shape` uniform in `[-bound, bound)` from `seed`: the same numbers on every target.
pub fn seeded_tensor(shape: Vec<usize>, seed: u64, bound: f32) -> Tensor {
    let mut rng = Seeded(seed);
    let data = (0..shape.iter().product()).map(|_| rng.uniform(bound)).collect();
    Tensor::new(shape, data).expect("length from shape")
}

/// Builds the state dict of `kind` for `channels` input channels with timm's default widths,
/// weights uniform in `±1/sqrt(fan_in)`, small biases, and BatchNorm / LayerNorm statistics
/// away from their identity values.
pub fn seeded_weights(kind: BlockKind, channels: usize, options: &BlockOptions, seed: u64) -> Result<Weights> {
    options.check_for(kind)?;
    let c = channels;
    let mut keys: Vec<(String, Vec<usize>)> = Vec::new();
    let mut conv = |name: &str, out: usize, inp: usize, bias: bool| {
        keys.push((format!("{name}.weight"), vec![out, inp, 1, 1]));
        if bias {
            keys.push((format!("{name}.bias"), vec![out]));
        }
    };
    let mut norm_keys: Vec<(String, usize)> = Vec::new();
    match kind {
        BlockKind::Se => {
            let rd = make_divisible(c as f64 / 16.0, 8, 0.0);
            conv("fc1", rd, c, true);
            conv("fc2", c, rd, true);
        }
        BlockKind::Cbam => {
            let rd = make_divisible(c as f64 / 16.0, 1, 0.0);
            conv("channel.fc1", rd, c, false);
            conv("channel.fc2", c, rd, false);
            keys.push(("spatial.conv.conv.weight".into(), vec![1, 2, 7, 7]));
            norm_keys.push(("spatial.conv.bn".into(), 1));
        }
        BlockKind::NonLocal => {
            let rd = make_divisible(c as f64 / 8.0, 8, 0.9);
            let pairwise = options.pairwise.unwrap_or_default();
            if pairwise != Pairwise::Gaussian {
                conv("t", rd, c, true);
                conv("p", rd, c, true);
            }
            conv("g", rd, c, true);
            conv("z", c, rd, true);
            if pairwise == Pairwise::Concatenation {
                keys.push(("concat_project.weight".into(), vec![1, 2 * rd, 1, 1]));
            }
            norm_keys.push(("norm".into(), c));
        }
        BlockKind::Eca => keys.push(("conv.weight".into(), vec![1, 1, eca_kernel_size(c)])),
        BlockKind::Gc => {
            let rd = make_divisible(c as f64 / 8.0, 1, 0.0);
            let mlp = if options.fusion == Some(Fusion::Add) { "mlp_add" } else { "mlp_scale" };
            conv("conv_attn", 1, c, true);
            conv(&format!("{mlp}.fc1"), rd, c, true);
            conv(&format!("{mlp}.fc2"), c, rd, true);
            keys.push((format!("{mlp}.norm.weight"), vec![rd]));
            keys.push((format!("{mlp}.norm.bias"), vec![rd]));
        }
        BlockKind::Mhsa => {
            super::mhsa::checked_heads(options.heads, c)?;
            conv("qkv", 3 * c, c, true);
            conv("proj", c, c, true);
        }
    }
    let mut rng = Seeded(seed);
    let mut tensors: Vec<(String, Tensor)> = keys
        .into_iter()
        .map(|(key, shape)| {
            let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
            // LayerNorm gains around 1, biases small, weights in ±1/sqrt(fan_in).
            let (centre, spread) = if key.ends_with("norm.weight") {
                (1.0, 0.2)
            } else if key.ends_with(".bias") {
                (0.0, 0.1)
            } else {
                (0.0, 1.0 / (fan_in as f32).sqrt())
            };
            let data = (0..shape.iter().product()).map(|_| centre + rng.uniform(spread)).collect();
            (key, Tensor::new(shape, data).expect("length from shape"))
        })
        .collect();
    for (prefix, n) in norm_keys {
        let mut stat = |name: &str, centre: f32, spread: f32| {
            let data = (0..n).map(|_| centre + rng.uniform(spread)).collect();
            tensors.push((format!("{prefix}.{name}"), Tensor::new(vec![n], data).expect("length n")));
        };
        stat("weight", 1.0, 0.3);
        stat("bias", 0.0, 0.1);
        stat("running_mean", 0.0, 0.2);
        stat("running_var", 1.0, 0.3);
    }
    Ok(Weights::from_tensors(tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::Block;

    #[test]
    fn widths_follow_timm() {
        // SEModule(64): rd 8; CbamModule(64): 4; NonLocalAttn(64): 8; GlobalContext(64): 8.
        assert_eq!(make_divisible(64.0 / 16.0, 8, 0.0), 8);
        assert_eq!(make_divisible(256.0 / 16.0, 8, 0.0), 16);
        assert_eq!(make_divisible(64.0 / 16.0, 1, 0.0), 4);
        assert_eq!(make_divisible(64.0 / 8.0, 8, 0.9), 8);
        // Values checked against timm.layers.helpers.make_divisible.
        assert_eq!(make_divisible(200.0 / 8.0, 8, 0.9), 24);
        assert_eq!(make_divisible(100.0 / 8.0, 8, 0.9), 16);
        assert_eq!(make_divisible(20.0 / 8.0, 8, 0.9), 8);
        assert_eq!(eca_kernel_size(64), 3);
        assert_eq!(eca_kernel_size(256), 5);
        assert_eq!(eca_kernel_size(512), 5);
        assert_eq!(eca_kernel_size(20), 3);
    }

    #[test]
    fn seeded_weights_load_for_every_block_and_are_reproducible() {
        for kind in BlockKind::ALL {
            let options = BlockOptions { heads: (kind == BlockKind::Mhsa).then_some(4), ..Default::default() };
            let a = seeded_weights(kind, 64, &options, 1).unwrap();
            let b = seeded_weights(kind, 64, &options, 1).unwrap();
            assert!(a.keys().eq(b.keys()));
            assert!(a.keys().all(|k| a.get(k) == b.get(k)));
            Block::load(kind, &a, &options).unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
    }
}
