//! Helpers shared by the integration tests: the golden cases of `tests/fixtures` (written by
//! `tools/make_golden.py` from timm) and a stated float tolerance.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attention_playground::weights::read_safetensors;
use attention_playground::{BlockKind, BlockOptions, Tensor, Weights};

/// `|actual - expected| <= ABS_TOL + REL_TOL * |expected|`, elementwise, float32 against the
/// float64 reference rounded to float32.
pub const REL_TOL: f32 = 1e-4;
pub const ABS_TOL: f32 = 1e-6;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub struct GoldenCase {
    pub name: String,
    pub block: BlockKind,
    /// The CLI options selecting the variant, e.g. `["--pairwise", "gaussian"]`.
    pub args: Vec<String>,
    pub dir: PathBuf,
}

impl GoldenCase {
    pub fn weights_bytes(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("weights.safetensors")).unwrap()
    }

    pub fn weights(&self) -> Weights {
        Weights::from_safetensors(&self.weights_bytes()).unwrap()
    }

    pub fn x(&self) -> Tensor {
        read(&self.dir.join("input.safetensors")).remove("x").unwrap()
    }

    pub fn expected(&self) -> BTreeMap<String, Tensor> {
        read(&self.dir.join("expected.safetensors"))
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
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("cases.json")).unwrap()).unwrap()
}

pub fn golden_cases() -> Vec<GoldenCase> {
    let cases: Vec<GoldenCase> = manifest()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| GoldenCase {
            name: c["name"].as_str().unwrap().to_string(),
            block: c["block"].as_str().unwrap().parse().unwrap(),
            args: c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect(),
            dir: fixtures().join(c["name"].as_str().unwrap()),
        })
        .collect();
    // Every block must be covered, so a manifest that lost cases cannot pass unnoticed.
    for kind in BlockKind::ALL {
        assert!(cases.iter().any(|c| c.block == kind), "no golden case for {kind}");
    }
    cases
}

/// Compares two tensors under the stated tolerance; returns a description of the worst
/// mismatch, or `None` when they agree.
pub fn mismatch(what: &str, actual: &Tensor, expected: &Tensor) -> Option<String> {
    if actual.shape() != expected.shape() {
        return Some(format!("{what}: shape {:?}, expected {:?}", actual.shape(), expected.shape()));
    }
    let worst = actual
        .data()
        .iter()
        .zip(expected.data())
        .enumerate()
        .map(|(i, (&a, &e))| (i, a, e, (a - e).abs() - (ABS_TOL + REL_TOL * e.abs())))
        .filter(|&(.., excess)| excess > 0.0 || excess.is_nan())
        .max_by(|a, b| a.3.total_cmp(&b.3));
    worst.map(|(i, a, e, _)| format!("{what}: element {i} is {a}, expected {e} (|diff| {})", (a - e).abs()))
}

/// A deterministic pseudo-random tensor in [-scale, scale), for tests that need inputs of a shape.
pub use attention_playground::blocks::init::seeded_tensor as random_tensor;
