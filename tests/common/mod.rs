//! Helpers shared by the integration tests: the golden cases of `tests/fixtures` (written by
//! `tools/make_golden.py` from timm) and a stated float tolerance.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attention_playground::weights::read_safetensors;
use attention_playground::{BlockKind, BlockOptions, BlockOutput, MapRequest, Tensor, Weights};

/// `|actual - expected| <= abs + rel * |expected|`, elementwise, float32 against the float64
/// reference rounded to float32.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub abs: f32,
    pub rel: f32,
}

/// The CPU reference: the same operations as PyTorch in float32, summed in float64 where a
/// reduction is long.
pub const CPU_TOLERANCE: Tolerance = Tolerance { abs: 1e-6, rel: 1e-4 };

/// The fast CPU kernels (SIMD, portable): float32 sums in vector lanes, a polynomial `exp`
/// (about 1 ulp), BatchNorm folded into Non-local's last convolution.
pub const FAST_CPU_TOLERANCE: Tolerance = Tolerance { abs: 1e-5, rel: 1e-4 };

/// The GPU: float32 sums in a different order (tiles, tree reductions) and the shader `exp`,
/// which WGSL allows a few ULP of error. BatchNorm folded into the convolution before it.
pub const GPU_TOLERANCE: Tolerance = Tolerance { abs: 1e-5, rel: 1e-4 };

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The manifest of the golden cases, compiled in so the browser tests have it too.
pub const MANIFEST: &str = include_str!("../fixtures/cases.json");

pub struct GoldenCase {
    pub name: String,
    pub block: BlockKind,
    /// The CLI options selecting the variant, e.g. `["--pairwise", "gaussian"]`.
    pub args: Vec<String>,
    pub dir: PathBuf,
    /// The bytes of `weights.safetensors`, `input.safetensors`, `expected.safetensors`.
    pub files: CaseFiles,
}

pub struct CaseFiles {
    pub weights: Vec<u8>,
    pub input: Vec<u8>,
    pub expected: Vec<u8>,
}

impl CaseFiles {
    fn read(dir: &Path) -> Self {
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
        Self { weights: read("weights.safetensors"), input: read("input.safetensors"), expected: read("expected.safetensors") }
    }
}

impl GoldenCase {
    pub fn weights(&self) -> Weights {
        Weights::from_safetensors(&self.files.weights).unwrap()
    }

    pub fn x(&self) -> Tensor {
        read_safetensors(&self.files.input, "input").unwrap().remove("x").unwrap()
    }

    pub fn expected(&self) -> BTreeMap<String, Tensor> {
        read_safetensors(&self.files.expected, "expected").unwrap()
    }

    /// The options, parsed the way the CLI parses them.
    pub fn options(&self) -> BlockOptions {
        let mut o = BlockOptions::default();
        let mut args = self.args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().expect("option value").as_str();
            match flag.as_str() {
                "--spatial-order" => o.spatial_order = Some(value().parse().unwrap()),
                "--pairwise" => o.pairwise = Some(value().parse().unwrap()),
                "--scale" => o.scale = Some(value().parse().unwrap()),
                "--subsample" => o.subsample = true,
                "--padding" => o.padding = Some(value().parse().unwrap()),
                "--fusion" => o.fusion = Some(value().parse().unwrap()),
                "--heads" => o.heads = Some(value().parse().unwrap()),
                other => panic!("unknown option {other} in cases.json"),
            }
        }
        o
    }
}

pub fn read(path: &Path) -> BTreeMap<String, Tensor> {
    read_safetensors(&std::fs::read(path).unwrap(), &path.display().to_string()).unwrap()
}

/// The query pixel `(column, row)` whose attention row the fixtures store.
pub fn golden_query() -> (usize, usize) {
    let manifest = manifest();
    let q = manifest["query"].as_array().unwrap();
    (q[0].as_u64().unwrap() as usize, q[1].as_u64().unwrap() as usize)
}

fn manifest() -> serde_json::Value {
    serde_json::from_str(MANIFEST).unwrap()
}

/// The golden cases read from `tests/fixtures`.
pub fn golden_cases() -> Vec<GoldenCase> {
    golden_cases_with(|name| CaseFiles::read(&fixtures().join(name)))
}

/// The golden cases of the manifest, with each case's files from `files(name)`.
pub fn golden_cases_with(files: impl Fn(&str) -> CaseFiles) -> Vec<GoldenCase> {
    let cases: Vec<GoldenCase> = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap();
            GoldenCase {
                name: name.to_string(),
                block: c["block"].as_str().unwrap().parse().unwrap(),
                args: c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                dir: fixtures().join(name),
                files: files(name),
            }
        })
        .collect();
    // Every block must be covered, so a manifest that lost cases cannot pass unnoticed.
    for kind in BlockKind::ALL {
        assert!(cases.iter().any(|c| c.block == kind), "no golden case for {kind}");
    }
    cases
}

