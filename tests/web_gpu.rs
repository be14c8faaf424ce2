//! The GPU checks of tests/gpu.rs, compiled to wasm and run in headless Chromium on WebGPU
//! (SwiftShader, enabled by `--enable-unsafe-webgpu` in webdriver.json):
//! `wasm-pack test --headless --chrome -- --test web_gpu`, run by `./build.sh test`.
//! Every test asserts that a WebGPU adapter was found and that the pass ran on it; a browser
//! without WebGPU fails here instead of passing on the CPU.
#![cfg(target_arch = "wasm32")]

mod common;

use attention_playground::blocks::Pairwise;
use attention_playground::blocks::init::seeded_weights;
use attention_playground::simd::Kernels;
use attention_playground::{
    AnyBackend, Backend, BackendChoice, BackendKind, Block, BlockKind, BlockOptions, CpuBackend, GpuBackend, MapRequest,
};
use common::{CaseFiles, GPU_TOLERANCE, case_request, check_case, check_cases_on_cpu, golden_cases_with, mismatch, random_tensor};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The fixture files, compiled in: the browser has no file system. A case added to cases.json
/// but not here fails the test by name.
macro_rules! embedded_cases {
    ($($name:literal),+ $(,)?) => {
        |name: &str| -> CaseFiles {
            match name {
                $($name => CaseFiles {
                    weights: include_bytes!(concat!("fixtures/", $name, "/weights.safetensors")).to_vec(),
                    input: include_bytes!(concat!("fixtures/", $name, "/input.safetensors")).to_vec(),
                    expected: include_bytes!(concat!("fixtures/", $name, "/expected.safetensors")).to_vec(),
                },)+
                other => panic!("golden case {other} is in cases.json but not embedded in tests/web_gpu.rs"),
            }
        }
    };
}

/// In the browser `auto` takes the WebGPU adapter.
#[wasm_bindgen_test]
async fn auto_picks_webgpu_in_the_browser_and_cpu_never_does() {
    assert_eq!(AnyBackend::select(BackendChoice::Auto).await.unwrap().kind(), BackendKind::Gpu);
    assert_eq!(AnyBackend::select(BackendChoice::Cpu).await.unwrap().kind(), BackendKind::Cpu);
    let options = BlockOptions::default();
    let block = Block::load(BlockKind::Cbam, &seeded_weights(BlockKind::Cbam, 16, &options, 1).unwrap(), &options).unwrap();
    let x = random_tensor(vec![1, 16, 9, 9], 2, 1.0);
    let auto = AnyBackend::select(BackendChoice::Auto).await.unwrap();
    let out = auto.forward(&block, &x, MapRequest::default()).await.unwrap();
    assert_eq!(out.ran_on.backend, BackendKind::Gpu, "{}", out.ran_on);
}

async fn webgpu() -> GpuBackend {
    let gpu = GpuBackend::new().await.expect("a WebGPU adapter (Chromium needs --enable-unsafe-webgpu, see webdriver.json)");
    wasm_bindgen_test::console_log!("WebGPU adapter: {} ({})", gpu.adapter().name, gpu.adapter().backend);
    gpu
}

