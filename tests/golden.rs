//! Every block and option against the reference outputs of timm / the papers' code
//! (tests/fixtures, written by tools/make_golden.py), on the CPU with every kernel variant this
//! machine runs: the plain reference, the portable fast kernels, AVX2+FMA and AVX-512 where the
//! CPU has them.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use attention_playground::simd::Kernels;
use common::{check_cases_on_cpu, golden_cases};

#[test]
fn every_golden_case_matches_the_reference_on_every_kernel_variant() {
    let variants = Kernels::available();
    #[cfg(target_arch = "x86_64")]
    {
        // A CPU with the features must get their kernels, or the fast path went untested.
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert!(variants.contains(&Kernels::Avx2Fma), "{variants:?}");
        }
        if std::is_x86_feature_detected!("avx512f") {
            assert!(variants.contains(&Kernels::Avx512), "{variants:?}");
        }
    }
    let cases = golden_cases();
    let failures: Vec<String> = variants.iter().flat_map(|&kernels| check_cases_on_cpu(&cases, kernels)).collect();
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