/// Checks a backend's output (and the attention row of [`golden_query`], when the case has one)
/// against the case's reference: exactly the reference's maps, each within `tolerance`.
/// Returns one line per problem.
pub fn check_case(case: &GoldenCase, out: &BlockOutput, row: Option<&Tensor>, tolerance: Tolerance) -> Vec<String> {
    let expected = case.expected();
    let mut produced: Vec<&str> = out.maps.keys().copied().chain(["y"]).collect();
    if row.is_some() {
        produced.push("attention_row");
    }
    produced.sort();
    let wanted: Vec<&str> = expected.keys().map(String::as_str).collect();
    if produced != wanted {
        return vec![format!("{}: produced {produced:?}, reference has {wanted:?}", case.name)];
    }
    let mut failures: Vec<String> = mismatch(&format!("{} y", case.name), &out.y, &expected["y"], tolerance).into_iter().collect();
    for (name, map) in &out.maps {
        failures.extend(mismatch(&format!("{} {name}", case.name), map, &expected[*name], tolerance));
    }
    if let Some(row) = row {
        failures.extend(mismatch(&format!("{} attention_row", case.name), row, &expected["attention_row"], tolerance));
    }
    failures
}

/// What a golden case asks a backend for: the full attention map when the reference has one,
/// and the row of the query pixel when the reference has that.
pub fn case_request(case: &GoldenCase) -> (MapRequest, Option<usize>) {
    let expected = case.expected();
    let (qx, qy) = golden_query();
    let width = case.x().shape()[3];
    let query = qy * width + qx;
    (
        MapRequest {
            full_attention: expected.contains_key("attention"),
            trace: expected.keys().any(|k| k.starts_with("trace.")),
            query,
            ..Default::default()
        },
        expected.contains_key("attention_row").then_some(query),
    )
}

/// Compares two tensors under the stated tolerance; returns a description of the worst
/// mismatch, or `None` when they agree.
/// Query `q`'s row of every head from a full attention map `(N, heads, P, P)` (the first image),
/// shaped `(1, heads, h, w)` for a grid `w` wide: the golden BoTNet rows a session's must equal.
pub fn head_rows(full: &Tensor, q: usize, w: usize) -> Tensor {
    let (heads, n) = (full.shape()[1], full.shape()[2]);
    let data: Vec<f32> = (0..heads).flat_map(|h| full.data()[(h * n + q) * n..(h * n + q + 1) * n].to_vec()).collect();
    Tensor::new(vec![1, heads, n / w, w], data).expect("heads x P values")
}

pub fn mismatch(what: &str, actual: &Tensor, expected: &Tensor, tolerance: Tolerance) -> Option<String> {
    if actual.shape() != expected.shape() {
        return Some(format!("{what}: shape {:?}, expected {:?}", actual.shape(), expected.shape()));
    }
    let worst = actual
        .data()
        .iter()
        .zip(expected.data())
        .enumerate()
        .map(|(i, (&a, &e))| (i, a, e, (a - e).abs() - (tolerance.abs + tolerance.rel * e.abs())))
        .filter(|&(.., excess)| excess > 0.0 || excess.is_nan())
        .max_by(|a, b| a.3.total_cmp(&b.3));
    worst.map(|(i, a, e, _)| format!("{what}: element {i} is {a}, expected {e} (|diff| {})", (a - e).abs()))
}

/// A deterministic pseudo-random tensor in [-scale, scale), for tests that need inputs of a shape.
pub use attention_playground::blocks::init::seeded_tensor as random_tensor;

/// Every golden case on the CPU with one kernel variant: the case's request (the reference's
/// maps and row), and for cases that ask for the whole attention matrix (which routes through
/// the reference) also without it, so the fused attention's `y` is checked too. The reference
/// is held to [`CPU_TOLERANCE`], the fast kernels to [`FAST_CPU_TOLERANCE`].
pub fn check_cases_on_cpu(cases: &[GoldenCase], kernels: attention_playground::simd::Kernels) -> Vec<String> {
    use attention_playground::simd::Kernels;
    use attention_playground::{Backend, Block, CpuBackend};
    let backend = CpuBackend::with_kernels(kernels);
    let tolerance = if kernels == Kernels::Reference { CPU_TOLERANCE } else { FAST_CPU_TOLERANCE };
    let mut failures = Vec::new();
    for case in cases {
        let block = Block::load(case.block, &case.weights(), &case.options())
            .unwrap_or_else(|e| panic!("{}: weights did not load: {e}", case.name));
        let x = case.x();
        let (request, query) = case_request(case);
        let out = backend.forward(&block, &x, request).unwrap();
        let row = query.map(|q| backend.attention_row(&block, &x, q).unwrap().row);
        failures.extend(check_case(case, &out, row.as_ref(), tolerance).into_iter().map(|f| format!("[{kernels}] {f}")));
        if request.full_attention {
            let fused = backend.forward(&block, &x, MapRequest::default()).unwrap();
            failures.extend(mismatch(
                &format!("[{kernels}] {} y without the matrix", case.name),
                &fused.y,
                &case.expected()["y"],
                tolerance,
            ));
        }
    }
    failures
}

/// The whole-network fixtures of tests/fixtures/nets/ (`cases.json`, written by
/// tools/make_golden_nets.py): each case's entry and the architecture to build it as. CECA has
/// ECA's keys, so the case's name tells them apart.
pub fn net_cases() -> Vec<(serde_json::Value, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nets/cases.json");
    let list: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let arch = if c["name"].as_str().unwrap().contains("ceca") {
                "cecaresnet50".to_string()
            } else {
                c["arch"].as_str().unwrap().to_string()
            };
            (c.clone(), arch)
        })
        .collect()
}
