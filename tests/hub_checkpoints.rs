//! Checkpoints as researchers hold them: timm's Hugging Face Hub repositories (config.json beside
//! model.safetensors) evaluated as timm evaluates each one, and a `.pth` saved from a training run
//! (every BatchNorm's `num_batches_tracked`, a nested `{"epoch", "state_dict", "optimizer"}`).
//! The fixtures are tests/fixtures/hub/, written by tools/make_golden_hub.py with timm: small
//! random-initialised networks with non-default `pretrained_cfg` (96 to 128 px; center, squash
//! and border crops; bilinear and bicubic; three normalisations), a photo, and the logits timm
//! gives on it through its own `resolve_data_config` + `create_transform`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::Command;

use attention_playground::net::checkpoint::StateDict;
use attention_playground::net::config::CheckpointConfig;
use attention_playground::net::preprocess::probabilities;
use attention_playground::net::{Off, families};
use attention_playground::weights::read_safetensors;
use attention_playground::{AnyBackend, BackendChoice, Tensor};

/// The engine against timm on the photo: the networks are exact (tests/net.rs, 1e-4), but the
/// inputs differ where PIL's resampler and the image crate's round a blended edge pixel to another
/// of 256 levels (timm's crop and ours agree on size, offset and padding exactly).
const PHOTO_ABS: f32 = 0.05;
const PHOTO_REL: f32 = 0.02;
/// The same input tensor: only float32 summation order differs.
const EXACT: f32 = 1e-4;

fn hub() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hub")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Fails on a length mismatch and on any value (NaN included) beyond `abs + rel * |expected|`.
fn assert_close(what: &str, got: &[f32], expected: &[f32], abs: f32, rel: f32) {
    assert_eq!(got.len(), expected.len(), "{what}: {} values for {}", got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        let within = (g - e).abs() <= abs + rel * e.abs();
        assert!(within, "{what}[{i}]: {g} against timm's {e} (all: {got:?})");
    }
}

fn photo() -> (Vec<u8>, usize, usize) {
    let img = image::open(hub().join("photo.png")).unwrap().to_rgba8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    (img.into_raw(), w, h)
}

fn logits(net: &attention_playground::net::Net, x: &Tensor) -> Vec<f32> {
    let backend = pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap();
    pollster::block_on(net.run(&backend, x, &Off::default())).unwrap().logits.data().to_vec()
}

#[test]
fn each_hub_repository_is_evaluated_as_timm_evaluates_it() {
    let expected = json(&hub().join("expected.json"));
    let (rgba, w, h) = photo();
    let repos = expected.as_object().unwrap();
    assert_eq!(repos.len(), 4, "the fixture's repositories");
    for (id, case) in repos {
        let dir = hub().join(id);
        let config = CheckpointConfig::parse(&std::fs::read_to_string(dir.join("config.json")).unwrap(), id).unwrap();
        // The transform is the one timm's resolve_data_config gives.
        let t = &case["transform"];
        assert_eq!(config.transform.input_size as u64, t["input_size"][1].as_u64().unwrap(), "{id}");
        assert_eq!(config.transform.crop_pct, t["crop_pct"].as_f64().unwrap(), "{id}");
        assert_eq!(config.transform.crop_mode.to_string(), t["crop_mode"].as_str().unwrap(), "{id}");
        assert_eq!(config.transform.interpolation.to_string(), t["interpolation"].as_str().unwrap(), "{id}");
        assert_close(&format!("{id} mean"), &config.transform.mean, &floats(&t["mean"]), 1e-7, 0.0);
        assert_close(&format!("{id} std"), &config.transform.std, &floats(&t["std"]), 1e-7, 0.0);
        let dict = StateDict::read_path(&dir.join("model.safetensors")).unwrap();
        let net = families::build_with_config(&dict, None, Some(&config)).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(Some(net.arch.as_str()), config.architecture.as_deref(), "{id}: the config's architecture");
        let x = config.transform.apply(&rgba, w, h).unwrap();
        // The input: the per-channel mean of timm's tensor (the crop and the normalisation).
        let s = config.transform.input_size;
        let means: Vec<f32> = (0..3).map(|c| x.data()[c * s * s..(c + 1) * s * s].iter().sum::<f32>() / (s * s) as f32).collect();
        assert_close(&format!("{id} input mean"), &means, &floats(&case["input_mean"]), 0.01, 0.0);
        let got = logits(&net, &x);
        let worst = got.iter().zip(floats(&case["logits"])).map(|(g, e)| (g - e).abs()).fold(0.0f32, f32::max);
        eprintln!("{id}: logits within {worst:.2e} of timm's");
        assert_close(&format!("{id} logits"), &got, &floats(&case["logits"]), PHOTO_ABS, PHOTO_REL);
        // The top class and the probabilities as timm reads them (a sigmoid for one logit).
        let top = case["top"].as_array().unwrap();
        let p = probabilities(&got);
        let (best, p_best) = (top[0][0].as_u64().unwrap() as usize, top[0][1].as_f64().unwrap() as f32);
        assert!((p[best] - p_best).abs() < 0.02, "{id}: P({best}) {} against timm's {p_best}", p[best]);
        if got.len() == 1 {
            assert_eq!(net.class_names(None).unwrap(), vec!["positive"]);
        }
        if let Some(names) = &config.label_names {
            assert_eq!(net.class_names(Some(&names.join("\n"))).unwrap().len(), got.len());
        }
    }
}

