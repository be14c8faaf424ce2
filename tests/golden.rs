//! Every block and option against the reference outputs of timm / the papers' code
//! (tests/fixtures, written by tools/make_golden.py), on the CPU reference backend.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use attention_playground::{Backend, Block, CpuBackend};
use common::{CPU_TOLERANCE, case_request, check_case, golden_cases};

#[test]
fn every_golden_case_matches_the_reference() {
    let mut failures = Vec::new();
    let cases = golden_cases();
    for case in &cases {
        let block = Block::load(case.block, &case.weights(), &case.options())
            .unwrap_or_else(|e| panic!("{}: weights did not load: {e}", case.name));
        let x = case.x();
        let (request, query) = case_request(case);
        let out = CpuBackend::new().forward(&block, &x, request).unwrap();
        let row = query.map(|q| CpuBackend::new().attention_row(&block, &x, q).unwrap().row);
        failures.extend(check_case(case, &out, row.as_ref(), CPU_TOLERANCE));
    }
    assert!(failures.is_empty(), "{} mismatches over {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
