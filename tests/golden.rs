//! Every block and option against the reference outputs of timm / the papers' code
//! (tests/fixtures, written by tools/make_golden.py), on the CPU with every kernel variant this
//! machine runs: the plain reference, the portable fast kernels, and AVX2+FMA where the CPU has it.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use attention_playground::simd::Kernels;
use attention_playground::{Backend, Block, CpuBackend, MapRequest};
use common::{CPU_TOLERANCE, FAST_CPU_TOLERANCE, case_request, check_case, golden_cases, mismatch};

#[test]
fn every_golden_case_matches_the_reference_on_every_kernel_variant() {
    let variants = Kernels::available();
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert!(variants.contains(&Kernels::Avx2Fma), "this CPU has AVX2 and FMA but the kernels were not offered");
    }
    let mut failures = Vec::new();
    let cases = golden_cases();
    for kernels in variants {
        let backend = CpuBackend::with_kernels(kernels);
        let tolerance = if kernels == Kernels::Reference { CPU_TOLERANCE } else { FAST_CPU_TOLERANCE };
        for case in &cases {
            let block = Block::load(case.block, &case.weights(), &case.options())
                .unwrap_or_else(|e| panic!("{}: weights did not load: {e}", case.name));
            let x = case.x();
            let (request, query) = case_request(case);
            let out = backend.forward(&block, &x, request).unwrap();
            let row = query.map(|q| backend.attention_row(&block, &x, q).unwrap().row);
            failures.extend(check_case(case, &out, row.as_ref(), tolerance).into_iter().map(|f| format!("[{kernels}] {f}")));
            if request.full_attention {
                // Asking for the whole matrix routes through the reference; without it the fused
                // attention computes y, which must match too.
                let fused = backend.forward(&block, &x, MapRequest::default()).unwrap();
                let expected = &case.expected()["y"];
                failures.extend(mismatch(&format!("[{kernels}] {} y without the matrix", case.name), &fused.y, expected, tolerance));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
