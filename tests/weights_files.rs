//! Weights files as people have them (tests/fixtures/cases/CASES.md, "Weights files"): float16 and
//! bfloat16, a block under a prefix, files that are not safetensors, other codes' names (AlexHex7's
//! and mmcv's Non-local, the official CBAM), through the CLI as a user runs it. Numbers are checked
//! against the expected files, or against a float64 reference written here from the original
//! code's forward pass, within a stated tolerance.
#![cfg(not(target_arch = "wasm32"))] // native only: processes and files

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use attention_playground::Tensor;
use attention_playground::weights::write_safetensors;
use common::{FAST_CPU_TOLERANCE, Tolerance, mismatch, read};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// Widening float16 / bfloat16 is exact, so the output is the float32 computation on the rounded
/// weights: held to the float32 tolerance of a reference computed the same way.
const HALF_TOLERANCE: Tolerance = Tolerance { abs: 1e-6, rel: 1e-5 };

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases").join(name)
}

type Named = BTreeMap<String, Tensor>;

struct Run {
    code: Option<i32>,
    stderr: String,
    out: Option<Named>,
}

impl Run {
    fn ok(&self) -> &Named {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        self.out.as_ref().expect("an output file")
    }

    /// Exit code 2, one line on stderr holding every `needle`, no output file.
    fn refused(&self, needles: &[&str]) -> &str {
        assert_eq!(self.code, Some(2), "{}", self.stderr);
        assert_eq!(self.stderr.trim_end().lines().count(), 1, "one line: {}", self.stderr);
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr lacks `{needle}`: {}", self.stderr);
        }
        assert!(self.out.is_none(), "an output was written");
        &self.stderr
    }
}

/// `apply --backend cpu` on `weights` and `input`.
fn apply(block: &str, weights: &Path, input: &Path, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("y.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .args(["apply", "--block", block, "--backend", "cpu", "--weights"])
        .arg(weights)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&output)
        .args(extra)
        .output()
        .unwrap();
    Run { code: out.status.code(), stderr: String::from_utf8_lossy(&out.stderr).into_owned(), out: output.exists().then(|| read(&output)) }
}

fn assert_close(what: &str, actual: &Tensor, expected: &Tensor, tolerance: Tolerance) {
    if let Some(problem) = mismatch(what, actual, expected, tolerance) {
        panic!("{problem}");
    }
}

fn assert_identical(what: &str, a: &Named, b: &Named) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{what}");
    for (k, t) in a {
        assert_eq!(t.shape(), b[k].shape(), "{what} {k}");
        let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits(t) == bits(&b[k]), "{what}: {k} differs");
    }
}

