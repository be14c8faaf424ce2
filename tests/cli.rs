//! The `attention-playground apply` contract (shared/reference/blocks.md): reference outputs for
//! every golden case, and for bad input exit code 2, one line naming the problem, no panic, and
//! no output file left behind.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use attention_playground::weights::write_safetensors;
use attention_playground::{GpuBackend, Tensor};
use common::{CPU_TOLERANCE, GPU_TOLERANCE, GoldenCase, Tolerance, golden_cases, golden_query, mismatch, read};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attention-playground"))
}

fn apply_command(case: &GoldenCase, weights: &Path, input: &Path, output: &Path, extra: &[&str]) -> Command {
    let mut cmd = cli();
    cmd.args(["apply", "--block", case.block.name()]);
    cmd.arg("--weights").arg(weights).arg("--input").arg(input).arg("--output").arg(output);
    cmd.args(&case.args).args(extra);
    cmd
}

fn apply(case: &GoldenCase, weights: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    apply_command(case, weights, input, output, extra).output().unwrap()
}

fn case(name: &str) -> GoldenCase {
    golden_cases().into_iter().find(|c| c.name == name).unwrap()
}

/// Runs every golden case through the CLI on `backend` and compares every output with the
/// reference; returns the stderr line of the first run.
/// Every golden case through `apply` on `backend`; returns each case's name and report (stderr).
fn cli_reproduces_golden_cases(backend: &str, tolerance: Tolerance) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let (qx, qy) = golden_query();
    let query = format!("{qx},{qy}");
    let mut failures = Vec::new();
    let mut reports = Vec::new();
    for case in golden_cases() {
        let expected = case.expected();
        let out_path = dir.path().join(format!("{}.safetensors", case.name));
        let mut extra = vec!["--backend", backend];
        if expected.contains_key("attention") {
            extra.extend(["--save-attention", "--query", &query]);
        }
        if expected.keys().any(|k| k.starts_with("trace.")) {
            extra.push("--trace");
        }
        let out = apply(&case, &case.dir.join("weights.safetensors"), &case.dir.join("input.safetensors"), &out_path, &extra);
        assert!(out.status.success(), "{}: {}", case.name, String::from_utf8_lossy(&out.stderr));
        reports.push((case.name.clone(), String::from_utf8_lossy(&out.stderr).into_owned()));
        let produced = read(&out_path);
        assert_eq!(produced.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{}", case.name);
        for (name, tensor) in &produced {
            failures.extend(mismatch(&format!("{} {name}", case.name), tensor, &expected[name], tolerance));
        }
    }
    assert!(failures.is_empty(), "{backend}: {}", failures.join("\n"));
    assert!(reports.len() > 10, "{} golden cases", reports.len());
    reports
}

#[test]
fn apply_reproduces_every_golden_case_and_map_on_the_cpu() {
    for (case, report) in cli_reproduces_golden_cases("cpu", CPU_TOLERANCE) {
        assert!(report.contains("ran on the cpu backend"), "{case}: {report}");
    }
}

/// On the test machines the GPU is Mesa's software Vulkan (installed by build.sh), so this runs
/// every shader for real; without any adapter it fails rather than passing on the CPU.
#[test]
fn apply_reproduces_every_golden_case_and_map_on_the_gpu() {
    // Every case, not the first alone: a case whose block fell back to the CPU would pass on the
    // CPU's numbers.
    for (case, report) in cli_reproduces_golden_cases("gpu", GPU_TOLERANCE) {
        assert!(report.contains("ran on the gpu backend (") && !report.contains("instead of the GPU"), "{case}: {report}");
    }
}