#[wasm_bindgen_test]
async fn every_golden_case_matches_the_reference_on_webgpu_and_on_the_wasm_cpu_path() {
    let gpu = webgpu().await;
    let mut failures = Vec::new();
    let cases = golden_cases_with(embedded_cases!(
        "se_timm",
        "se_no_bias",
        "cbam_timm",
        "cbam_official",
        "cbam_k3",
        "nonlocal_timm",
        "nonlocal_embedded_gaussian_inner",
        "nonlocal_embedded_gaussian_none",
        "nonlocal_embedded_gaussian_input_subsample",
        "nonlocal_dot_product_input",
        "nonlocal_dot_product_input_subsample",
        "nonlocal_gaussian_input",
        "nonlocal_gaussian_none_subsample",
        "nonlocal_concatenation_input",
        "nonlocal_concatenation_input_subsample",
        "eca_zero_k5",
        "eca_zero_auto",
        "eca_circular_k5",
        "gc_scale",
        "gc_add",
        "mhsa_heads4",
        "mhsa_heads1"
    ));
    for case in &cases {
        let block = Block::load(case.block, &case.weights(), &case.options()).unwrap();
        let x = case.x();
        let (request, query) = case_request(case);

        let out = gpu.forward_async(&block, &x, request).await.unwrap();
        assert_eq!(out.ran_on.backend, BackendKind::Gpu, "{} did not run on WebGPU: {}", case.name, out.ran_on);
        let row = match query {
            Some(q) => Some(gpu.attention_row_async(&block, &x, q).await.unwrap()),
            None => None,
        };
        if let Some(row) = &row {
            assert_eq!(row.ran_on.backend, BackendKind::Gpu, "{}: {}", case.name, row.ran_on);
        }
        failures.extend(check_case(case, &out, row.as_ref().map(|r| &r.row), GPU_TOLERANCE));
    }
    // The wasm CPU path: the reference, the portable kernels (what the scalar build runs) and
    // simd128 (what the page runs where the browser has it; this test build enables it).
    let variants = Kernels::available();
    assert_eq!(variants, [Kernels::Reference, Kernels::Portable, Kernels::Simd128]);
    for kernels in variants {
        failures.extend(check_cases_on_cpu(&cases, kernels));
    }
    assert!(failures.is_empty(), "{} mismatches over {} cases:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

/// More keys than one dispatch range (4096 > 2048), batch 2, every Non-local form and
/// self-attention, against the CPU path in the same browser.
#[wasm_bindgen_test]
async fn attention_over_several_key_ranges_matches_the_cpu_on_webgpu() {
    let gpu = webgpu().await;
    let variants = [
        (BlockKind::NonLocal, BlockOptions::default()),
        (BlockKind::NonLocal, BlockOptions { pairwise: Some(Pairwise::DotProduct), ..Default::default() }),
        (BlockKind::NonLocal, BlockOptions { pairwise: Some(Pairwise::Concatenation), ..Default::default() }),
        (BlockKind::NonLocal, BlockOptions { pairwise: Some(Pairwise::Gaussian), subsample: true, ..Default::default() }),
        (BlockKind::Mhsa, BlockOptions { heads: Some(2), ..Default::default() }),
    ];
    let mut failures = Vec::new();
    for (i, (kind, options)) in variants.iter().enumerate() {
        let block = Block::load(*kind, &seeded_weights(*kind, 16, options, 40 + i as u64).unwrap(), options).unwrap();
        let x = random_tensor(vec![2, 16, 64, 64], 50 + i as u64, 1.0);
        let out = gpu.forward_async(&block, &x, MapRequest::default()).await.unwrap();
        assert_eq!(out.ran_on.backend, BackendKind::Gpu, "{kind}: {}", out.ran_on);
        let reference = CpuBackend::with_kernels(Kernels::Reference).forward(&block, &x, MapRequest::default()).unwrap();
        failures.extend(mismatch(&format!("{kind} {options:?} y"), &out.y, &reference.y, GPU_TOLERANCE));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The benchmark's entry point (`BlockBench`, timed against onnxruntime-web by
/// tools/bench/side_by_side_web.mjs) computes the golden output from the files' bytes, and
/// refuses bad files with a message instead of a panic.
#[wasm_bindgen_test]
fn block_bench_computes_the_golden_output_and_refuses_bad_files() {
    use attention_playground::web::BlockBench;
    let files = embedded_cases!("mhsa_heads4")("mhsa_heads4");
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"heads".into(), &4.into()).unwrap();
    let bench = BlockBench::new("mhsa".into(), files.weights.clone(), files.input.clone(), options.clone().into()).unwrap();
    assert_eq!(bench.kernels(), "simd128");
    bench.run().unwrap();
    let shape: Vec<usize> = bench.shape().iter().map(|&d| d as usize).collect();
    let expected = attention_playground::weights::read_safetensors(&files.expected, "expected").unwrap().remove("y").unwrap();
    let y = attention_playground::tensor::Tensor::new(shape, bench.output().unwrap().to_vec()).unwrap();
    assert_eq!(mismatch("BlockBench y", &y, &expected, common::FAST_CPU_TOLERANCE), None);

    let message = |r: Result<BlockBench, wasm_bindgen::JsValue>| {
        let e = r.err().expect("an error");
        js_sys::Error::from(e).message().as_string().unwrap()
    };
    let truncated = message(BlockBench::new("mhsa".into(), files.weights[..40].to_vec(), files.input.clone(), options.clone().into()));
    assert!(truncated.contains("safetensors"), "{truncated}");
    let wrong_block = message(BlockBench::new("se".into(), files.weights.clone(), files.input.clone(), wasm_bindgen::JsValue::UNDEFINED));
    assert!(wrong_block.contains("fc1"), "{wrong_block}");
    let no_x = message(BlockBench::new("mhsa".into(), files.weights.clone(), files.weights.clone(), options.into()));
    assert!(no_x.contains("`x`"), "{no_x}");
}

/// Whole networks (tests/fixtures/nets/, checked natively by tests/net.rs) in the browser: the
/// logits and every block's maps on WebGPU and on the wasm CPU path, against the float64
/// references of timm. Tolerance as tests/net.rs: abs 1e-4 + rel 1e-4.
#[wasm_bindgen_test]
async fn whole_networks_match_their_references_on_webgpu_and_the_wasm_cpu_path() {
    use attention_playground::net::checkpoint::StateDict;
    use attention_playground::net::{Off, families};
    use attention_playground::weights::read_safetensors;
    macro_rules! net_case {
        ($name:literal, $arch:literal) => {
            (
                $name,
                $arch,
                &include_bytes!(concat!("fixtures/nets/", $name, "/model.safetensors"))[..],
                &include_bytes!(concat!("fixtures/nets/", $name, "/input.safetensors"))[..],
                &include_bytes!(concat!("fixtures/nets/", $name, "/expected.safetensors"))[..],
            )
        };
    }
    let cases = [
        net_case!("resnet50d_cbam", "resnet50d"),
        net_case!("resnet50_gc", "resnet50"),
        net_case!("mobilenetv3_small_100", "mobilenetv3_small_100"),
        net_case!("lcnet_100", "lcnet_100"),
        net_case!("rexnet_100", "rexnet_100"),
        net_case!("ghostnet_100", "ghostnet_100"),
        net_case!("mixnet_s", "mixnet_s"),
        net_case!("skresnext50_32x4d", "skresnext50_32x4d"),
        net_case!("resnest50d_4s2x40d", "resnest50d_4s2x40d"),
        net_case!("gcresnext26ts", "gcresnext26ts"),
        net_case!("eca_botnext26ts_256", "eca_botnext26ts_256"),
    ];
    let tolerance = common::Tolerance { abs: 1e-4, rel: 1e-4 };
    let gpu = AnyBackend::Gpu(Box::new(webgpu().await));
    let cpu = AnyBackend::Cpu(CpuBackend::new());
    let mut failures = Vec::new();
    for backend in [&gpu, &cpu] {
        for (name, arch, model, input, expected) in cases {
            let dict = StateDict::read(model, name).unwrap();
            let net = families::build(&dict, Some(arch)).unwrap();
            let x = read_safetensors(input, "input").unwrap().remove("x").unwrap();
            let expected = read_safetensors(expected, "expected").unwrap();
            let run = net.run(backend, &x, &Off::default()).await.unwrap();
            failures.extend(mismatch(&format!("{:?} {name} logits", backend.kind()), &run.logits, &expected["logits"], tolerance));
            for record in &run.blocks {
                for (map, got) in &record.maps {
                    failures.extend(mismatch(
                        &format!("{:?} {name} {}.{map}", backend.kind(), record.path),
                        got,
                        &expected[&format!("{}.{map}", record.path)],
                        tolerance,
                    ));
                }
                assert_eq!(
                    record.ran_on.as_ref().map(|r| (r.backend, r.fallback.is_none())),
                    Some((backend.kind(), true)),
                    "{name} {} ran on the backend",
                    record.path
                );
            }
            assert_eq!(
                (run.layers.backend, run.layers.fallback.as_deref()),
                (backend.kind(), None),
                "{name}: the layers ran on the backend"
            );
            // Self-attention's only map is its N x N matrix, never built in a run: its rows are
            // asked of a session, per head, and held to timm's.
            assert!(run.blocks.iter().all(|b| b.kind == "bot" || !b.maps.is_empty()), "{name}: every block gave its maps");
            let bots: Vec<String> = run.blocks.iter().filter(|b| b.kind == "bot").map(|b| b.path.clone()).collect();
            if !bots.is_empty() {
                let image = x.data()[..x.data().len() / x.shape()[0]].to_vec();
                let mut shape = x.shape().to_vec();
                shape[0] = 1;
                let first = attention_playground::Tensor::new(shape, image).unwrap();
                let kernels = backend.cpu_kernels();
                let mut session = attention_playground::net::session::Session::new(net.clone());
                session.run(backend, kernels, &first, &Off::default(), &|| 0.0).await.unwrap();
                for path in &bots {
                    let want = &expected[&format!("{path}.attention")]; // (N, heads, HW, HW)
                    let grid = run.blocks.iter().find(|b| &b.path == path).unwrap().grid;
                    let q = want.shape()[2] / 2 + 1;
                    let asked = session.attention_row(backend, kernels, path, (q % grid.1, q / grid.1)).await.unwrap();
                    assert_eq!(
                        (asked.ran_on.backend, asked.ran_on.fallback.as_deref()),
                        (backend.kind(), None),
                        "{name} {path}: the row's backend"
                    );
                    let row = asked.row;
                    let want_row = common::head_rows(want, q, grid.1);
                    failures.extend(mismatch(&format!("{:?} {name} {path} row {q}", backend.kind()), &row, &want_row, tolerance));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