/// Writes raw safetensors entries `(name, dtype, shape, bytes)`.
fn write_raw(path: &Path, entries: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, TensorView<'_>)> =
        entries.iter().map(|(k, d, s, b)| (k.to_string(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The tensors of a file as stored: (dtype, shape, bytes), read with the safetensors crate alone.
fn raw_tensors(path: &Path) -> BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    parsed.iter().map(|(k, v)| (k.to_string(), (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

// ---------------------------------------------------------------------------------------------
// float64 references, from the original codes' forward passes.

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// `out[o][p] = sum_i w[o][i] * x[i][p] + b[o]` over `(inputs, positions)`.
fn conv1x1(w: &Tensor, b: Option<&Tensor>, x: &[f64], positions: usize) -> Vec<f64> {
    let (outputs, inputs) = (w.shape()[0], w.shape()[1]);
    let mut out = vec![0.0; outputs * positions];
    for o in 0..outputs {
        for p in 0..positions {
            let mut s = b.map_or(0.0, |b| f64::from(b.data()[o]));
            for i in 0..inputs {
                s += f64::from(w.data()[o * inputs + i]) * x[i * positions + p];
            }
            out[o * positions + p] = s;
        }
    }
    out
}

/// Eval-mode BatchNorm of channel `c` under `prefix`.
fn batchnorm(t: &Named, prefix: &str, c: usize, v: f64) -> f64 {
    let get = |f: &str| f64::from(t[&format!("{prefix}{f}")].data()[c]);
    (v - get("running_mean")) / (get("running_var") + 1e-5).sqrt() * get("weight") + get("bias")
}

/// timm's SEModule: `x * sigmoid(fc2(relu(fc1(mean_hw(x)))))`.
fn se_reference(t: &Named, x: &Tensor) -> Tensor {
    let [n, c, h, w] = x.shape().try_into().unwrap();
    let hw = h * w;
    let mut y = Vec::new();
    for img in x.data().chunks_exact(c * hw) {
        let means: Vec<f64> = img.chunks_exact(hw).map(|ch| ch.iter().map(|&v| f64::from(v)).sum::<f64>() / hw as f64).collect();
        let hidden: Vec<f64> = conv1x1(&t["fc1.weight"], t.get("fc1.bias"), &means, 1).into_iter().map(|v| v.max(0.0)).collect();
        let gate: Vec<f64> = conv1x1(&t["fc2.weight"], t.get("fc2.bias"), &hidden, 1).into_iter().map(sigmoid).collect();
        y.extend(img.chunks_exact(hw).zip(&gate).flat_map(|(ch, &g)| ch.iter().map(move |&v| (f64::from(v) * g) as f32)));
    }
    Tensor::new(vec![n, c, h, w], y).unwrap()
}

/// mmcv's `NonLocal2d` in embedded-Gaussian mode with `use_scale=True` and a BatchNorm
/// `norm_cfg`: `x + conv_out(softmax(theta^T phi / sqrt(inter)) g)`, conv_out without bias.
fn mmcv_nonlocal_reference(t: &Named, x: &Tensor) -> Tensor {
    let [n, c, h, w] = x.shape().try_into().unwrap();
    let positions = h * w;
    let inter = t["g.conv.weight"].shape()[0];
    let mut y = Vec::new();
    for img in x.data().chunks_exact(c * positions) {
        let x64: Vec<f64> = img.iter().map(|&v| f64::from(v)).collect();
        let embed = |name: &str| conv1x1(&t[&format!("{name}.conv.weight")], t.get(&format!("{name}.conv.bias")), &x64, positions);
        let (theta, phi, g) = (embed("theta"), embed("phi"), embed("g"));
        let mut attended = vec![0.0; inter * positions];
        for i in 0..positions {
            let logits: Vec<f64> = (0..positions)
                .map(|j| (0..inter).map(|r| theta[r * positions + i] * phi[r * positions + j]).sum::<f64>() / (inter as f64).sqrt())
                .collect();
            let top = logits.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
            let total: f64 = e.iter().sum();
            for r in 0..inter {
                attended[r * positions + i] = (0..positions).map(|j| e[j] / total * g[r * positions + j]).sum();
            }
        }
        let out = conv1x1(&t["conv_out.conv.weight"], None, &attended, positions);
        for ch in 0..c {
            for p in 0..positions {
                y.push((x64[ch * positions + p] + batchnorm(t, "conv_out.bn.", ch, out[ch * positions + p])) as f32);
            }
        }
    }
    Tensor::new(vec![n, c, h, w], y).unwrap()
}

/// The official CBAM (`MODELS/cbam.py`): ChannelGate with a Linear MLP (bias) over the average
/// and max pools, then SpatialGate on `[max_c, mean_c]` (or mean first when `max_first` is
/// false), a k x k conv (padding k//2, no bias), BatchNorm and sigmoid. Returns `y`, the channel
/// gate `(N, C)` and the spatial gate `(N, H, W)`.
fn official_cbam_reference(t: &Named, prefix: &str, x: &Tensor, max_first: bool) -> (Tensor, Tensor, Tensor) {
    let [n, c, h, w] = x.shape().try_into().unwrap();
    let hw = h * w;
    let key = |k: &str| &t[&format!("{prefix}{k}")];
    let (w1, b1, w3, b3) =
        (key("ChannelGate.mlp.1.weight"), key("ChannelGate.mlp.1.bias"), key("ChannelGate.mlp.3.weight"), key("ChannelGate.mlp.3.bias"));
    let mlp = |v: &[f64]| {
        let hidden: Vec<f64> = conv1x1(w1, Some(b1), v, 1).into_iter().map(|v| v.max(0.0)).collect();
        conv1x1(w3, Some(b3), &hidden, 1)
    };
    let kernel = key("SpatialGate.spatial.conv.weight");
    let k = kernel.shape()[2];
    let bn: Named = ["weight", "bias", "running_mean", "running_var"]
        .iter()
        .map(|f| (f.to_string(), key(&format!("SpatialGate.spatial.bn.{f}")).clone()))
        .collect();
    let (mut y, mut channel, mut spatial) = (Vec::new(), Vec::new(), Vec::new());
    for img in x.data().chunks_exact(c * hw) {
        let planes: Vec<Vec<f64>> = img.chunks_exact(hw).map(|ch| ch.iter().map(|&v| f64::from(v)).collect()).collect();
        let avg: Vec<f64> = planes.iter().map(|p| p.iter().sum::<f64>() / hw as f64).collect();
        let max: Vec<f64> = planes.iter().map(|p| p.iter().cloned().fold(f64::MIN, f64::max)).collect();
        let a: Vec<f64> = mlp(&avg).iter().zip(mlp(&max)).map(|(u, v)| sigmoid(u + v)).collect();
        let x1: Vec<Vec<f64>> = planes.iter().zip(&a).map(|(p, g)| p.iter().map(|v| v * g).collect()).collect();
        let ch_max: Vec<f64> = (0..hw).map(|p| x1.iter().map(|pl| pl[p]).fold(f64::MIN, f64::max)).collect();
        let ch_mean: Vec<f64> = (0..hw).map(|p| x1.iter().map(|pl| pl[p]).sum::<f64>() / c as f64).collect();
        let pooled = if max_first { [ch_max, ch_mean] } else { [ch_mean, ch_max] };
        let s: Vec<f64> = (0..hw)
            .map(|p| {
                let (row, col) = ((p / w) as isize, (p % w) as isize);
                let mut v = 0.0;
                for (m, map) in pooled.iter().enumerate() {
                    for dy in 0..k {
                        for dx in 0..k {
                            let (r, q) = (row + dy as isize - (k / 2) as isize, col + dx as isize - (k / 2) as isize);
                            if (0..h as isize).contains(&r) && (0..w as isize).contains(&q) {
                                v += f64::from(kernel.data()[(m * k + dy) * k + dx]) * map[r as usize * w + q as usize];
                            }
                        }
                    }
                }
                sigmoid(batchnorm(&bn, "", 0, v))
            })
            .collect();
        y.extend(x1.iter().flat_map(|pl| pl.iter().zip(&s).map(|(v, g)| (v * g) as f32)));
        channel.extend(a.iter().map(|&v| v as f32));
        spatial.extend(s.iter().map(|&v| v as f32));
    }
    (Tensor::new(vec![n, c, h, w], y).unwrap(), Tensor::new(vec![n, c], channel).unwrap(), Tensor::new(vec![n, h, w], spatial).unwrap())
}

// ---------------------------------------------------------------------------------------------

#[test]
fn float16_and_bfloat16_weights_load_widened_exactly() {
    let x = case("x_c16.safetensors");
    // The float32 original and its expected output.
    let f32_out = apply("se", &case("se_f32.safetensors"), &x, &[]);
    let expected = read(&case("se_expected.safetensors"));
    for name in ["y", "channel"] {
        assert_close(&format!("se_f32 {name}"), &f32_out.ok()[name], &expected[name], HALF_TOLERANCE);
    }
    // float16: the expected output was computed from the rounded weights.
    let f16 = apply("se", &case("se_f16.safetensors"), &x, &[]);
    assert_close("se_f16 y", &f16.ok()["y"], &read(&case("se_f16_expected.safetensors"))["y"], HALF_TOLERANCE);

    // bfloat16: the same output as float32 weights holding exactly the widened values (a
    // bfloat16 is the top half of a float32), and the float64 reference on those values.
    let dir = tempfile::tempdir().unwrap();
    let widened: Named = raw_tensors(&case("se_bf16.safetensors"))
        .into_iter()
        .map(|(k, (dtype, shape, bytes))| {
            assert_eq!(dtype, Dtype::BF16, "{k}");
            let values = bytes.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect();
            (k, Tensor::new(shape, values).unwrap())
        })
        .collect();
    let as_f32 = dir.path().join("bf16_as_f32.safetensors");
    std::fs::write(&as_f32, write_safetensors(widened.iter().map(|(k, t)| (k.as_str(), t)))).unwrap();
    let bf16 = apply("se", &case("se_bf16.safetensors"), &x, &[]);
    assert_identical("bf16 against its values in float32", bf16.ok(), apply("se", &as_f32, &x, &[]).ok());
    let x_tensor = read(&x).remove("x").unwrap();
    assert_close("se_bf16 y", &bf16.ok()["y"], &se_reference(&widened, &x_tensor), HALF_TOLERANCE);
}

#[test]
fn a_dtype_that_cannot_load_names_its_key_the_same_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let x = case("x_c16.safetensors");
    // Eight int64 tensors: the file's own order is a hash map's, different in every process.
    let names = ["w.h", "w.c", "w.f", "w.a", "w.g", "w.b", "w.e", "w.d"];
    let mut entries: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = names.iter().map(|&k| (k, Dtype::I64, vec![2], vec![0u8; 16])).collect();
    entries.push(("norm.num_batches_tracked", Dtype::I64, vec![], vec![0u8; 8]));
    let ints = dir.path().join("ints.safetensors");
    write_raw(&ints, &entries);
    let messages: Vec<String> = (0..6).map(|_| apply("se", &ints, &x, &[]).refused(&["dtype I64", "tensor.float()"]).to_string()).collect();
    assert!(messages.iter().all(|m| m == &messages[0]), "the message changed between runs: {messages:#?}");
    assert!(messages[0].contains("key `w.a`"), "the first key by name: {}", messages[0]);
    // float64 is refused too (narrowing would round), with the conversion.
    let f64s = dir.path().join("f64.safetensors");
    write_raw(&f64s, &[("fc1.weight", Dtype::F64, vec![8, 16, 1, 1], vec![0u8; 8 * 128])]);
    apply("se", &f64s, &x, &[]).refused(&["`fc1.weight`", "dtype F64", "float32", ".float()"]);
}

#[test]
fn weights_under_a_prefix_name_the_prefix_and_the_option() {
    let x = case("x_c16.safetensors");
    let w = case("se_module_prefix.safetensors");
    apply("se", &w, &x, &[]).refused(&["under `module.`", "--prefix module."]);
    // The prefix with or without its dot.
    let expected = read(&case("se_expected.safetensors"));
    for prefix in ["module.", "module"] {
        assert_close(&format!("--prefix {prefix}"), &apply("se", &w, &x, &["--prefix", prefix]).ok()["y"], &expected["y"], HALF_TOLERANCE);
    }
    // A whole network: its SE block is under layer1.0.se.
    let whole = case("seresnet_whole.safetensors");
    apply("se", &whole, &x, &[]).refused(&["under `layer1.0.se.`", "--prefix layer1.0.se."]);
    assert_close("whole network", &apply("se", &whole, &x, &["--prefix", "layer1.0.se"]).ok()["y"], &expected["y"], HALF_TOLERANCE);
}

#[test]
fn files_that_are_not_safetensors_are_named() {
    let x = case("x_c16.safetensors");
    let pth = apply("se", &case("se_weights.pth"), &x, &[]);
    let said = pth.refused(&["se_weights.pth", "PyTorch", "torch.save", "save_file(torch.load(", "map_location='cpu'", "state_dict"]);
    assert!(!said.contains("header too large"), "{said}");
    apply("se", &case("se_lfs_pointer.safetensors"), &x, &[]).refused(&["se_lfs_pointer.safetensors", "git-LFS", "git lfs pull"]);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let whole = std::fs::read(case("se_f32.safetensors")).unwrap();
    for (name, bytes, needles) in [
        ("cut.safetensors", &whole[..whole.len() - 10], &["cut.safetensors", "cut short", &format!("{} bytes", whole.len())][..]),
        ("empty.safetensors", &[][..], &["empty"][..]),
        ("page.safetensors", &b"<!DOCTYPE html>\n<html><head><title>Sign in</title>"[..], &["HTML page", "raw file"][..]),
        ("legacy.pt", &b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02"[..], &["PyTorch", "legacy"][..]),
        ("model.gguf", &b"GGUF\x03\x00\x00\x00\x00\x00\x00\x00"[..], &["GGUF"][..]),
        ("w.safetensors.gz", &b"\x1f\x8b\x08\x00\x00\x00\x00\x00"[..], &["gzip", "decompress"][..]),
    ] {
        apply("se", &write(name, bytes), &x, &[]).refused(needles);
    }
}

#[test]
fn alexhex7_nonlocal_equals_the_same_tensors_under_timm_names() {
    let x = case("x_c32.safetensors");
    let (alex, timm) = (case("alexhex7_nonlocal.safetensors"), case("timm_nonlocal_renamed.safetensors"));
    let ported = apply("nonlocal", &alex, &x, &["--save-attention"]);
    assert_identical(
        "AlexHex7 against timm --scale none",
        ported.ok(),
        apply("nonlocal", &timm, &x, &["--scale", "none", "--save-attention"]).ok(),
    );
    for word in ["AlexHex7", "--scale none", "embedded Gaussian assumed", "--pairwise dot-product"] {
        assert!(ported.stderr.contains(word), "the note lacks `{word}`: {}", ported.stderr);
    }
    // The user's options win over the port's.
    for options in [&["--scale", "input"][..], &["--pairwise", "dot-product"][..]] {
        let mine = apply("nonlocal", &alex, &x, options);
        let theirs = apply("nonlocal", &timm, &x, options);
        assert_identical(&format!("{options:?}"), mine.ok(), theirs.ok());
        assert!(mine.stderr.contains("as given"), "{}", mine.stderr);
    }
}

#[test]
fn mmcv_nonlocal2d_loads_with_mmcv_semantics() {
    let x = case("x_c32.safetensors");
    let w = case("mmcv_nonlocal2d.safetensors");
    let run = apply("nonlocal", &w, &x, &[]);
    let expected = mmcv_nonlocal_reference(&read(&w), &read(&x)["x"]);
    assert_close("mmcv NonLocal2d y", &run.ok()["y"], &expected, FAST_CPU_TOLERANCE);
    assert!(run.stderr.contains("mmcv") && run.stderr.contains("--scale inner"), "{}", run.stderr);
    // Without use_scale the numbers differ: the scale is not a no-op on this file.
    let unscaled = apply("nonlocal", &w, &x, &["--scale", "none"]);
    assert!(mismatch("unscaled", &unscaled.ok()["y"], &expected, FAST_CPU_TOLERANCE).is_some());
}

#[test]
fn official_cbam_loads_under_its_resnet_prefix() {
    let x = case("x_c32.safetensors");
    let w = case("cbam_official_resnet.safetensors");
    apply("cbam", &w, &x, &[]).refused(&["under `module.layer1.0.cbam.`", "--prefix module.layer1.0.cbam.", "official CBAM"]);
    let x_tensor = read(&x).remove("x").unwrap();
    let tensors = read(&w);
    let mut ys = Vec::new();
    for (options, max_first) in [(&[][..], true), (&["--spatial-order", "mean-max"][..], false)] {
        let run = apply("cbam", &w, &x, &[&["--prefix", "module.layer1.0.cbam."][..], options].concat());
        let (y, channel, spatial) = official_cbam_reference(&tensors, "module.layer1.0.cbam.", &x_tensor, max_first);
        let out = run.ok();
        assert_close(&format!("{options:?} y"), &out["y"], &y, FAST_CPU_TOLERANCE);
        assert_close(&format!("{options:?} channel"), &out["channel"], &channel, FAST_CPU_TOLERANCE);
        assert_close(&format!("{options:?} spatial"), &out["spatial"], &spatial, FAST_CPU_TOLERANCE);
        assert!(run.stderr.contains("official CBAM"), "{}", run.stderr);
        ys.push(out["y"].clone());
    }
    assert!(mismatch("the two orders", &ys[0], &ys[1], FAST_CPU_TOLERANCE).is_some(), "the order matters on this file");
}

/// `render --blocks se` on the cat photo; the SE gates of result.json, or the exit code and stderr.
fn render_se_gates(extra: &[&str]) -> Result<Vec<f64>, (Option<i32>, String)> {
    let dir = tempfile::tempdir().unwrap();
    let cat = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/samples/cat.jpg");
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .args(["render", "--blocks", "se", "--backend", "cpu", "--image"])
        .arg(&cat)
        .arg("--out")
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err((out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).unwrap()).unwrap();
    Ok(result["blocks"]["se"]["channel"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
}

#[test]
fn render_takes_a_block_out_of_a_whole_network() {
    let whole = case("seresnet_whole.safetensors");
    let whole = whole.to_str().unwrap();
    let alone = case("se_f32.safetensors");
    // The network's SE block sees 16 channels, as this one was made for.
    let reference = render_se_gates(&["--weights", &format!("se={}", alone.to_str().unwrap())]).unwrap();
    assert_eq!(reference.len(), 16);
    let by_item = render_se_gates(&["--weights", &format!("se={whole}:layer1.0.se.")]).unwrap();
    assert_eq!(by_item, reference, "se=FILE:PREFIX");
    let by_option = render_se_gates(&["--prefix", "layer1.0.se.", "--weights", &format!("se={whole}")]).unwrap();
    assert_eq!(by_option, reference, "--prefix");
    // The prefix of the item wins over --prefix.
    let both = render_se_gates(&["--prefix", "nothing.", "--weights", &format!("se={whole}:layer1.0.se")]).unwrap();
    assert_eq!(both, reference, "the item's prefix wins");
    assert_ne!(render_se_gates(&[]).unwrap(), reference, "the trained gates differ");
    let (code, stderr) = render_se_gates(&["--weights", &format!("se={whole}")]).unwrap_err();
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--prefix layer1.0.se."), "{stderr}");
}