#[test]
fn a_training_checkpoint_opens_with_num_batches_tracked_nested_or_not() {
    let dir = hub().join("train_step");
    let expected = json(&dir.join("expected.json"));
    let x = read_safetensors(&std::fs::read(dir.join("input.safetensors")).unwrap(), "input").unwrap().remove("x").unwrap();
    for file in ["model.pth", "nested.pth"] {
        let dict = StateDict::read_path(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Every key, num_batches_tracked included, is understood: nothing is left over.
        let net = families::build(&dict, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_close(&format!("{file} logits"), &logits(&net, &x), &floats(&expected["input"]["logits"]), EXACT, EXACT);
    }
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn net_reads_config_json_beside_the_checkpoint_or_named() {
    let photo = hub().join("photo.png");
    let photo = photo.to_str().unwrap();
    // The training checkpoint with config.json beside it: its architecture, its squash crop and its
    // class names, and the top class timm gives.
    let dir = hub().join("train_step");
    let expected = json(&dir.join("expected.json"));
    let (ok, out, err) = cli(&["net", "--model", dir.join("model.pth").to_str().unwrap(), "--image", photo, "--backend", "cpu"]);
    assert!(ok, "{err}");
    assert!(err.contains("112 x 112, bilinear, crop squash 0.95"), "{err}");
    let config = CheckpointConfig::parse(&std::fs::read_to_string(dir.join("config.json")).unwrap(), "c").unwrap();
    let best = expected["photo"]["top"][0][0].as_u64().unwrap() as usize;
    let name = &config.label_names.unwrap()[best];
    assert!(out.starts_with(name.as_str()), "the top class is {name}: {out}");
    // --config names it; the one-logit head prints the sigmoid's probability.
    let repo = hub().join("timm/resnet18.one_logit_test");
    let (ok, out, err) = cli(&[
        "net",
        "--model",
        repo.join("model.safetensors").to_str().unwrap(),
        "--config",
        repo.join("config.json").to_str().unwrap(),
        "--image",
        photo,
        "--backend",
        "cpu",
    ]);
    assert!(ok, "{err}");
    let logit = json(&hub().join("expected.json"))["timm/resnet18.one_logit_test"]["logits"][0].as_f64().unwrap();
    let p = 1.0 / (1.0 + (-logit).exp());
    assert!(out.starts_with("P(positive) = "), "{out}");
    let shown: f64 = out.trim().trim_start_matches("P(positive) = ").parse().unwrap();
    assert!((shown - p).abs() < 0.01, "P = {shown} against timm's {p}");
    // A config that cannot be applied is named with its field.
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), r#"{"architecture": "resnet18", "pretrained_cfg": {"interpolation": "lanczos"}}"#).unwrap();
    let (ok, _, err) = cli(&[
        "net",
        "--model",
        repo.join("model.safetensors").to_str().unwrap(),
        "--config",
        bad.path().to_str().unwrap(),
        "--image",
        photo,
    ]);
    assert!(!ok && err.contains("`pretrained_cfg.interpolation` is `lanczos`"), "{err}");
}

/// The page's reader of torch.save's ZIP (from memory, `weights::pth`) against the CLI's
/// (pytorch-reader, from a file) on every `.pth` of the fixtures: the same keys, shapes and values,
/// bit for bit.
#[test]
fn the_page_s_pth_reader_gives_what_pytorch_reader_gives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let files = [
        root.join("hub/train_step/model.pth"),
        root.join("hub/train_step/nested.pth"),
        root.join("nets/seresnet50/model.pth"),
        root.join("nets/seresnet50/model_nested.pth"),
    ];
    for path in files {
        let from_memory = StateDict::read(&std::fs::read(&path).unwrap(), "memory").unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let from_file = StateDict::read_path(&path).unwrap();
        let keys: Vec<&str> = from_file.keys().collect();
        assert!(keys.len() > 10, "{}: {} keys", path.display(), keys.len());
        assert_eq!(from_memory.keys().collect::<Vec<_>>(), keys, "{}", path.display());
        for key in keys {
            let (a, b) = (from_memory.take(key).unwrap(), from_file.take(key).unwrap());
            assert_eq!(a.shape(), b.shape(), "{key}");
            let same = a.data().iter().zip(b.data()).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{}: `{key}` differs", path.display());
        }
    }
}

/// A config.json that is another network's is refused by name, never applied to these weights:
/// another architecture, another attention, another class count, an architecture the engine
/// does not run (a ViT), one it runs from other keys (timm's ByobNet `gcresnet50t`), a tensor
/// file instead of weights.
#[test]
fn a_config_that_does_not_fit_the_weights_is_refused_by_name() {
    let repo = hub().join("timm/seresnet50.tiny_test");
    let dict = || StateDict::read_path(&repo.join("model.safetensors")).unwrap();
    let config = |text: &str| CheckpointConfig::parse(text, "config.json").unwrap();
    let cases = [
        (r#"{"architecture": "ecaresnet26t"}"#, "names ecaresnet26t, a network with eca blocks, but the checkpoint holds"),
        (r#"{"architecture": "seresnet50", "num_classes": 1000}"#, "says 1000 classes, but the checkpoint's head has 7"),
        (
            r#"{"architecture": "vit_base_patch16_224"}"#,
            "names the architecture vit_base_patch16_224, but the checkpoint looks like a ResNet",
        ),
        (r#"{"architecture": "gcresnet50t"}"#, "names the architecture gcresnet50t, but the checkpoint looks like a ResNet"),
    ];
    for (text, expected) in cases {
        let err = families::build_with_config(&dict(), None, Some(&config(text))).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(expected), "{text}: {err}");
    }
    assert!(families::runs("gcresnet50t") && families::runs("seresnext26ts") && families::runs("seresnext26d_32x4d"));
    assert!(!families::runs("halonet26t") && !families::runs("vit_base_patch16_224"));
    // The right config opens; a tensor file with it is named for what it is.
    assert!(families::build_with_config(&dict(), None, Some(&config(r#"{"architecture": "seresnet50", "num_classes": 7}"#))).is_ok());
    let x = StateDict::read_path(&hub().join("train_step/input.safetensors")).unwrap();
    let err = families::build_with_config(&x, None, Some(&config(r#"{"architecture": "seresnet50"}"#))).err().unwrap().to_string();
    assert!(err.contains("looks like an input tensor `x`"), "{err}");
}

/// A config.json beside the checkpoint that cannot be applied names itself and the way around it;
/// `--config none` sets it aside.
#[test]
fn a_bad_config_beside_the_checkpoint_can_be_set_aside() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(hub().join("timm/resnet18.one_logit_test/model.safetensors"), tmp.path().join("model.safetensors")).unwrap();
    std::fs::write(tmp.path().join("config.json"), r#"{"architecture": "resnet18", "pretrained_cfg": {"input_size": [3, 96, 128]}}"#)
        .unwrap();
    let model = tmp.path().join("model.safetensors");
    let photo = hub().join("photo.png");
    let args = |extra: &[&str]| {
        let mut a = vec!["net", "--model", model.to_str().unwrap(), "--image", photo.to_str().unwrap(), "--backend", "cpu"];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let (ok, _, err) = cli(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !ok && err.contains("96 x 128: the engine evaluates square inputs only (found beside the checkpoint; `--config none` reads none)"),
        "{err}"
    );
    let (ok, out, err) = cli(&args(&["--config", "none"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(ok && out.starts_with("P(positive) = "), "{out}{err}");
    // Another network's config beside it: refused by name, with the same way around it.
    std::fs::write(tmp.path().join("config.json"), r#"{"architecture": "ecaresnet26t"}"#).unwrap();
    let (ok, _, err) = cli(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!ok && err.contains("names ecaresnet26t, a network with eca blocks") && err.contains("`--config none` reads none"), "{err}");
}
