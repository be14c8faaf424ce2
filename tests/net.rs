//! Whole networks against their reference libraries: the small random-initialised variants of
//! tests/fixtures/nets/ (written by tools/make_golden_nets.py with timm and torchvision, computed
//! in float64), their logits, every attention block's maps, and the logits with blocks switched
//! off, through `attention-playground net` and the library, on the CPU (every kernel variant) and
//! on the GPU (Mesa's lavapipe).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use attention_playground::net::checkpoint::{self, StateDict};
use attention_playground::net::{Off, families};
use attention_playground::simd::Kernels;
use attention_playground::weights::read_safetensors;
use attention_playground::{AnyBackend, BackendKind, CpuBackend, GpuBackend, RanOn, Tensor};

/// Per value: |got - expected| <= ABS + REL * |expected|. The fixtures are float64 results; the
/// engine sums in float32 through a dozen layers (largest seen: 2e-5 on logits of magnitude 3).
const ABS: f32 = 1e-4;
const REL: f32 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nets")
}

struct Case {
    name: String,
    arch: String,
    off: Vec<String>,
}

fn cases() -> Vec<Case> {
    common::net_cases()
        .into_iter()
        .map(|(c, arch)| Case {
            name: c["name"].as_str().unwrap().to_string(),
            arch,
            off: c["off"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect(),
        })
        .collect()
}

fn read(path: &Path) -> BTreeMap<String, Tensor> {
    read_safetensors(&std::fs::read(path).unwrap(), &path.display().to_string()).unwrap()
}

/// [`common::mismatch`] (NaN-aware, shapes checked) under `ABS + REL * |expected|`, collected.
fn compare(what: &str, got: &Tensor, expected: &Tensor, failures: &mut Vec<String>) {
    failures.extend(common::mismatch(what, got, expected, common::Tolerance { abs: ABS, rel: REL }));
}

/// Runs every case on `backend` with the layers on `kernels`; checks logits, every map
/// of the fixture (the full Non-local matrices aside: the engine never builds them) and the
/// logits with the case's blocks off. Returns where the layers and the attention blocks ran.
fn check_cases(backend: &AnyBackend, kernels: Kernels) -> Vec<RanOn> {
    let mut failures = Vec::new();
    let mut ran = Vec::new();
    let mut checked = 0;
    for case in cases().iter() {
        let dir = fixtures().join(&case.name);
        let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let net = families::build(&dict, Some(&case.arch)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let x = read(&dir.join("input.safetensors")).remove("x").unwrap();
        let expected = read(&dir.join("expected.safetensors"));
        let run = pollster::block_on(net.run_with(backend, kernels, &x, &Off::default())).unwrap();
        compare(&format!("{} logits", case.name), &run.logits, &expected["logits"], &mut failures);
        let mut maps = 0;
        for (key, want) in expected.iter().filter(|(k, _)| k.contains(".") && !k.ends_with(".attention")) {
            let (path, map) = key.rsplit_once('.').unwrap();
            match run.blocks.iter().find(|b| b.path == path).and_then(|b| b.maps.get(map)) {
                Some(got) => compare(&format!("{} {key}", case.name), got, want, &mut failures),
                None => failures.push(format!("{}: no map {key}", case.name)),
            }
            maps += 1;
        }
        // Non-local's and BoTNet's only map is their N x N matrix, which the engine does not
        // build in a run (Non-local's rows are checked per block in tests/golden.rs, BoTNet's in
        // botnet_s_attention_rows_are_timm_s below); every other kind has maps here.
        let with_maps = run.blocks.iter().any(|b| b.kind != "nl" && b.kind != "bot");
        assert_eq!(maps > 0, with_maps, "{}: every network with gates or maps has them checked", case.name);
        ran.push(run.layers.clone());
        ran.extend(run.blocks.iter().filter_map(|b| b.ran_on.clone()));
        if let Some(want) = expected.get("logits_off") {
            let off = Off(case.off.clone());
            let run = pollster::block_on(net.run_with(backend, kernels, &x, &off)).unwrap();
            compare(&format!("{} logits with {:?} off", case.name, case.off), &run.logits, want, &mut failures);
            for record in &run.blocks {
                assert_eq!(record.off, case.off.contains(&record.path), "{}: {} off", case.name, record.path);
                assert!(
                    record.off == record.ran_on.is_none() && (!record.off || record.maps.is_empty()),
                    "{}: {} ran or not",
                    case.name,
                    record.path
                );
            }
        }
        checked += 1;
    }
    assert!(checked == cases().len() && checked >= 30, "every case was checked ({checked})");
    assert!(failures.is_empty(), "[{kernels}] {} mismatches:\n{}", failures.len(), failures.join("\n"));
    ran
}

#[test]
fn every_supported_network_reproduces_its_reference_on_every_cpu_kernel_variant() {
    let backend = AnyBackend::Cpu(CpuBackend::new());
    for kernels in Kernels::available() {
        let ran = check_cases(&backend, kernels);
        assert!(ran.iter().all(|r| r.backend == BackendKind::Cpu));
    }
}

#[test]
fn every_supported_network_reproduces_its_reference_on_the_gpu_layers_and_blocks() {
    let gpu = pollster::block_on(GpuBackend::new()).expect("a GPU adapter (build.sh installs Mesa's software Vulkan, mesa-vulkan-drivers)");
    let backend = AnyBackend::Gpu(Box::new(gpu));
    let ran = check_cases(&backend, Kernels::best());
    assert!(
        !ran.is_empty() && ran.iter().all(|r| r.backend == BackendKind::Gpu && r.fallback.is_none()),
        "every layer and attention block ran on the GPU: {:?}",
        ran.iter().filter(|r| r.backend != BackendKind::Gpu || r.fallback.is_some()).collect::<Vec<_>>()
    );
}

#[test]
fn bfloat16_checkpoints_and_wrapped_keys_load() {
    let dir = fixtures().join("seresnet50");
    let x = read(&dir.join("input.safetensors")).remove("x").unwrap();
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let mut failures = Vec::new();
    // bfloat16, widened exactly: the fixture's expectation was computed from the rounded weights.
    let dict = StateDict::read(&std::fs::read(dir.join("model_bf16.safetensors")).unwrap(), "model").unwrap();
    let run = pollster::block_on(families::build(&dict, None).unwrap().run(&backend, &x, &Off::default())).unwrap();
    compare("bf16 logits", &run.logits, &read(&dir.join("expected_bf16.safetensors"))["logits"], &mut failures);
    // The same state dict under DataParallel's `module.` and a training script's `model.`.
    let wrapped = read(&dir.join("model.safetensors")).into_iter().map(|(k, t)| (format!("module.model.{k}"), t)).collect();
    let run =
        pollster::block_on(families::build(&StateDict::from_tensors(wrapped), None).unwrap().run(&backend, &x, &Off::default())).unwrap();
    compare("module.model. logits", &run.logits, &read(&dir.join("expected.safetensors"))["logits"], &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn pytorch_checkpoints_load_plain_and_nested_under_state_dict_and_module() {
    let dir = fixtures().join("seresnet50");
    let x = read(&dir.join("input.safetensors")).remove("x").unwrap();
    let expected = read(&dir.join("expected.safetensors"));
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let mut failures = Vec::new();
    for file in ["model.pth", "model_nested.pth"] {
        let dict = StateDict::read_path(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let run = pollster::block_on(families::build(&dict, None).unwrap().run(&backend, &x, &Off::default())).unwrap();
        compare(&format!("{file} logits"), &run.logits, &expected["logits"], &mut failures);
    }
    assert!(failures.is_empty(), "{failures:?}");
    // A torch.save file cut short, and an optimizer's state alone: one clear line each.
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dir.join("model.pth")).unwrap();
    std::fs::write(tmp.path().join("cut.pth"), &bytes[..bytes.len() / 2]).unwrap();
    let err = StateDict::read_path(&tmp.path().join("cut.pth")).unwrap_err().to_string();
    assert!(err.contains("PyTorch checkpoint that cannot be read") && err.contains("cut short"), "{err}");
    let optimizer: BTreeMap<String, Tensor> = [("state.0.exp_avg".to_string(), Tensor::new(vec![2], vec![0.0, 1.0]).unwrap())].into();
    std::fs::write(
        tmp.path().join("opt.safetensors"),
        attention_playground::weights::write_safetensors(optimizer.iter().map(|(k, t)| (k.as_str(), t))),
    )
    .unwrap();
    let err = StateDict::read_path(&tmp.path().join("opt.safetensors")).unwrap_err().to_string();
    assert!(err.contains("an optimizer's state"), "{err}");
}

#[test]
fn regnet_builds_from_its_keys_and_the_torchvision_mobile_nets_ask_for_their_arch() {
    let load = |case: &str| StateDict::read(&std::fs::read(fixtures().join(case).join("model.safetensors")).unwrap(), "model").unwrap();
    // RegNet's keys tell the family: the same network as with --arch.
    let dir = fixtures().join("regnety_002");
    let x = read(&dir.join("input.safetensors")).remove("x").unwrap();
    let net = families::build(&load("regnety_002"), None).unwrap();
    assert_eq!(net.family, "timm regnet");
    let run = pollster::block_on(net.run(&AnyBackend::Cpu(CpuBackend::new()), &x, &Off::default())).unwrap();
    let mut failures = Vec::new();
    compare("regnety_002 without --arch", &run.logits, &read(&dir.join("expected.safetensors"))["logits"], &mut failures);
    assert!(failures.is_empty(), "{failures:?}");
    // torchvision's mobile nets: the strides, activations and eps are the architecture's.
    for (case, hint) in [
        ("torchvision_mobilenet_v3_small", "--arch torchvision.mobilenet_v3_large or torchvision.mobilenet_v3_small"),
        ("torchvision_efficientnet_b0", "--arch torchvision.efficientnet_b0"),
    ] {
        let err = families::build(&load(case), None).unwrap_err().to_string();
        assert!(err.contains(hint), "{case}: {err}");
    }
    // The wrong table is refused, not run.
    let err = families::build(&load("torchvision_mobilenet_v3_small"), Some("torchvision.mobilenet_v3_large")).unwrap_err().to_string();
    assert!(err.contains("15 inverted residual blocks; the checkpoint has 11"), "{err}");
    let err = families::build(&load("torchvision_efficientnet_b0"), Some("torchvision.mobilenet_v3_small")).unwrap_err().to_string();
    assert!(err.contains("11 inverted residual blocks; the checkpoint has 0"), "{err}");
}

/// BoTNet's self-attention rows (relative position logits added to the content logits, a
/// softmax per head) equal timm's for queries across the grid, on the CPU's plain and fast
/// kernels and on the GPU; the session gives them for a clicked cell.
#[test]
fn botnet_s_attention_rows_are_timm_s() {
    use attention_playground::net::session::Session;
    let gpu = pollster::block_on(GpuBackend::new()).expect("a GPU adapter");
    let backends = [AnyBackend::Cpu(CpuBackend::new()), AnyBackend::Gpu(Box::new(gpu))];
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.name.contains("botnet") || c.name.contains("botnext")) {
        let dir = fixtures().join(&case.name);
        let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let net = families::build(&dict, Some(&case.arch)).unwrap();
        let expected = read(&dir.join("expected.safetensors"));
        let x = first_image(&read(&dir.join("input.safetensors"))["x"]);
        let bots: Vec<String> = net.attention_blocks().iter().filter(|b| b.kind == "bot").map(|b| b.path.clone()).collect();
        assert!(!bots.is_empty(), "{}: BoTNet blocks", case.name);
        // The input size its position embeddings fix, read off the network: the fixture's.
        assert_eq!(net.fixed_input_size(), Some(x.shape()[2]), "{}", case.name);
        let mut session = Session::new(net);
        for backend in &backends {
            for kernels in [Kernels::Reference, Kernels::best()] {
                pollster::block_on(session.run(backend, kernels, &x, &Off::default(), &|| 0.0)).unwrap();
                for path in &bots {
                    let want = &expected[&format!("{path}.attention")]; // (N, heads, HW, HW)
                    let (heads, n) = (want.shape()[1], want.shape()[2]);
                    let (input, _) = pollster::block_on(session.features(backend, kernels, path)).unwrap();
                    let w = input.shape()[3];
                    for q in [0, n / 2 + 1, n - 1] {
                        let row = pollster::block_on(session.attention_row(backend, kernels, path, (q % w, q / w))).unwrap();
                        assert_eq!(row.row.shape(), &[1, heads, n / w, w], "{} {path}", case.name);
                        // On the GPU backend the row is the device's, not a fallback's.
                        assert_eq!((row.ran_on.backend, row.ran_on.fallback.as_deref()), (backend.kind(), None), "{} {path}", case.name);
                        let want_row = common::head_rows(want, q, w);
                        compare(
                            &format!("{} {path} query {q} [{kernels} on {:?}]", case.name, backend.kind()),
                            &row.row,
                            &want_row,
                            &mut failures,
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 2 * 2 * 2 * 3, "{checked} rows checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A ByobNet's weights do not hold its activation or whether its stem pools: its name is read
/// from them only where one network of timm's has their stem, depths, groups, attention and final
/// 1x1; any other is refused with the names to pick from.
#[test]
fn a_byobnet_is_named_from_its_weights_where_only_one_network_fits_them() {
    let dict = |depths: [usize; 4], grouped: bool, attn: &str, final_conv: bool| {
        let mut tensors = BTreeMap::new();
        let mut put = |key: String, shape: Vec<usize>| {
            let n = shape.iter().product();
            tensors.insert(key, Tensor::new(shape, vec![0.0; n]).unwrap());
        };
        for i in 1..=3 {
            put(format!("stem.conv{i}.conv.weight"), vec![8, 3, 3, 3]);
        }
        for (s, &d) in depths.iter().enumerate() {
            for j in 0..d {
                put(format!("stages.{s}.{j}.conv1_1x1.conv.weight"), vec![8, 8, 1, 1]);
                put(format!("stages.{s}.{j}.conv2_kxk.conv.weight"), vec![8, if grouped { 4 } else { 8 }, 3, 3]);
                if !attn.is_empty() {
                    put(format!("stages.{s}.{j}.attn.{attn}"), vec![8]);
                }
            }
        }
        if final_conv {
            put("final_conv.conv.weight".into(), vec![16, 8, 1, 1]);
        }
        put("head.fc.weight".into(), vec![7, 8]);
        StateDict::from_tensors(tensors)
    };
    let gca = "mlp_add.fc1.weight";
    for (depths, grouped, attn, final_conv, name) in [
        ([2, 2, 2, 2], true, gca, false, Some("gcresnext26ts")),
        ([2, 2, 2, 2], true, "conv.weight", false, Some("eca_resnext26ts")),
        ([2, 2, 2, 2], true, "fc1.weight", false, Some("seresnext26ts")),
        ([2, 2, 2, 2], true, "", false, Some("resnext26ts")),
        ([2, 3, 3, 2], false, "fc1.weight", true, Some("seresnet33ts")),
        ([2, 3, 3, 2], false, "", false, Some("resnet32ts")),
        ([3, 4, 6, 3], false, gca, false, Some("gcresnet50t")),
        ([3, 4, 6, 3], true, gca, false, Some("gcresnext50ts")),
        // No network of timm's has these: a plain 26-layer ResNet, other depths.
        ([2, 2, 2, 2], false, "", false, None),
        ([1, 1, 2, 1], true, gca, false, None),
    ] {
        let d = dict(depths, grouped, attn, final_conv);
        assert_eq!(families::byobnet::name_from_weights(&d).as_deref(), name, "{depths:?} grouped {grouped} attn {attn:?}");
    }
    // A name the weights contradict is refused, naming the network they are.
    let err = families::build(&dict([2, 2, 2, 2], true, gca, false), Some("eca_resnext26ts")).unwrap_err().to_string();
    assert!(err.contains("eca_resnext26ts does not fit these weights; they are timm's gcresnext26ts"), "{err}");
    let botnet = std::fs::read(fixtures().join("botnet26t_256").join("model.safetensors")).unwrap();
    let err = families::build(&StateDict::read(&botnet, "model").unwrap(), Some("regnetz_b16")).unwrap_err().to_string();
    assert!(err.contains("regnetz_b16 does not fit these weights; they hold BoTNet self-attention blocks"), "{err}");
    // Without a name, a BoTNet's weights are offered the BoTNets only.
    let err = families::build(&StateDict::read(&botnet, "model").unwrap(), None).unwrap_err().to_string();
    assert!(err.contains("--arch botnet26t_256, eca_botnext26ts_256") && !err.contains("regnetz"), "{err}");
    // The golden case (depths 1, 1, 2, 1) is refused without its name, with the names to pick.
    let model = std::fs::read(fixtures().join("gcresnext26ts").join("model.safetensors")).unwrap();
    let err = families::build(&StateDict::read(&model, "model").unwrap(), None).unwrap_err().to_string();
    assert!(err.contains("timm ByobNet") && err.contains("--arch resnext26ts, gcresnext26ts"), "{err}");
}

fn net(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground")).arg("net").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_net_command_writes_logits_and_maps_and_refuses_in_one_line() {
    let dir = fixtures().join("resnet50d_cbam");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("y.safetensors");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let base = ["--model", &path(&dir.join("model.safetensors")), "--input", &path(&dir.join("input.safetensors")), "--backend", "cpu"];
    let (code, stderr) = net(&[&base[..], &["--output", &path(&out), "--off", "layer1.0.se,layer4.0.se"]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 cbam blocks") && stderr.contains("ran on the cpu"), "{stderr}");
    let got = read(&out);
    let expected = read(&dir.join("expected.safetensors"));
    let mut failures = Vec::new();
    compare("logits with two blocks off", &got["logits"], &expected["logits_off"], &mut failures);
    assert!(!got.contains_key("layer1.0.se.channel") && got.contains_key("layer2.0.se.channel"), "a block that is off has no maps");
    let (code, stderr) = net(&[&base[..], &["--output", &path(&out)]].concat());
    assert_eq!(code, 0, "{stderr}");
    let got = read(&out);
    compare("logits", &got["logits"], &expected["logits"], &mut failures);
    for key in ["layer1.0.se.channel", "layer2.0.se.spatial", "layer4.0.se.spatial"] {
        compare(key, &got[key], &expected[key], &mut failures);
    }
    assert!(failures.is_empty(), "{failures:?}");

    let refusals: [(Vec<String>, &str); 4] = [
        (vec!["--off".into(), "layer9".into()], "`layer9` names no attention block of this network (they are 4 cbam blocks)"),
        (
            vec!["--arch".into(), "vit_base_patch16_224".into()],
            "vit_base_patch16_224 is not supported yet (the checkpoint looks like a ResNet)",
        ),
        (
            vec!["--model".into(), path(&fixtures().join("efficientnet_b0/model.safetensors"))],
            "is a timm EfficientNet, MobileNetV3, MNASNet or MixNet, whose strides and activations the weights do not tell: name it",
        ),
        (
            vec!["--model".into(), path(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases/se_weights.pth"))],
            "holds no tensors",
        ),
    ];
    for (extra, expected) in refusals {
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        if extra[0] == "--model" {
            args[1] = extra[1].clone();
        } else {
            args.extend(extra);
        }
        args.extend(["--output".into(), path(&tmp.path().join("refused.safetensors"))]);
        let (code, stderr) = net(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "expected `{expected}` in: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!tmp.path().join("refused.safetensors").exists());
    }
}

#[test]
fn the_net_command_names_the_top_classes_of_a_photo_with_and_without_blocks() {
    let model = fixtures().join("seresnet50/model.safetensors");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/samples/cat.jpg");
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, "disc\nsquare\ntriangle\ncross\nring\nstar\ntabby\n").unwrap();
    let args = ["--model", model.to_str().unwrap(), "--image", photo.to_str().unwrap(), "--backend", "cpu", "--top", "3"];
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .arg("net")
        .args(args)
        .args(["--off", "layer4", "--labels", labels.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0].matches(" %").count(), 3, "three classes: {stdout}");
    assert!(lines[1].starts_with("with layer4 off: "), "{stdout}");
    let names = ["disc", "square", "triangle", "cross", "ring", "star", "tabby"];
    assert!(lines.iter().all(|l| names.iter().any(|n| l.contains(n))), "the labels file names the classes: {stdout}");
    assert!(stderr.contains("(224 x 224, bicubic, crop center 0.875) ran on the cpu"), "{stderr}");

    // The same numbers as the library's transform and the --input path.
    let rgba = image::open(&photo).unwrap().to_rgba8();
    let x = attention_playground::net::preprocess::Preprocess::default()
        .apply(rgba.as_raw(), rgba.width() as usize, rgba.height() as usize)
        .unwrap();
    let dict = StateDict::read_path(&model).unwrap();
    let run =
        pollster::block_on(families::build(&dict, None).unwrap().run(&AnyBackend::Cpu(CpuBackend::new()), &x, &Off::default())).unwrap();
    let top = attention_playground::net::preprocess::top_k(run.logits.data(), 1)[0];
    assert!(lines[0].starts_with(&format!("{} {:.1} %", names[top.0], 100.0 * top.1)), "{stdout}");

    let (code, stderr) = net(&[&args[..], &["--labels", tmp.path().join("missing.txt").to_str().unwrap()]].concat());
    assert_eq!(code, 2, "{stderr}");
    std::fs::write(&labels, "only\ntwo\n").unwrap();
    let (code, stderr) = net(&[&args[..], &["--labels", labels.to_str().unwrap()]].concat());
    assert_eq!(code, 2);
    assert!(stderr.contains("2 names for a network with 7 classes"), "{stderr}");
}

/// A real-sized timm `seresnet50` state dict (26 M parameters, random weights) in float16
/// safetensors, as a researcher's checkpoint would be: its names and shapes as timm writes them.
fn seresnet50_f16(path: &Path) {
    std::fs::write(path, attention_playground::net::random::safetensors_f16("seresnet50", 7).unwrap()).unwrap();
}

#[test]
fn the_real_sized_random_networks_have_timm_s_keys_and_shapes() {
    use attention_playground::net::random;
    let text = std::fs::read_to_string(fixtures().join("real_sized_shapes.json")).unwrap();
    let timm: serde_json::Value = serde_json::from_str(&text).unwrap();
    for arch in random::ARCHS {
        let want: BTreeMap<String, Vec<usize>> =
            timm[arch].as_object().unwrap().iter().map(|(k, v)| (k.clone(), serde_json::from_value(v.clone()).unwrap())).collect();
        let got: BTreeMap<String, Vec<usize>> = random::state_dict(arch, 1).unwrap().into_iter().map(|(k, s, _)| (k, s)).collect();
        assert_eq!(got, want, "{arch}: the keys and shapes of timm.create_model('{arch}').state_dict()");
        let dict = StateDict::read(&random::safetensors_f16(arch, 1).unwrap(), arch).unwrap();
        let net = families::build(&dict, Some(arch)).unwrap();
        assert_eq!(net.classes, 1000);
    }
}

#[test]
fn a_real_sized_seresnet50_in_float16_names_imagenet_classes_for_a_photo() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("seresnet50_f16.safetensors");
    seresnet50_f16(&model);
    assert!(std::fs::metadata(&model).unwrap().len() > 50_000_000, "real-sized: 26 M float16 parameters");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/samples/cat.jpg");
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .args(["net", "--model", model.to_str().unwrap(), "--image", photo.to_str().unwrap(), "--backend", "cpu", "--off", "layer4"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("seresnet50 (16 se blocks)") && stderr.contains("224 x 224"), "named as timm would: {stderr}");
    let imagenet: Vec<String> = attention_playground::net::preprocess::class_names(1000, None).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    // Five ImageNet names with their probabilities on each line.
    for line in &lines {
        let named = imagenet.iter().filter(|n| line.contains(&format!("{n} "))).count();
        assert!(named >= 5 && line.matches(" %").count() == 5, "{line}");
    }
}

/// The first image of `x` `(N, C, H, W)`, as `(1, C, H, W)`.
fn first_image(x: &Tensor) -> Tensor {
    let len = x.data().len() / x.shape()[0];
    let mut shape = x.shape().to_vec();
    shape[0] = 1;
    Tensor::new(shape, x.data()[..len].to_vec()).unwrap()
}

#[test]
fn a_session_reruns_only_from_the_first_toggled_block_and_gives_the_numbers_of_a_whole_run() {
    use attention_playground::net::session::Session;
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let kernels = backend.cpu_kernels();
    let clock = || 0.0;
    let mut toggled = 0;
    for case in cases().iter() {
        let dir = fixtures().join(&case.name);
        let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let net = families::build(&dict, Some(&case.arch)).unwrap();
        let x = first_image(&read(&dir.join("input.safetensors"))["x"]);
        let paths: Vec<String> = net.attention_blocks().iter().map(|b| b.path.clone()).collect();
        let kinds: Vec<&str> = net.attention_blocks().iter().map(|b| b.kind).collect();
        let mut session = Session::new(net.clone());
        // Everything on, the last block off, the first, a kind, everything on again, a prefix.
        let mut sequence: Vec<Vec<String>> = vec![vec![]];
        if let (Some(first), Some(last)) = (paths.first(), paths.last()) {
            let stage = first.split('.').next().unwrap().to_string();
            sequence.extend([vec![last.clone()], vec![first.clone()], vec![kinds[0].to_string()], vec![], vec![stage], vec![last.clone()]]);
        }
        for words in sequence {
            let off = Off(words.clone());
            let got = pollster::block_on(session.run(&backend, kernels, &x, &off, &clock)).unwrap();
            let want = pollster::block_on(net.run_with(&backend, kernels, &x, &off)).unwrap();
            assert_eq!(got.run.logits, want.logits, "{}: logits with {words:?} off", case.name);
            assert_eq!(got.run.blocks.len(), want.blocks.len());
            for (g, w) in got.run.blocks.iter().zip(&want.blocks) {
                assert_eq!((&g.path, g.off, &g.maps), (&w.path, w.off, &w.maps), "{}: {} with {words:?} off", case.name, g.path);
            }
            assert_eq!(got.stages.first().map(|s| s.stage.as_str()), Some("stem"), "{}", case.name);
        }
        // Switching the last block off after a run with everything on starts at its module.
        if paths.len() > 1 {
            pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &clock)).unwrap();
            let last = paths.last().unwrap();
            let got = pollster::block_on(session.run(&backend, kernels, &x, &Off(vec![last.clone()]), &clock)).unwrap();
            assert!(got.resumed_at > 0 && got.stages.iter().any(|s| s.reused), "{}: {last} off re-ran everything", case.name);
            let again = pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &clock)).unwrap();
            assert_eq!(again.resumed_at, net.nodes.len(), "{}: the full run is kept", case.name);
            toggled += 1;
        }
        // A block's features: its output is its input times its gate for a channel gate, and the
        // input is unchanged where the block is off.
        if let Some(path) = paths.iter().zip(&kinds).find(|(_, k)| ["se", "eca", "ese"].contains(k)).map(|(p, _)| p) {
            let run = pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &clock)).unwrap();
            let (input, output) = pollster::block_on(session.features(&backend, kernels, path)).unwrap();
            let gate = &run.run.blocks.iter().find(|b| &b.path == path).unwrap().maps["channel"];
            let plane = input.shape()[2] * input.shape()[3];
            for (i, (a, b)) in input.data().iter().zip(output.data()).enumerate() {
                assert!((a * gate.data()[i / plane] - b).abs() <= 1e-5 * (1.0 + b.abs()), "{}: {path} output", case.name);
            }
            pollster::block_on(session.run(&backend, kernels, &x, &Off(vec![path.clone()]), &clock)).unwrap();
            let (input, output) = pollster::block_on(session.features(&backend, kernels, path)).unwrap();
            assert_eq!(input, output, "{}: {path} off is the identity", case.name);
        }
    }
    assert!(toggled >= 10, "toggles were checked on {toggled} networks");
}

#[test]
fn a_session_gives_the_attention_rows_of_a_non_local_block_and_refuses_them_for_a_gate() {
    use attention_playground::net::session::Session;
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let kernels = backend.cpu_kernels();
    let dir = fixtures().join("resnet50_nl");
    let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
    let arch = cases().into_iter().find(|c| c.name == "resnet50_nl").unwrap().arch;
    let net = families::build(&dict, Some(&arch)).unwrap();
    let x = first_image(&read(&dir.join("input.safetensors"))["x"]);
    let nl = net.attention_blocks().iter().find(|b| b.kind == "nl").unwrap().path.clone();
    let mut session = Session::new(net);
    let err = pollster::block_on(session.attention_row(&backend, kernels, &nl, (0, 0))).unwrap_err().to_string();
    assert!(err.contains("run an image first"), "{err}");
    pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &|| 0.0)).unwrap();
    let row = pollster::block_on(session.attention_row(&backend, kernels, &nl, (0, 0))).unwrap();
    let sum: f32 = row.row.data().iter().sum();
    assert!((sum - 1.0).abs() < 1e-4, "an embedded-Gaussian row sums to 1: {sum}");
    // The same row as the block computes from its own input.
    let (input, _) = pollster::block_on(session.features(&backend, kernels, &nl)).unwrap();
    let attention_playground::net::AttentionLayer::Block(block) =
        &session.net.attention_blocks().iter().find(|b| b.path == nl).unwrap().layer
    else {
        panic!("a Non-local block is one of the engine's blocks")
    };
    let direct = pollster::block_on(backend.attention_row(block, &input, 0)).unwrap();
    assert_eq!(row.row, direct.row);
    let err = pollster::block_on(session.attention_row(&backend, kernels, "layer9.0.se", (0, 0))).unwrap_err().to_string();
    assert!(err.contains("no attention block of this network"), "{err}");
}

/// Deterministic values in [-1, 1) (a linear congruential stream).
fn noise(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Every kind of layer the families use, alone, on the GPU (lavapipe) against the plain CPU
/// reference: convolutions of every stride, padding (PyTorch's and TF's "same"), dilation and
/// grouping (dense, ResNeXt-grouped, depthwise: the tiled and the one-thread-per-output shader),
/// each activation (GELU and the rest), max and average pooling (ceil mode, padding counted or
/// not), and residual joins. Each is a one-node network whose "logits" are its whole output.
#[test]
fn every_layer_on_the_gpu_equals_the_cpu_reference() {
    use attention_playground::layers::{Activation, Conv2d, Padding, Pool};
    use attention_playground::net::branch_attention::BranchAttention;
    use attention_playground::net::{Attention, AttentionLayer, Net, Node};
    let conv = |cin: usize, cout: usize, k: usize, stride, dilation, groups: usize, padding, seed| {
        let shape = [cout, cin / groups, k, k];
        let conv =
            Conv2d::new("w", noise(shape.iter().product(), seed), &shape, Some(noise(cout, seed + 1)), groups, stride, dilation, padding);
        Node::Conv(conv.unwrap())
    };
    // A 1x1 convolution from the RGB input to `c` channels, so the layer under test sees `c`.
    let widen = |c: usize| conv(3, c, 1, 1, 1, 1, Padding::Explicit(0, 0), 99);
    let mut cases: Vec<(String, Vec<Node>)> = Vec::new();
    let convs = [
        // cin, cout, k, stride, dilation, groups, padding
        (3, 24, 7, 2, 1, 1, Padding::Explicit(3, 3)),
        (16, 40, 3, 1, 1, 1, Padding::Explicit(1, 1)),
        (16, 32, 1, 2, 1, 1, Padding::Explicit(0, 0)),
        (32, 32, 3, 2, 1, 4, Padding::Explicit(1, 1)),
        (32, 64, 3, 1, 1, 2, Padding::TfSame),
        (12, 12, 5, 2, 1, 12, Padding::TfSame),
        (12, 12, 3, 1, 2, 12, Padding::Explicit(2, 2)),
        (8, 8, 3, 2, 1, 8, Padding::Explicit(1, 1)),
        (6, 12, 3, 1, 1, 3, Padding::Explicit(1, 1)),
    ];
    for (i, (cin, cout, k, stride, dilation, groups, padding)) in convs.into_iter().enumerate() {
        let layer = conv(cin, cout, k, stride, dilation, groups, padding, 10 * i as u32);
        let nodes = if cin == 3 { vec![layer] } else { vec![widen(cin), layer] };
        cases.push((format!("conv {cin}->{cout} k{k} s{stride} d{dilation} g{groups} {padding:?}"), nodes));
    }
    // Every activation but identity.
    for act in Activation::ALL.into_iter().filter(|&a| a != Activation::Identity) {
        // Spread over [-8, 8]: past ReLU6's and the hard functions' corners, deep into the tails.
        let scaled =
            Conv2d::new("w", noise(3 * 16, 5).iter().map(|w| 4.0 * w).collect(), &[16, 3, 1, 1], None, 1, 1, 1, Padding::Explicit(0, 0))
                .unwrap();
        // In one module the activation is the convolution's epilogue; as top-level nodes each
        // is a pass of its own, the activation its own shader.
        cases.push((
            format!("{act:?} fused into a convolution"),
            vec![Node::Module { path: "m".into(), nodes: vec![Node::Conv(scaled.clone()), Node::Act(act)] }],
        ));
        cases.push((format!("{act:?} alone"), vec![Node::Conv(scaled), Node::Act(act)]));
    }
    let pools = [
        Pool { max: true, kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true },
        Pool { max: false, kernel: 2, stride: 2, padding: 0, ceil_mode: true, count_include_pad: false },
        Pool { max: false, kernel: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: true },
        Pool { max: false, kernel: 3, stride: 2, padding: 1, ceil_mode: true, count_include_pad: false },
    ];
    for pool in pools {
        cases.push((format!("{pool:?}"), vec![widen(5), Node::Pool(pool)]));
    }
    cases.push((
        "residual, identity shortcut".into(),
        vec![
            widen(8),
            Node::Residual {
                body: vec![conv(8, 8, 3, 1, 1, 1, Padding::Explicit(1, 1), 3)],
                shortcut: vec![],
                act: Activation::Relu,
                partial: false,
            },
        ],
    ));
    cases.push((
        "residual into the first channels (ReXNet)".into(),
        vec![
            widen(8),
            Node::Residual {
                body: vec![conv(8, 13, 1, 1, 1, 1, Padding::Explicit(0, 0), 6), Node::Act(Activation::Relu6)],
                shortcut: vec![],
                act: Activation::Identity,
                partial: true,
            },
        ],
    ));
    cases.push((
        "residual, strided shortcut".into(),
        vec![
            widen(8),
            Node::Residual {
                body: vec![conv(8, 16, 3, 2, 1, 1, Padding::Explicit(1, 1), 4), Node::Act(Activation::Silu)],
                shortcut: vec![conv(8, 16, 1, 2, 1, 1, Padding::Explicit(0, 0), 5)],
                act: Activation::Identity,
                partial: false,
            },
        ],
    ));
    cases.push((
        "ghost module cut to an odd width (GhostNet)".into(),
        vec![
            widen(6),
            Node::Ghost {
                primary: vec![conv(6, 4, 1, 1, 1, 1, Padding::Explicit(0, 0), 7), Node::Act(Activation::Relu)],
                cheap: vec![conv(4, 4, 3, 1, 1, 4, Padding::Explicit(1, 1), 8), Node::Act(Activation::Relu)],
                channels: 7,
            },
        ],
    ));
    cases.push((
        "mixed depthwise convolution of unequal groups, stride 2 (MixNet)".into(),
        vec![
            widen(7),
            Node::Split {
                parts: vec![
                    (3, vec![conv(3, 3, 3, 2, 1, 3, Padding::Explicit(1, 1), 9)]),
                    (2, vec![conv(2, 2, 5, 2, 1, 2, Padding::Explicit(2, 2), 10)]),
                    (2, vec![conv(2, 2, 7, 2, 1, 2, Padding::Explicit(3, 3), 11)]),
                ],
            },
        ],
    ));
    cases.push((
        "fork: every path on the whole input, dilations 1 and 2 (SKNet without split input)".into(),
        vec![
            widen(6),
            Node::Fork {
                paths: vec![
                    vec![conv(6, 4, 3, 1, 1, 2, Padding::Explicit(1, 1), 12), Node::Act(Activation::Relu)],
                    vec![conv(6, 4, 3, 1, 2, 2, Padding::Explicit(2, 2), 13), Node::Act(Activation::Relu)],
                ],
            },
        ],
    ));
    // A branch attention after strided paths over split inputs (SKNet), and a one-branch one whose
    // gate is a sigmoid (ResNeSt's radix 1), each also switched off (every branch weighed 1/R).
    let linear = |out: usize, inputs: usize, seed: u32| attention_playground::layers::Linear {
        id: attention_playground::layers::WeightId::fresh(),
        weight: noise(out * inputs, seed).iter().map(|w| 2.0 * w).collect(),
        bias: noise(out, seed + 1),
        inputs,
    };
    let branches = |r: usize, c: usize, softmax: bool, seed: u32| {
        let layer = BranchAttention::new(r, linear(5, c, seed), Activation::Relu, linear(r * c, 5, seed + 2), softmax, 0).unwrap();
        Node::Attention(Box::new(Attention { path: "b".into(), kind: "sk", layer: AttentionLayer::Branches(layer), residual: false }))
    };
    let sk = vec![
        widen(8),
        Node::Split {
            parts: vec![
                (4, vec![conv(4, 6, 3, 2, 1, 1, Padding::Explicit(1, 1), 14), Node::Act(Activation::Relu)]),
                (4, vec![conv(4, 6, 3, 2, 2, 1, Padding::Explicit(2, 2), 15), Node::Act(Activation::Relu)]),
            ],
        },
        branches(2, 6, true, 16),
    ];
    let one_branch = vec![widen(6), branches(1, 6, false, 20)];
    for (name, nodes) in
        [("branch attention over two paths (SKNet)", sk), ("branch attention of one branch, a sigmoid (ResNeSt)", one_branch)]
    {
        cases.push((name.into(), nodes.clone()));
        // Off, inside one module: the paths and the averaging as one GPU pass.
        cases.push((format!("{name}, switched off"), vec![Node::Module { path: "off".into(), nodes }]));
    }
    cases.push(("global pool".into(), vec![widen(7), Node::GlobalPool]));

    let gpu = AnyBackend::Gpu(Box::new(pollster::block_on(GpuBackend::new()).expect("a GPU adapter (lavapipe)")));
    let cpu = AnyBackend::Cpu(CpuBackend::with_kernels(Kernels::Reference));
    let (h, w) = (23, 18);
    let x = Tensor::new(vec![1, 3, h, w], noise(3 * h * w, 77)).unwrap();
    let mut failures = Vec::new();
    for (name, nodes) in cases {
        let mut net = Net { family: "test", arch: name.clone(), nodes, classes: 0 };
        let off = if name.ends_with("switched off") { Off(vec!["b".into()]) } else { Off::default() };
        // The network's output is the layer's: its length is the class count the run checks.
        let probe = pollster::block_on(net.run(&cpu, &x, &off));
        let Err(e) = probe else { panic!("{name}: the class count 0 was not checked") };
        net.classes =
            e.to_string().split("ends in ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).expect("the length");
        let want = pollster::block_on(net.run(&cpu, &x, &off)).unwrap();
        let got = pollster::block_on(net.run(&gpu, &x, &off)).unwrap();
        assert!(got.layers.backend == BackendKind::Gpu && got.layers.fallback.is_none(), "{name}: ran on {}", got.layers);
        for (g, w) in got.blocks.iter().zip(&want.blocks) {
            assert!(
                g.off || g.ran_on.as_ref().is_some_and(|r| r.backend == BackendKind::Gpu && r.fallback.is_none()),
                "{name}: block on {:?}",
                g.ran_on
            );
            assert_eq!(g.maps.keys().collect::<Vec<_>>(), w.maps.keys().collect::<Vec<_>>(), "{name}: the same maps");
            for (map, t) in &g.maps {
                failures.extend(common::mismatch(&format!("{name} {map}"), t, &w.maps[map], common::Tolerance { abs: 1e-5, rel: 1e-4 }));
            }
        }
        failures.extend(common::mismatch(&name, &got.logits, &want.logits, common::Tolerance { abs: 1e-5, rel: 1e-4 }));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every attention block of every fixture network traces its steps in a session (the page's how-it-
/// works view on a loaded network): the trace's gates and maps are the reference's for that block
/// (timm's or torchvision's), and a channel gate's steps follow one from the other through its own
/// activations (SiLU, ReLU, hard-sigmoid).
#[test]
fn every_block_of_every_network_traces_steps_that_end_in_the_reference_maps() {
    use attention_playground::net::AttentionLayer;
    use attention_playground::net::session::Session;
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let kernels = backend.cpu_kernels();
    let (mut traced, mut gates, mut failures) = (0, 0, Vec::new());
    for case in cases() {
        let dir = fixtures().join(&case.name);
        let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let net = families::build(&dict, Some(&case.arch)).unwrap();
        let expected = read(&dir.join("expected.safetensors"));
        let x = first_image(&read(&dir.join("input.safetensors"))["x"]);
        let mut session = Session::new(net);
        pollster::block_on(session.run(&backend, kernels, &x, &Off::default(), &|| 0.0)).unwrap();
        for block in session.net.attention_blocks() {
            let t = pollster::block_on(session.trace(&backend, kernels, &block.path, (0, 0))).unwrap();
            for (map, name) in [("channel", "channel"), ("spatial", "spatial"), ("context", "context"), ("branch", "branch")] {
                if let Some(want) = expected.get(&format!("{}.{name}", block.path)) {
                    compare(&format!("{} {} trace {map}", case.name, block.path), &t.out.maps[map], &first_image(want), &mut failures);
                }
            }
            assert!(t.out.maps.keys().any(|k| k.starts_with("trace.")), "{} {}: no steps", case.name, block.path);
            if let AttentionLayer::Gate { act, gate, .. } = &block.layer {
                assert_eq!(t.activations, Some((*act, *gate)));
                let mut logits = t.out.maps["trace.logits"].data().to_vec();
                gate.apply_in_place(&mut logits);
                let want = Tensor::new(t.out.maps["channel"].shape().to_vec(), logits).unwrap();
                compare(&format!("{} {} gate of its logits", case.name, block.path), &t.out.maps["channel"], &want, &mut failures);
                gates += 1;
            }
            traced += 1;
        }
    }
    assert!(traced >= 40 && gates >= 10, "{traced} blocks traced, {gates} of them channel gates");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// A network's weights stay on the GPU between passes: the first pass uploads every convolution's
/// and linear layer's weights once, a second pass on another input uploads none and gives what a
/// fresh device gives, and a second network's weights are uploaded beside the first's.
#[test]
fn a_network_s_weights_are_uploaded_to_the_gpu_once_and_kept_between_passes() {
    let gpu = pollster::block_on(GpuBackend::new()).expect("a GPU adapter (lavapipe)");
    let stats = |b: &AnyBackend| match b {
        AnyBackend::Gpu(g) => g.pool_stats(),
        _ => unreachable!(),
    };
    let backend = AnyBackend::Gpu(Box::new(gpu));
    let load = |name: &str| {
        let dir = fixtures().join(name);
        let dict = StateDict::read(&std::fs::read(dir.join("model.safetensors")).unwrap(), "model").unwrap();
        let arch = cases().into_iter().find(|c| c.name == name).unwrap().arch;
        (families::build(&dict, Some(&arch)).unwrap(), first_image(&read(&dir.join("input.safetensors"))["x"]))
    };
    let (net, x) = load("seresnet50");
    // Every convolution's and linear layer's values, in float32.
    fn layer_bytes(nodes: &[attention_playground::net::Node]) -> u64 {
        use attention_playground::net::Node;
        nodes
            .iter()
            .map(|n| match n {
                Node::Conv(c) => 4 * (c.weight.len() + c.bias.len()) as u64,
                Node::Head(l) => 4 * (l.weight.len() + l.bias.len()) as u64,
                Node::Residual { body, shortcut, .. } => layer_bytes(body) + layer_bytes(shortcut),
                Node::Module { nodes, .. } => layer_bytes(nodes),
                _ => 0,
            })
            .sum()
    }
    let expected = layer_bytes(&net.nodes);
    let before = stats(&backend);
    let first = pollster::block_on(net.run_with(&backend, Kernels::best(), &x, &Off::default())).unwrap();
    let after_first = stats(&backend);
    let uploaded = after_first.weight_bytes_uploaded - before.weight_bytes_uploaded;
    assert!(uploaded >= expected, "the first pass uploads the layers' {expected} bytes (uploaded {uploaded})");
    assert_eq!(after_first.cached_weight_bytes, uploaded, "and keeps them");
    // A second pass, on another input and with a block off: nothing uploaded, nothing created.
    let other = Tensor::new(x.shape().to_vec(), x.data().iter().map(|v| v * 0.5 + 0.1).collect()).unwrap();
    let off = Off(vec![net.attention_blocks()[0].path.clone()]);
    let second = pollster::block_on(net.run_with(&backend, Kernels::best(), &other, &off)).unwrap();
    let after_second = stats(&backend);
    assert_eq!(after_second.weight_bytes_uploaded, after_first.weight_bytes_uploaded, "the second pass uploads no weights");
    // The cached weights give what a device without them gives.
    let fresh = AnyBackend::Gpu(Box::new(pollster::block_on(GpuBackend::new()).unwrap()));
    let want = pollster::block_on(net.run_with(&fresh, Kernels::best(), &other, &off)).unwrap();
    assert_eq!(second.logits, want.logits, "the same logits as from freshly uploaded weights");
    assert_ne!(first.logits, second.logits);
    // A clone of the network is the same weights; another network's are uploaded beside them.
    let again = pollster::block_on(net.clone().run_with(&backend, Kernels::best(), &x, &Off::default())).unwrap();
    assert_eq!(again.logits, first.logits);
    assert_eq!(stats(&backend).weight_bytes_uploaded, after_first.weight_bytes_uploaded, "a clone holds the same weights");
    let (mobile, y) = load("mobilenetv3_small_100");
    pollster::block_on(mobile.run_with(&backend, Kernels::best(), &y, &Off::default())).unwrap();
    let after_mobile = stats(&backend);
    assert!(after_mobile.weight_bytes_uploaded > after_second.weight_bytes_uploaded);
    assert_eq!(after_mobile.cached_weight_bytes, after_mobile.weight_bytes_uploaded, "both networks' weights kept (far under the cap)");
}

/// The bundled scenes network is one more [`Net`] (`families::scenes`). Run whole on lavapipe,
/// every layer and block on the device (its fixed stem on the CPU), it gives the CPU reference's
/// logits and every block's maps, with every block on and with some switched off; and `Model`,
/// which the page runs node by node to keep each block's input, gives the prediction of the
/// network run whole, where a block switched off (MHSA's residual included: `x + 0`) is the
/// network built without it.
#[test]
fn the_bundled_network_is_a_net_and_runs_on_the_gpu_as_on_the_cpu() {
    use attention_playground::model::{Model, ModelConfig, TRAINED_WEIGHTS};
    use attention_playground::scenes;
    use attention_playground::weights::Weights;
    let weights = Weights::from_safetensors(TRAINED_WEIGHTS).unwrap();
    let all = ModelConfig::all_trained();
    let net = families::scenes::build(&weights, &all.blocks).unwrap();
    let gpu = AnyBackend::Gpu(Box::new(pollster::block_on(GpuBackend::new()).expect("a GPU adapter (lavapipe)")));
    let cpu = AnyBackend::Cpu(CpuBackend::with_kernels(Kernels::Reference));
    let photo = scenes::generate(scenes::HELD_OUT_SEED, 3, 160).image;
    let close = |got: &[f32], want: &[f32], what: &str| {
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5 + 1e-4 * w.abs(), "{what}: {g} on the GPU, {w} on the CPU");
        }
    };
    let softmax = |logits: &[f32]| {
        let top = logits.iter().copied().fold(f32::MIN, f32::max);
        let e: Vec<f32> = logits.iter().map(|v| (v - top).exp()).collect();
        let sum: f32 = e.iter().sum();
        e.into_iter().map(|v| v / sum).collect::<Vec<f32>>()
    };
    for off in ["", "se,cbam,mhsa"] {
        let off = Off::parse(off);
        let want = pollster::block_on(net.run(&cpu, &photo, &off)).unwrap();
        let got = pollster::block_on(net.run(&gpu, &photo, &off)).unwrap();
        assert!(got.layers.backend == BackendKind::Gpu && got.layers.fallback.is_none(), "ran on {}", got.layers);
        close(got.logits.data(), want.logits.data(), "logits");
        assert_eq!(got.blocks.len(), 6);
        for (g, w) in got.blocks.iter().zip(&want.blocks) {
            assert_eq!(g.off, off.0.contains(&g.path), "{}", g.path);
            if g.off {
                assert!(g.maps.is_empty() && g.ran_on.is_none(), "{} is off", g.path);
                continue;
            }
            assert_eq!(g.ran_on.as_ref().map(|r| r.backend), Some(BackendKind::Gpu), "{}", g.path);
            assert_eq!(g.maps.keys().collect::<Vec<_>>(), w.maps.keys().collect::<Vec<_>>(), "{}", g.path);
            for (name, map) in &w.maps {
                assert_eq!(g.maps[name].shape(), map.shape(), "{} {name}", g.path);
                close(g.maps[name].data(), map.data(), &format!("{} {name}", g.path));
            }
        }
        // The page's path: the model with the blocks that are on, node by node.
        let on = ModelConfig { blocks: all.blocks.iter().filter(|(k, _)| !off.0.contains(&k.name().to_string())).cloned().collect() };
        let run = pollster::block_on(Model::trained(&on).unwrap().run(&cpu, &photo, &|| 0.0)).unwrap();
        for (p, q) in run.prediction.probabilities.iter().zip(softmax(want.logits.data())) {
            assert!((p - q).abs() < 1e-6, "the model's {p}, the network's {q}");
        }
    }
}

/// The bundled network's own checkpoint opens like any other (`net --model
/// src/model/trained.safetensors`, `render --model`, the page's "Open a network…"): the builder is
/// told by its keys, every block is there with the options it was trained with, its classes are
/// the six shapes, and it computes what `Model` computes.
#[test]
fn the_bundled_checkpoint_opens_as_a_network() {
    use attention_playground::model::{Model, ModelConfig, TRAINED_WEIGHTS};
    use attention_playground::scenes;
    let dict = StateDict::read(TRAINED_WEIGHTS, "trained.safetensors").unwrap();
    let net = families::build(&dict, None).unwrap();
    assert_eq!((net.family, net.arch.as_str()), ("scenes", "scenes"));
    let kinds: Vec<&str> = net.attention_blocks().iter().map(|b| b.kind).collect();
    assert_eq!(kinds, ["se", "eca", "gc", "cbam", "nl", "mhsa"]);
    assert_eq!(net.class_names(None).unwrap(), scenes::CLASSES.iter().map(|c| c.to_string()).collect::<Vec<_>>());
    let cpu = AnyBackend::Cpu(CpuBackend::new());
    let photo = scenes::generate(scenes::HELD_OUT_SEED, 5, 128).image;
    let run = pollster::block_on(net.run(&cpu, &photo, &Off::default())).unwrap();
    // ECA's weights do not fix its channels; the record has the 16 it ran on.
    assert_eq!(run.blocks[1].channels, 16);
    let model = pollster::block_on(Model::trained(&ModelConfig::all_trained()).unwrap().run(&cpu, &photo, &|| 0.0)).unwrap();
    let logits = run.logits.data();
    let top = logits.iter().copied().fold(f32::MIN, f32::max);
    let sum: f32 = logits.iter().map(|v| (v - top).exp()).sum();
    for (l, p) in logits.iter().zip(&model.prediction.probabilities) {
        assert!(((l - top).exp() / sum - p).abs() < 1e-6);
    }
    // The command line names the shapes and what it ran.
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground"))
        .args(["net", "--model", &format!("{}/src/model/trained.safetensors", env!("CARGO_MANIFEST_DIR"))])
        .args(["--image", &format!("{}/www/samples/rocket.jpg", env!("CARGO_MANIFEST_DIR")), "--off", "cbam", "--backend", "cpu"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(scenes::CLASSES.iter().any(|c| stdout.starts_with(c)), "{stdout}");
    assert!(stdout.contains("with cbam off: "), "{stdout}");
}

/// timm networks the engine does not run are refused with the family their keys show, and the
/// ones it runs by their keys alone open (PP-LCNet): the keys of real-sized timm networks
/// (tests/fixtures/nets/family_keys.json, keys only, written by tools/make_golden_nets.py).
#[test]
fn a_refusal_names_the_family_the_keys_show() {
    let text = std::fs::read_to_string(fixtures().join("family_keys.json")).unwrap();
    let families_keys: serde_json::Value = serde_json::from_str(&text).unwrap();
    let families_keys = families_keys.as_object().unwrap();
    assert!(families_keys.len() >= 14, "{} networks", families_keys.len());
    let mut failures = Vec::new();
    for (arch, entry) in families_keys {
        let looks = entry["looks"].as_str().unwrap();
        let keys = entry["keys"].as_array().unwrap();
        let tensors = keys.iter().map(|k| (k.as_str().unwrap().to_string(), Tensor::new(vec![1], vec![0.0]).unwrap())).collect();
        let dict = StateDict::from_tensors(tensors);
        let said = checkpoint::describe(&dict);
        // The families the engine runs: LCNet, ReXNet, SKNet, ResNeSt, ByobNet and BoTNet from
        // their keys, MNASNet by name.
        let runs = ["LCNet", "EfficientNet", "ReXNet", "GhostNet", "MixNet", "SKNet", "ResNeSt", "ByobNet", "BoTNet"].contains(&looks);
        let named = match looks {
            "LCNet" | "EfficientNet" => said == "a timm EfficientNet or MobileNetV3",
            family => said.contains(&format!("a timm {family} ")),
        };
        if !named {
            failures.push(format!("{arch}: described as `{said}`, expected {looks}"));
        }
        // A refusal says the same (the key-only tensors cannot build a network that runs).
        if let Err(e) = families::build(&dict, None) {
            let message = e.to_string();
            if !runs && !message.contains(said) {
                failures.push(format!("{arch}: the refusal `{message}` does not say `{said}`"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