/// `auto` takes a hardware GPU and otherwise the CPU (a software adapter is no faster than the
/// CPU path), and says which ran and why.
#[test]
fn auto_backend_without_a_hardware_gpu_runs_on_cpu_and_says_so() {
    let software_only = match pollster::block_on(GpuBackend::new()) {
        Ok(gpu) => gpu.adapter().software,
        Err(_) => true,
    };
    let case = case("cbam_timm");
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("y.safetensors");
    let out = apply(&case, &case.dir.join("weights.safetensors"), &case.dir.join("input.safetensors"), &out_path, &[]);
    assert!(out.status.success());
    let report = String::from_utf8_lossy(&out.stderr);
    if software_only {
        assert!(report.contains("ran on the cpu backend (instead of the GPU: "), "{report}");
        assert!(mismatch("y", &read(&out_path)["y"], &case.expected()["y"], CPU_TOLERANCE).is_none());
    } else {
        assert!(report.contains("ran on the gpu backend ("), "{report}");
        assert!(mismatch("y", &read(&out_path)["y"], &case.expected()["y"], GPU_TOLERANCE).is_none());
    }
}

#[test]
fn help_names_every_block_and_option() {
    let out = cli().args(["apply", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "se, cbam, nonlocal, eca, gc or mhsa",
        "--spatial-order",
        "--pairwise",
        "--scale",
        "--subsample",
        "--padding",
        "--fusion",
        "--heads",
        "--save-attention",
        "--query",
        "--backend",
    ] {
        assert!(help.contains(word), "help lacks {word}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input.

/// A scratch folder holding the pieces of one bad-input run.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes raw safetensors entries `(name, dtype, shape, bytes)`.
    fn raw(&self, name: &str, entries: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>) -> PathBuf {
        let views: Vec<(String, TensorView<'_>)> = entries
            .iter()
            .map(|(k, dtype, shape, bytes)| (k.to_string(), TensorView::new(*dtype, shape.clone(), bytes).unwrap()))
            .collect();
        let path = self.path(name);
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        path
    }

    /// Writes float32 tensors.
    fn tensors(&self, name: &str, tensors: &[(&str, &Tensor)]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, write_safetensors(tensors.iter().copied())).unwrap();
        path
    }

    fn bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// Runs `apply` expecting refusal: exit 2, one stderr line containing every `needle`, no panic
/// or backtrace, and nothing written at the output path (nor a partial file beside it).
fn assert_refused(case: &GoldenCase, weights: &Path, input: &Path, extra: &[&str], needles: &[&str]) {
    let scratch_out = tempfile::tempdir().unwrap();
    let out_path = scratch_out.path().join("y.safetensors");
    let out = apply(case, weights, input, &out_path, extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "exit code for {needles:?}; stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected, got: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks `{needle}`: {stderr}");
    }
    assert_eq!(std::fs::read_dir(scratch_out.path()).unwrap().count(), 0, "output left behind");
}

/// The SE golden weights with `edit` applied to the name -> tensor map.
fn se_weights_with(scratch: &Scratch, edit: impl FnOnce(&mut std::collections::BTreeMap<String, Tensor>)) -> PathBuf {
    let mut w = read(&case("se_timm").dir.join("weights.safetensors"));
    edit(&mut w);
    let entries: Vec<(&str, &Tensor)> = w.iter().map(|(k, v)| (k.as_str(), v)).collect();
    scratch.tensors("weights.safetensors", &entries)
}

fn se() -> (GoldenCase, PathBuf, PathBuf) {
    let c = case("se_timm");
    let (w, x) = (c.dir.join("weights.safetensors"), c.dir.join("input.safetensors"));
    (c, w, x)
}

#[test]
fn missing_key_is_named() {
    let (c, _, x) = se();
    let s = Scratch::new();
    let w = se_weights_with(&s, |w| {
        w.remove("fc2.weight");
    });
    assert_refused(&c, &w, &x, &[], &["missing key `fc2.weight`", "se"]);
}

#[test]
fn misspelled_optional_key_is_not_silently_dropped() {
    let (c, _, x) = se();
    let s = Scratch::new();
    let w = se_weights_with(&s, |w| {
        let bias = w.remove("fc1.bias").unwrap();
        w.insert("fc1.bais".into(), bias);
    });
    assert_refused(&c, &w, &x, &[], &["unexpected key `fc1.bais`"]);
}

#[test]
fn wrong_shape_names_key_expected_and_found() {
    let (c, _, x) = se();
    let s = Scratch::new();
    let w = se_weights_with(&s, |w| {
        w.insert("fc2.weight".into(), Tensor::zeros(vec![24, 4, 1, 1]));
    });
    assert_refused(&c, &w, &x, &[], &["`fc2.weight`", "[24, 4, 1, 1]", "expected [24, 8, 1, 1]"]);
}

#[test]
fn float64_and_integer_weights_are_refused_by_dtype() {
    let (c, _, x) = se();
    let s = Scratch::new();
    let f64_bytes: Vec<u8> = (0..8 * 24).flat_map(|i| (i as f64).to_le_bytes()).collect();
    let w = s.raw("f64.safetensors", vec![("fc1.weight", Dtype::F64, vec![8, 24, 1, 1], f64_bytes)]);
    assert_refused(&c, &w, &x, &[], &["`fc1.weight`", "dtype F64", "expected F32"]);
    let i32_bytes: Vec<u8> = (0..8 * 24i32).flat_map(i32::to_le_bytes).collect();
    let w = s.raw("i32.safetensors", vec![("fc1.weight", Dtype::I32, vec![8, 24, 1, 1], i32_bytes)]);
    assert_refused(&c, &w, &x, &[], &["`fc1.weight`", "dtype I32"]);
    // int64 inputs are refused too.
    let (_, w, _) = se();
    let x64 = s.raw("x.safetensors", vec![("x", Dtype::I64, vec![1, 24, 1, 1], vec![0u8; 8 * 24])]);
    assert_refused(&c, &w, &x64, &[], &["input", "`x`", "dtype I64"]);
}

#[test]
fn truncated_and_foreign_files_are_refused() {
    let (c, w, x) = se();
    let s = Scratch::new();
    let bytes = std::fs::read(&w).unwrap();
    let truncated = s.bytes("truncated.safetensors", &bytes[..bytes.len() - 100]);
    assert_refused(&c, &truncated, &x, &[], &["truncated.safetensors: a safetensors file cut short"]);
    let jpeg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/cat.jpg");
    let not_st = if jpeg.exists() { jpeg } else { s.bytes("x.jpg", b"\xff\xd8\xff\xe0 not safetensors at all") };
    assert_refused(&c, &not_st, &x, &[], &[".jpg: a JPEG image, not a weights file"]);
    let garbage = s.bytes("garbage.safetensors", b"\x01\x02\x03 nothing known");
    assert_refused(&c, &garbage, &x, &[], &["garbage.safetensors: not a valid safetensors file"]);
    let empty = s.bytes("empty.safetensors", b"");
    assert_refused(&c, &w, &empty, &[], &["input: the file is empty"]);
    assert_refused(&c, &s.path("absent.safetensors"), &x, &[], &["cannot read weights file"]);
}

#[test]
fn input_that_does_not_fit_the_weights_is_refused() {
    let (c, w, _) = se();
    let s = Scratch::new();
    let x = s.tensors("x16.safetensors", &[("x", &Tensor::zeros(vec![2, 16, 7, 9]))]);
    assert_refused(&c, &w, &x, &[], &["[2, 16, 7, 9]", "(N, 24, H, W)"]);
    let x = s.tensors("x3d.safetensors", &[("x", &Tensor::zeros(vec![24, 7, 9]))]);
    assert_refused(&c, &w, &x, &[], &["[24, 7, 9]", "4-D"]);
    let x = s.tensors("wrongname.safetensors", &[("input", &Tensor::zeros(vec![1, 24, 7, 9]))]);
    assert_refused(&c, &w, &x, &[], &["missing tensor `x`", "found: input"]);
}

#[test]
fn non_finite_input_is_refused() {
    let (c, w, _) = se();
    let s = Scratch::new();
    for (value, word) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf"), (f32::NEG_INFINITY, "-inf")] {
        let mut x = Tensor::zeros(vec![1, 24, 3, 3]);
        x.data_mut()[5] = value;
        let x = s.tensors("x.safetensors", &[("x", &x)]);
        assert_refused(&c, &w, &x, &[], &["non-finite", word, "index 5"]);
    }
}

#[test]
fn options_for_another_block_are_refused() {
    let (c, w, x) = se();
    assert_refused(&c, &w, &x, &["--heads", "4"], &["--heads", "does not apply to block se"]);
    assert_refused(&c, &w, &x, &["--subsample"], &["--subsample", "block se"]);
    assert_refused(&c, &w, &x, &["--save-attention"], &["--save-attention", "block se"]);
    assert_refused(&c, &w, &x, &["--query", "1,1"], &["--query", "block se"]);
    let cbam = case("cbam_timm");
    let (cw, cx) = (cbam.dir.join("weights.safetensors"), cbam.dir.join("input.safetensors"));
    assert_refused(&cbam, &cw, &cx, &["--pairwise", "gaussian"], &["--pairwise", "block cbam"]);
    assert_refused(&cbam, &cw, &cx, &["--spatial-order", "sideways"], &["--spatial-order", "mean-max, max-mean"]);
}

#[test]
fn block_specific_mistakes_are_named() {
    let s = Scratch::new();
    // MHSA without heads, or with heads that do not divide C.
    let mut mhsa = case("mhsa_heads4");
    let (w, x) = (mhsa.dir.join("weights.safetensors"), mhsa.dir.join("input.safetensors"));
    mhsa.args.clear();
    assert_refused(&mhsa, &w, &x, &[], &["--heads", "needs the number of heads"]);
    assert_refused(&mhsa, &w, &x, &["--heads", "5"], &["5 heads do not divide the 32 channels"]);
    // Gaussian weights given with t.*/p.* present: the option does not fit the file.
    let nl = case("nonlocal_timm");
    let (w, x) = (nl.dir.join("weights.safetensors"), nl.dir.join("input.safetensors"));
    assert_refused(&nl, &w, &x, &["--pairwise", "gaussian"], &["unexpected key `p.bias`", "no t.* or p.*"]);
    assert_refused(&nl, &w, &x, &["--pairwise", "concatenation"], &["missing key `concat_project.weight`"]);
    assert_refused(&nl, &w, &x, &["--query", "9,0"], &["--query", "0 <= X < 9"]);
    // GC weights for scale fusion loaded as add fusion.
    let gc = case("gc_scale");
    let (w, x) = (gc.dir.join("weights.safetensors"), gc.dir.join("input.safetensors"));
    assert_refused(&gc, &w, &x, &["--fusion", "add"], &["missing key `mlp_add.fc1.weight`"]);
    // Subsampling a 1-pixel-high input.
    let x1 = s.tensors("x.safetensors", &[("x", &Tensor::zeros(vec![1, 16, 1, 9]))]);
    assert_refused(&nl, &nl.dir.join("weights.safetensors"), &x1, &["--subsample"], &["at least 2 for --subsample"]);
}

#[test]
fn prefix_selects_one_block_of_a_larger_state_dict() {
    let (c, _, x) = se();
    let s = Scratch::new();
    let w = read(&c.dir.join("weights.safetensors"));
    let mut network: Vec<(String, Tensor)> = w.iter().map(|(k, t)| (format!("layer1.0.se.{k}"), t.clone())).collect();
    network.push(("stem.conv.weight".into(), Tensor::zeros(vec![24, 3, 3, 3])));
    let entries: Vec<(&str, &Tensor)> = network.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let whole = s.tensors("network.safetensors", &entries);
    let out_path = s.path("y.safetensors");
    let out = apply(&c, &whole, &x, &out_path, &["--prefix", "layer1.0.se."]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(mismatch("y", &read(&out_path)["y"], &c.expected()["y"], CPU_TOLERANCE).is_none());
    assert_refused(&c, &whole, &x, &["--prefix", "layer2."], &["--prefix", "no key of the weights starts with `layer2.`"]);
}

#[test]
fn an_attention_map_too_large_to_hold_is_refused_with_a_way_out() {
    // MHSA at C=1 over 129 x 128 positions: the matrix would be 1.0 GiB, the input 66 KB.
    let s = Scratch::new();
    let one = Tensor::new(vec![1], vec![0.5]).unwrap();
    let w = s.tensors(
        "w.safetensors",
        &[
            ("qkv.weight", &Tensor::new(vec![3, 1, 1, 1], vec![0.1, 0.2, 0.3]).unwrap()),
            ("qkv.bias", &Tensor::zeros(vec![3])),
            ("proj.weight", &Tensor::new(vec![1, 1, 1, 1], vec![1.0]).unwrap()),
            ("proj.bias", &one),
        ],
    );
    let x = s.tensors("x.safetensors", &[("x", &Tensor::zeros(vec![1, 1, 129, 128]))]);
    let mut mhsa = case("mhsa_heads1");
    mhsa.args = vec!["--heads".into(), "1".into()];
    assert_refused(&mhsa, &w, &x, &["--save-attention"], &["--save-attention", "1.0 GiB", "--query X,Y"]);
    // The row of one query is fine at that size.
    let out_path = s.path("row.safetensors");
    let out = apply(&mhsa, &w, &x, &out_path, &["--query", "5,7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(&out_path)["attention_row"].shape(), &[1, 1, 129, 128]);
}

#[test]
fn gpu_backend_that_is_not_there_is_a_clear_refusal() {
    let (c, w, x) = se();
    let out_path = tempfile::tempdir().unwrap().path().join("y.safetensors");
    let out = without_gpu(apply_command(&c, &w, &x, &out_path, &["--backend", "gpu"])).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: GPU backend unavailable: no GPU adapter found"), "{stderr}");
    assert!(!out_path.exists());
}

#[test]
fn auto_without_any_gpu_adapter_runs_on_the_cpu_and_says_why() {
    let case = case("se_timm");
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("y.safetensors");
    let (w, x) = (case.dir.join("weights.safetensors"), case.dir.join("input.safetensors"));
    let out = without_gpu(apply_command(&case, &w, &x, &out_path, &[])).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ran on the cpu backend (instead of the GPU: GPU backend unavailable: no GPU adapter found"), "{stderr}");
    assert!(mismatch("y", &read(&out_path)["y"], &case.expected()["y"], CPU_TOLERANCE).is_none());
}

/// Hides every Vulkan driver from the process, as on a machine without a GPU.
fn without_gpu(mut cmd: Command) -> Command {
    cmd.env("VK_ICD_FILENAMES", "/nonexistent/icd.json").env("VK_DRIVER_FILES", "/nonexistent/icd.json");
    cmd
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    let out = cli().args(["apply", "--block", "transformer"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("transformer"), "{stderr}");
}

/// `bench`: the last line on stdout is the documented JSON object, with the kernels that ran;
/// options that cannot apply are refused with exit code 2 and one line.
#[test]
fn bench_prints_one_json_line_last_and_refuses_what_it_cannot_run() {
    let c = case("mhsa_heads4");
    let bench = |extra: &[&str]| {
        let mut cmd = cli();
        cmd.args(["bench", "--block", "mhsa"]).arg("--weights").arg(c.dir.join("weights.safetensors"));
        cmd.arg("--input").arg(c.dir.join("input.safetensors")).args(&c.args).args(extra);
        cmd.output().unwrap()
    };
    for kernels in ["reference", "portable"] {
        let out = bench(&["--iters", "3", "--kernels", kernels]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        assert_eq!(last["block"], "mhsa");
        assert_eq!(last["backend"], "cpu");
        assert_eq!(last["kernels"], kernels);
        assert_eq!(last["iters"], 3);
        let (median, min) = (last["median_ms"].as_f64().unwrap(), last["min_ms"].as_f64().unwrap());
        assert!(min > 0.0 && min <= median, "{last}");
    }
    for (extra, expected) in [
        (&["--kernels", "sse9"][..], "unknown value `sse9`"),
        (&["--kernels", "portable", "--backend", "gpu"][..], "--kernels applies to --backend cpu only"),
        (&["--iters", "0"][..], "--iters"),
    ] {
        let out = bench(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected) && stderr.lines().count() == 1, "{extra:?}: {stderr}");
    }
}

#[test]
fn a_trace_of_nonlocal_without_a_query_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let case = case("nonlocal_timm");
    let out = apply(
        &case,
        &case.dir.join("weights.safetensors"),
        &case.dir.join("input.safetensors"),
        &dir.path().join("y.safetensors"),
        &["--trace"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("option --trace: block nonlocal traces one query pixel's steps; give it with --query X,Y"), "{stderr}");
    assert!(!dir.path().join("y.safetensors").exists());
}
