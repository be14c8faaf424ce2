//! Every block and option against the reference outputs of timm / the papers' code
//! (tests/fixtures, written by tools/make_golden.py), on the CPU reference backend.

mod common;

use attention_playground::{Backend, Block, CpuBackend, MapRequest};
use common::{golden_cases, golden_query, mismatch};

#[test]
fn every_golden_case_matches_the_reference() {
    let (qx, qy) = golden_query();
    let mut failures = Vec::new();
    let cases = golden_cases();
    for case in &cases {
        let block = Block::load(case.block, &case.weights(), &case.options())
            .unwrap_or_else(|e| panic!("{}: weights did not load: {e}", case.name));
        let x = case.x();
        let expected = case.expected();
        let request = MapRequest { full_attention: expected.contains_key("attention") };
        let out = CpuBackend.forward(&block, &x, request).unwrap();

        // Exactly the maps the reference has, each within tolerance.
        let mut produced: Vec<&str> = out.maps.keys().copied().chain(["y"]).collect();
        if expected.contains_key("attention_row") {
            produced.push("attention_row");
        }
        produced.sort();
        let wanted: Vec<&str> = expected.keys().map(String::as_str).collect();
        if produced != wanted {
            failures.push(format!("{}: produced {produced:?}, reference has {wanted:?}", case.name));
            continue;
        }
        failures.extend(mismatch(&format!("{} y", case.name), &out.y, &expected["y"]));
        for (name, map) in &out.maps {
            failures.extend(mismatch(&format!("{} {name}", case.name), map, &expected[*name]));
        }
        if let Some(row_expected) = expected.get("attention_row") {
            let width = x.shape()[3];
            let row = CpuBackend.attention_row(&block, &x, qy * width + qx).unwrap();
            failures.extend(mismatch(&format!("{} attention_row", case.name), &row, row_expected));
        }
    }
    assert!(failures.is_empty(), "{} mismatches over {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
