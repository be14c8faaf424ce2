//! No checkpoint panics the engine. Every fixture network's checkpoint (tests/fixtures/nets/) is
//! mutated the ways real files go wrong: a tensor's rank changed, a dimension zero, a bias or a
//! weight short, a square kernel made non-square, a key dropped, a NaN or an infinity in a weight,
//! the file cut short. Each must give a result or a one-line error from building and from a
//! forward pass, never a panic (a panic in the page kills its worker). A NaN weight propagates
//! to the logits as it does in PyTorch, and the load names where it is.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use attention_playground::net::checkpoint::StateDict;
use attention_playground::net::{Off, families};
use attention_playground::simd::Kernels;
use attention_playground::weights::read_safetensors;
use attention_playground::{AnyBackend, BackendChoice, Tensor};

fn nets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nets")
}

mod common;

/// `(case name, arch)` of every fixture network.
fn cases() -> Vec<(String, String)> {
    common::net_cases().into_iter().map(|(c, arch)| (c["name"].as_str().unwrap().to_string(), arch)).collect()
}

fn tensor(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
    Tensor::new(shape, data).expect("a consistent mutation")
}

/// The mutations of one tensor: `(what, the new tensor or None to drop the key)`.
fn mutations(t: &Tensor) -> Vec<(&'static str, Option<Tensor>)> {
    let (shape, data) = (t.shape().to_vec(), t.data().to_vec());
    let mut out: Vec<(&'static str, Option<Tensor>)> = vec![("dropped", None)];
    let mut more_rank = shape.clone();
    more_rank.push(1);
    out.push(("rank + 1", Some(tensor(more_rank, data.clone()))));
    if shape.len() >= 2 {
        out.push(("flattened", Some(tensor(vec![data.len()], data.clone()))));
    }
    if !shape.is_empty() {
        let mut zero = shape.clone();
        zero[0] = 0;
        out.push(("zero-sized", Some(tensor(zero, Vec::new()))));
    }
    if shape.first().is_some_and(|&d| d > 1) {
        let mut short = shape.clone();
        short[0] -= 1;
        let n = short.iter().product();
        out.push(("short", Some(tensor(short, data[..n].to_vec()))));
    }
    if let [o, i, k, k2] = shape[..]
        && k == k2
        && k > 1
    {
        let n = o * i * k * (k - 1);
        out.push(("non-square kernel", Some(tensor(vec![o, i, k, k - 1], data[..n].to_vec()))));
    }
    if !data.is_empty() {
        let mut nan = data.clone();
        nan[data.len() / 2] = f32::NAN;
        out.push(("NaN", Some(tensor(shape.clone(), nan))));
        let mut inf = data.clone();
        inf[0] = f32::INFINITY;
        out.push(("inf", Some(tensor(shape.clone(), inf))));
    }
    out
}

/// Builds `tensors` as `arch` and runs `x` through it on each of `kernels`: the logits or the
/// error of each run (none where the build refused the checkpoint). A panic is returned as Err.
#[allow(clippy::type_complexity)]
fn build_and_run(
    tensors: BTreeMap<String, Tensor>,
    arch: &str,
    x: &Tensor,
    backend: &AnyBackend,
    kernels: &[Kernels],
) -> Result<Vec<Result<Vec<f32>, String>>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let dict = StateDict::from_tensors(tensors);
        let Ok(net) = families::build(&dict, Some(arch)) else { return Vec::new() };
        kernels
            .iter()
            .map(|&k| {
                pollster::block_on(net.run_with(backend, k, x, &Off::default()))
                    .map(|run| run.logits.data().to_vec())
                    .map_err(|e| e.to_string())
            })
            .collect()
    }))
    .map_err(|panic| {
        panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
    })
}

