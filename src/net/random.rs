//! Real-sized networks with seeded random weights, under the reference libraries' own names, for
//! the benchmarks and the tests that need a network of real size without a download: timm's
//! `seresnet50` (26 M parameters) and `mobilenetv3_large_100` (5.5 M). Convolutions are drawn
//! with He-uniform scale, BatchNorm statistics near (0, 1), so activations stay finite through
//! the depth. The shapes follow timm's model definitions (`resnet.py`, `mobilenetv3.py`).

use crate::error::{Error, Result};

/// One tensor of a state dict: name, shape, values.
pub type Entry = (String, Vec<usize>, Vec<f32>);

/// The architectures this writes.
pub const ARCHS: [&str; 2] = ["seresnet50", "mobilenetv3_large_100"];

struct Writer {
    seed: u64,
    out: Vec<Entry>,
}

impl Writer {
    fn add(&mut self, name: String, shape: Vec<usize>, kind: &str) {
        let n: usize = shape.iter().product();
        let fan_in: usize = shape[1..].iter().product::<usize>().max(1);
        let values = (0..n)
            .map(|_| {
                self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (self.seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                match kind {
                    "weight" if shape.len() > 1 => u * (6.0 / fan_in as f32).sqrt(),
                    "weight" | "running_var" => 1.0 + 0.2 * u,
                    _ => 0.1 * u,
                }
            })
            .collect();
        self.out.push((name, shape, values));
    }

    fn conv(&mut self, name: &str, cout: usize, cin_per_group: usize, k: usize) {
        self.add(format!("{name}.weight"), vec![cout, cin_per_group, k, k], "weight");
    }

    fn bn(&mut self, name: &str, c: usize) {
        for field in ["weight", "bias", "running_mean", "running_var"] {
            self.add(format!("{name}.{field}"), vec![c], field);
        }
    }

    /// A 1x1 convolution with a bias, as the squeeze-and-excitation layers hold theirs.
    fn conv_bias(&mut self, name: &str, cout: usize, cin: usize) {
        self.conv(name, cout, cin, 1);
        self.add(format!("{name}.bias"), vec![cout], "bias");
    }
}

/// timm's `make_divisible(v, 8)`: the nearest multiple of 8, never under 90 % of `v`.
fn divisible(v: f64) -> usize {
    let rounded = ((v + 4.0) / 8.0).floor() as usize * 8;
    let rounded = rounded.max(8);
    if (rounded as f64) < 0.9 * v { rounded + 8 } else { rounded }
}

/// The state dict of `arch` (one of [`ARCHS`]) with weights from `seed`, in timm's key order.
pub fn state_dict(arch: &str, seed: u64) -> Result<Vec<Entry>> {
    let mut w = Writer { seed, out: Vec::new() };
    match arch {
        "seresnet50" => {
            w.conv("conv1", 64, 3, 7);
            w.bn("bn1", 64);
            let mut inplanes = 64;
            for (stage, (&blocks, &planes)) in [3usize, 4, 6, 3].iter().zip(&[64usize, 128, 256, 512]).enumerate() {
                for b in 0..blocks {
                    let p = format!("layer{}.{b}", stage + 1);
                    let out = planes * 4;
                    w.conv(&format!("{p}.conv1"), planes, inplanes, 1);
                    w.bn(&format!("{p}.bn1"), planes);
                    w.conv(&format!("{p}.conv2"), planes, planes, 3);
                    w.bn(&format!("{p}.bn2"), planes);
                    w.conv(&format!("{p}.conv3"), out, planes, 1);
                    w.bn(&format!("{p}.bn3"), out);
                    let rd = out / 16;
                    w.conv_bias(&format!("{p}.se.fc1"), rd, out);
                    w.conv_bias(&format!("{p}.se.fc2"), out, rd);
                    if b == 0 {
                        w.conv(&format!("{p}.downsample.0"), out, inplanes, 1);
                        w.bn(&format!("{p}.downsample.1"), out);
                    }
                    inplanes = out;
                }
            }
            w.add("fc.weight".into(), vec![1000, 2048], "weight");
            w.add("fc.bias".into(), vec![1000], "bias");
        }
        "mobilenetv3_large_100" => {
            w.conv("conv_stem", 16, 3, 3);
            w.bn("bn1", 16);
            // blocks.0.0: depthwise separable, 16 -> 16.
            w.conv("blocks.0.0.conv_dw", 16, 1, 3);
            w.bn("blocks.0.0.bn1", 16);
            w.conv("blocks.0.0.conv_pw", 16, 16, 1);
            w.bn("blocks.0.0.bn2", 16);
            // Inverted residuals per stage: (kernel, expansion, out channels, squeeze-excite).
            let stages: [&[(usize, f64, usize, bool)]; 5] = [
                &[(3, 4.0, 24, false), (3, 3.0, 24, false)],
                &[(5, 3.0, 40, true), (5, 3.0, 40, true), (5, 3.0, 40, true)],
                &[(3, 6.0, 80, false), (3, 2.5, 80, false), (3, 2.3, 80, false), (3, 2.3, 80, false)],
                &[(3, 6.0, 112, true), (3, 6.0, 112, true)],
                &[(5, 6.0, 160, true), (5, 6.0, 160, true), (5, 6.0, 160, true)],
            ];
            let mut cin = 16;
            for (s, blocks) in stages.iter().enumerate() {
                for (b, &(k, e, out, se)) in blocks.iter().enumerate() {
                    let p = format!("blocks.{}.{b}", s + 1);
                    let mid = divisible(cin as f64 * e);
                    w.conv(&format!("{p}.conv_pw"), mid, cin, 1);
                    w.bn(&format!("{p}.bn1"), mid);
                    w.conv(&format!("{p}.conv_dw"), mid, 1, k);
                    w.bn(&format!("{p}.bn2"), mid);
                    if se {
                        let rd = divisible(mid as f64 * 0.25);
                        w.conv_bias(&format!("{p}.se.conv_reduce"), rd, mid);
                        w.conv_bias(&format!("{p}.se.conv_expand"), mid, rd);
                    }
                    w.conv(&format!("{p}.conv_pwl"), out, mid, 1);
                    w.bn(&format!("{p}.bn3"), out);
                    cin = out;
                }
            }
            // blocks.6.0: conv, BatchNorm, hard-swish to 960.
            w.conv("blocks.6.0.conv", 960, 160, 1);
            w.bn("blocks.6.0.bn1", 960);
            w.conv_bias("conv_head", 1280, 960);
            w.add("classifier.weight".into(), vec![1000, 1280], "weight");
            w.add("classifier.bias".into(), vec![1000], "bias");
        }
        other => {
            return Err(Error::BadOption {
                option: "--arch",
                reason: format!("{other}: random weights are written for {}", ARCHS.join(" and ")),
            });
        }
    }
    Ok(w.out)
}

/// [`state_dict`] as a float16 safetensors file, as checkpoints are often shared.
pub fn safetensors_f16(arch: &str, seed: u64) -> Result<Vec<u8>> {
    let entries = state_dict(arch, seed)?;
    let bytes: Vec<Vec<u8>> =
        entries.iter().map(|(_, _, v)| v.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()).collect()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = entries
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (name.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F16, shape.clone(), b).expect("a tensor of its shape"))
        })
        .collect();
    safetensors::serialize(views, None).map_err(|e| Error::BadOption { option: "--arch", reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timm_s_divisible_rounds_to_eights_and_never_under_ninety_percent() {
        assert_eq!((divisible(240.0 * 0.25), divisible(80.0 * 2.3), divisible(16.0 * 0.25)), (64, 184, 8));
        assert!(state_dict("vit_base", 1).is_err());
    }
}