#[test]
fn no_mutated_checkpoint_panics_and_a_nan_weight_reaches_the_logits() {
    let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
    let mut panics = Vec::new();
    let mut nan_swallowed = Vec::new();
    let mut tried = 0;
    for (name, arch) in cases() {
        let dir = nets().join(&name);
        let original = read_safetensors(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let x = read_safetensors(&std::fs::read(dir.join("input.safetensors")).unwrap(), "input").unwrap().remove("x").unwrap();
        // A spread of keys: every stage's first and last tensors among them.
        let keys: Vec<&String> = original.keys().collect();
        let step = (keys.len() / 8).max(1);
        let chosen: Vec<String> = keys.iter().step_by(step).chain(keys.last()).map(|k| k.to_string()).collect();
        for key in chosen {
            for (what, mutated) in mutations(&original[&key]) {
                let mut tensors = original.clone();
                match mutated {
                    Some(t) => tensors.insert(key.clone(), t),
                    None => tensors.remove(&key),
                };
                tried += 1;
                // A NaN's path through every kernel variant (scalar reference, SIMD); the rest on the best.
                let kernels = if what == "NaN" { Kernels::available() } else { vec![Kernels::best()] };
                match build_and_run(tensors, &arch, &x, &backend, &kernels) {
                    Err(panic) => panics.push(format!("{name}: `{key}` {what}: {panic}")),
                    Ok(runs) if what == "NaN" => {
                        for (k, run) in kernels.iter().zip(&runs) {
                            match run {
                                Ok(logits) if logits.iter().all(|v| !v.is_nan()) => {
                                    nan_swallowed.push(format!("{name}: `{key}` on the {} kernels", k.name()));
                                }
                                Err(e) => nan_swallowed.push(format!("{name}: `{key}` on the {} kernels refused: {e}", k.name())),
                                Ok(_) => {}
                            }
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    assert!(tried > 500, "{tried} mutations tried");
    assert!(panics.is_empty(), "{} of {tried} mutated checkpoints panic:\n{}", panics.len(), panics.join("\n"));
    assert!(nan_swallowed.is_empty(), "a NaN weight gives finite logits (PyTorch's are NaN):\n{}", nan_swallowed.join("\n"));
}

#[test]
fn a_checkpoint_cut_short_is_an_error_not_a_panic() {
    for (name, _) in cases() {
        let bytes = std::fs::read(nets().join(&name).join("model.safetensors")).unwrap();
        for cut in [0, 1, 8, 9, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let outcome = catch_unwind(|| StateDict::read(&bytes[..cut], "cut.safetensors").map(|_| ()));
            assert!(matches!(outcome, Ok(Err(_))), "{name} cut at {cut}: {outcome:?}");
        }
    }
    let pth = std::fs::read(nets().join("seresnet50/model.pth")).unwrap();
    for cut in (0..pth.len()).step_by(997) {
        let outcome = catch_unwind(|| StateDict::read(&pth[..cut], "cut.pth").map(|_| ()));
        assert!(matches!(outcome, Ok(Err(_))), "model.pth cut at {cut}: {outcome:?}");
    }
}

#[test]
fn a_non_finite_weight_is_named_at_load() {
    let dir = nets().join("seresnet50");
    let mut tensors = read_safetensors(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
    assert!(StateDict::from_tensors(tensors.clone()).non_finite().is_none());
    let w = tensors.get_mut("layer2.0.conv2.weight").unwrap();
    let mut data = w.data().to_vec();
    data[5] = f32::NAN;
    *w = Tensor::new(w.shape().to_vec(), data).unwrap();
    let dict = StateDict::from_tensors(tensors);
    let found = dict.non_finite().expect("the NaN is found at load");
    assert_eq!((found.key.as_str(), found.index), ("layer2.0.conv2.weight", 5));
    assert_eq!(found.to_string(), "the checkpoint's `layer2.0.conv2.weight` holds NaN at index 5");
}

/// On the GPU (lavapipe) too: a NaN weight reaches the logits of every fixture network, through
/// the WGSL layers and blocks (ReLU, ReLU6, the hard activations and max pooling by comparisons,
/// since WGSL leaves max() and clamp() of a NaN undefined), and no stage falls back to the CPU.
#[test]
fn a_nan_weight_reaches_the_logits_on_the_gpu() {
    let gpu =
        pollster::block_on(attention_playground::GpuBackend::new()).expect("a GPU adapter (build.sh installs Mesa's software Vulkan)");
    let backend = AnyBackend::Gpu(Box::new(gpu));
    let mut swallowed = Vec::new();
    for (name, arch) in cases() {
        let dir = nets().join(&name);
        let mut tensors = read_safetensors(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let x = read_safetensors(&std::fs::read(dir.join("input.safetensors")).unwrap(), "input").unwrap().remove("x").unwrap();
        // The first convolution's weight: everything after it sees the NaN.
        let key = tensors.keys().find(|k| k.ends_with(".weight") && tensors[*k].shape().len() == 4).unwrap().clone();
        let t = &tensors[&key];
        let mut data = t.data().to_vec();
        let middle = data.len() / 2;
        data[middle] = f32::NAN;
        tensors.insert(key.clone(), Tensor::new(t.shape().to_vec(), data).unwrap());
        let dict = StateDict::from_tensors(tensors);
        let Ok(net) = families::build(&dict, Some(&arch)) else { continue };
        let run = pollster::block_on(net.run(&backend, &x, &Off::default())).unwrap();
        let on_gpu = run.ran_on().backend == attention_playground::BackendKind::Gpu && run.ran_on().fallback.is_none();
        if !on_gpu || run.logits.data().iter().all(|v| !v.is_nan()) {
            swallowed.push(format!("{name}: `{key}` ({})", run.ran_on()));
        }
    }
    assert!(swallowed.is_empty(), "a NaN weight gives finite logits on the GPU, or a stage fell back:\n{}", swallowed.join("\n"));
}

/// `net` says so, with where the NaN is, instead of ranking NaN logits.
#[test]
fn net_names_the_nan_instead_of_a_prediction() {
    let dir = nets().join("seresnet50");
    let mut tensors = read_safetensors(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
    let w = tensors.get_mut("layer2.0.conv2.weight").unwrap();
    let mut data = w.data().to_vec();
    data[5] = f32::NAN;
    *w = Tensor::new(w.shape().to_vec(), data).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("diverged.safetensors");
    std::fs::write(&model, attention_playground::weights::write_safetensors(tensors.iter().map(|(k, t)| (k.as_str(), t)))).unwrap();
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hub/photo.png");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .args(["net", "--model", model.to_str().unwrap(), "--image", photo.to_str().unwrap(), "--backend", "cpu"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout.trim(),
        "the logits hold NaN, as PyTorch's do for these weights: the checkpoint's `layer2.0.conv2.weight` holds NaN at index 5"
    );
}

/// Writes a spread of mutated checkpoints to target/test-mutations/ (one per mutation kind and
/// chosen key, of two fixture networks) with `index.json` naming each's architecture, for
/// tests/browser/mutations.test.mjs, which opens them in the page: the wasm engine must answer
/// each without a trap.
#[test]
fn mutated_checkpoints_for_the_browser_test() {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-mutations");
    std::fs::create_dir_all(&out).unwrap();
    let mut index = Vec::new();
    for (name, arch) in [("seresnet50", "seresnet50"), ("mobilenetv3_large_100", "mobilenetv3_large_100"), ("resnet50d_cbam", "resnet50d")]
    {
        let original = read_safetensors(&std::fs::read(nets().join(name).join("model.safetensors")).unwrap(), "model").unwrap();
        let keys: Vec<String> = original.keys().cloned().collect();
        for key in keys.iter().step_by((keys.len() / 4).max(1)) {
            for (what, mutated) in mutations(&original[key]) {
                let mut tensors = original.clone();
                match mutated {
                    Some(t) => tensors.insert(key.clone(), t),
                    None => tensors.remove(key),
                };
                let file = format!("{name}-{}-{}.safetensors", index.len(), what.replace(' ', "_"));
                let bytes = attention_playground::weights::write_safetensors(tensors.iter().map(|(k, t)| (k.as_str(), t)));
                std::fs::write(out.join(&file), bytes).unwrap();
                index.push(serde_json::json!({ "file": file, "arch": arch, "key": key, "what": what }));
            }
        }
    }
    std::fs::write(out.join("index.json"), serde_json::to_string_pretty(&index).unwrap()).unwrap();
    assert!(index.len() > 40, "{} files", index.len());
}
