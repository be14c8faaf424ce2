//! The GPU backend against the reference, on a real adapter: natively that is Mesa's software
//! Vulkan (lavapipe, installed by build.sh) on the test machines, or whatever GPU the machine has.
//! Every test here fails when no adapter exists: a GPU test that quietly ran on the CPU would
//! prove nothing. The browser runs the same checks in tests/web_gpu.rs.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use attention_playground::blocks::init::seeded_weights;
use attention_playground::blocks::{EcaPadding, Fusion, Pairwise, ScaleMode, SpatialOrder};
use attention_playground::{Backend, BackendKind, Block, BlockKind, BlockOptions, BlockOutput, CpuBackend, GpuBackend, MapRequest, Tensor};
use common::{GPU_TOLERANCE, case_request, check_case, golden_cases, mismatch, random_tensor};

fn gpu() -> GpuBackend {
    pollster::block_on(GpuBackend::new()).expect("a GPU adapter (build.sh installs Mesa's software Vulkan, mesa-vulkan-drivers)")
}

fn assert_ran_on_gpu(what: &str, out: &BlockOutput) {
    assert_eq!(out.ran_on.backend, BackendKind::Gpu, "{what} fell back: {}", out.ran_on);
}

/// Compares every output and map of two runs of the same pass.
fn differences(what: &str, gpu: &BlockOutput, cpu: &BlockOutput) -> Vec<String> {
    let mut failures: Vec<String> = mismatch(&format!("{what} y"), &gpu.y, &cpu.y, GPU_TOLERANCE).into_iter().collect();
    assert_eq!(gpu.maps.keys().collect::<Vec<_>>(), cpu.maps.keys().collect::<Vec<_>>(), "{what}: maps differ");
    for (name, map) in &gpu.maps {
        failures.extend(mismatch(&format!("{what} {name}"), map, &cpu.maps[name], GPU_TOLERANCE));
    }
    failures
}

#[test]
fn every_golden_case_matches_the_reference_on_the_gpu() {
    let gpu = gpu();
    let mut failures = Vec::new();
    for case in &golden_cases() {
        let block = Block::load(case.block, &case.weights(), &case.options()).unwrap();
        let x = case.x();
        let (request, query) = case_request(case);
        let out = gpu.forward(&block, &x, request).unwrap();
        assert_ran_on_gpu(&case.name, &out);
        let row = query.map(|q| gpu.attention_row(&block, &x, q).unwrap());
        if let Some(row) = &row {
            assert_eq!(row.ran_on.backend, BackendKind::Gpu, "{}: {}", case.name, row.ran_on);
        }
        failures.extend(check_case(case, &out, row.as_ref().map(|r| &r.row), GPU_TOLERANCE));
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// Every block and option at sizes the golden cases do not reach (more channels than a 16-wide
/// tile, more keys than one 32-key tile, batch 3, odd sizes), with every map the block has.
#[test]
fn gpu_matches_cpu_for_every_block_and_option_at_larger_sizes() {
    let gpu = gpu();
    let cpu = CpuBackend::new();
    let nonlocal =
        |pairwise, scale, subsample| BlockOptions { pairwise: Some(pairwise), scale: Some(scale), subsample, ..Default::default() };
    let variants: Vec<(BlockKind, BlockOptions)> = vec![
        (BlockKind::Se, BlockOptions::default()),
        (BlockKind::Cbam, BlockOptions::default()),
        (BlockKind::Cbam, BlockOptions { spatial_order: Some(SpatialOrder::MaxMean), ..Default::default() }),
        (BlockKind::Eca, BlockOptions::default()),
        (BlockKind::Eca, BlockOptions { padding: Some(EcaPadding::Circular), ..Default::default() }),
        (BlockKind::Gc, BlockOptions::default()),
        (BlockKind::Gc, BlockOptions { fusion: Some(Fusion::Add), ..Default::default() }),
        (BlockKind::NonLocal, nonlocal(Pairwise::EmbeddedGaussian, ScaleMode::Input, false)),
        (BlockKind::NonLocal, nonlocal(Pairwise::EmbeddedGaussian, ScaleMode::Inner, true)),
        (BlockKind::NonLocal, nonlocal(Pairwise::DotProduct, ScaleMode::None, true)),
        (BlockKind::NonLocal, nonlocal(Pairwise::Gaussian, ScaleMode::Input, false)),
        (BlockKind::NonLocal, nonlocal(Pairwise::Gaussian, ScaleMode::None, true)),
        (BlockKind::NonLocal, nonlocal(Pairwise::Concatenation, ScaleMode::Input, false)),
        (BlockKind::Mhsa, BlockOptions { heads: Some(1), ..Default::default() }),
        (BlockKind::Mhsa, BlockOptions { heads: Some(4), ..Default::default() }),
    ];
    let mut failures = Vec::new();
    for (i, (kind, options)) in variants.iter().enumerate() {
        let c = if *kind == BlockKind::Mhsa { 48 } else { 72 };
        let block = Block::load(*kind, &seeded_weights(*kind, c, options, 100 + i as u64).unwrap(), options).unwrap();
        let x = random_tensor(vec![3, c, 13, 11], 200 + i as u64, 1.0);
        let request = MapRequest { full_attention: matches!(kind, BlockKind::NonLocal | BlockKind::Mhsa), ..Default::default() };
        let what = format!("{kind} {options:?}");
        let on_gpu = gpu.forward(&block, &x, request).unwrap();
        assert_ran_on_gpu(&what, &on_gpu);
        failures.extend(differences(&what, &on_gpu, &cpu.forward(&block, &x, request).unwrap()));
        if request.full_attention {
            let row = gpu.attention_row(&block, &x, 77).unwrap();
            failures.extend(mismatch(&format!("{what} row"), &row.row, &cpu.attention_row(&block, &x, 77).unwrap().row, GPU_TOLERANCE));
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

/// The size: C = 64 over 128 x 128 positions, 16384 keys, where the attention matrix
/// alone would take 1 GiB. The pass must run on the GPU and its pool must stay far below that.
#[test]
fn nonlocal_at_128x128_runs_on_the_gpu_without_the_full_matrix() {
    const MATRIX_BYTES: u64 = 16384 * 16384 * 4;
    let gpu = gpu();
    let options = BlockOptions::default();
    let block = Block::load(BlockKind::NonLocal, &seeded_weights(BlockKind::NonLocal, 64, &options, 3).unwrap(), &options).unwrap();
    let x = random_tensor(vec![1, 64, 128, 128], 4, 1.0);

    let out = gpu.forward(&block, &x, MapRequest::default()).unwrap();
    assert_ran_on_gpu("nonlocal 128x128", &out);
    let peak = gpu.pool_stats().peak_bytes;
    assert!(peak < 64 << 20, "the GPU pool peaked at {} MiB", peak >> 20);
    assert!(peak < MATRIX_BYTES / 16);

    let reference = CpuBackend::new().forward(&block, &x, MapRequest::default()).unwrap();
    let failures = differences("nonlocal 128x128", &out, &reference);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A user's click at this size: one row of 16384 weights, summing to 1.
    let row = gpu.attention_row(&block, &x, 64 * 128 + 64).unwrap();
    assert_eq!(row.ran_on.backend, BackendKind::Gpu);
    assert_eq!(row.row.shape(), &[1, 128, 128]);
    let sum: f64 = row.row.data().iter().map(|&v| f64::from(v)).sum();
    assert!((sum - 1.0).abs() < 1e-4, "row sums to {sum}");
}

/// Buffers and pipelines are made once: later passes of the same shapes reuse the pool.
#[test]
fn repeated_passes_reuse_pooled_buffers() {
    let gpu = gpu();
    let options = BlockOptions::default();
    let block = Block::load(BlockKind::Cbam, &seeded_weights(BlockKind::Cbam, 32, &options, 5).unwrap(), &options).unwrap();
    let x = random_tensor(vec![2, 32, 20, 20], 6, 1.0);
    let first = gpu.forward(&block, &x, MapRequest::default()).unwrap();
    let created = gpu.pool_stats().buffers_created;
    for _ in 0..3 {
        assert_eq!(gpu.forward(&block, &x, MapRequest::default()).unwrap(), first);
    }
    assert_eq!(gpu.pool_stats().buffers_created, created, "later passes created buffers");
}

/// A tensor over the device's storage-binding limit: the pass runs on the CPU instead, gives the
/// reference result, and says why.
#[test]
fn a_tensor_over_the_device_limits_falls_back_to_the_cpu() {
    let small = pollster::block_on(GpuBackend::with_limits(|mut limits| {
        limits.max_storage_buffer_binding_size = 64 * 1024;
        limits
    }))
    .expect("a GPU adapter");
    let options = BlockOptions::default();
    let block = Block::load(BlockKind::Se, &seeded_weights(BlockKind::Se, 64, &options, 8).unwrap(), &options).unwrap();
    let x = random_tensor(vec![1, 64, 40, 40], 9, 1.0); // 400 KiB
    let out = small.forward(&block, &x, MapRequest::default()).unwrap();
    assert_eq!(out.ran_on.backend, BackendKind::Cpu);
    let reason = out.ran_on.fallback.clone().expect("a fallback reason");
    assert!(reason.contains("limit"), "{reason}");
    assert_eq!(out.y, CpuBackend::new().forward(&block, &x, MapRequest::default()).unwrap().y);
    // A small input still runs on that device.
    let x_small = random_tensor(vec![1, 64, 8, 8], 10, 1.0);
    assert_ran_on_gpu("small input", &small.forward(&block, &x_small, MapRequest::default()).unwrap());
}

/// A lost device (a driver reset, a closed laptop lid): later passes run on the CPU and say so.
#[test]
fn a_lost_device_falls_back_to_the_cpu() {
    let gpu = gpu();
    let options = BlockOptions { heads: Some(2), ..Default::default() };
    let block = Block::load(BlockKind::Mhsa, &seeded_weights(BlockKind::Mhsa, 16, &options, 11).unwrap(), &options).unwrap();
    let x = random_tensor(vec![1, 16, 9, 9], 12, 1.0);
    assert_ran_on_gpu("before the loss", &gpu.forward(&block, &x, MapRequest::default()).unwrap());

    gpu.simulate_device_loss();
    let reference = CpuBackend::new().forward(&block, &x, MapRequest::default()).unwrap();
    let out = gpu.forward(&block, &x, MapRequest::default()).unwrap();
    assert_eq!(out.ran_on.backend, BackendKind::Cpu, "{}", out.ran_on);
    assert!(out.ran_on.fallback.is_some());
    assert_eq!(out.y, reference.y);
    let row = gpu.attention_row(&block, &x, 5).unwrap();
    assert_eq!(row.ran_on.backend, BackendKind::Cpu);
    assert_eq!(row.row, CpuBackend::new().attention_row(&block, &x, 5).unwrap().row);
}

/// Bad input is refused before the GPU sees it, with the CPU path's message.
#[test]
fn bad_input_is_refused_as_on_the_cpu() {
    let gpu = gpu();
    let options = BlockOptions::default();
    let block = Block::load(BlockKind::Se, &seeded_weights(BlockKind::Se, 8, &options, 13).unwrap(), &options).unwrap();
    let mut x = random_tensor(vec![1, 8, 4, 4], 14, 1.0);
    x.data_mut()[5] = f32::NAN;
    let on_gpu = gpu.forward(&block, &x, MapRequest::default()).unwrap_err().to_string();
    assert_eq!(on_gpu, CpuBackend::new().forward(&block, &x, MapRequest::default()).unwrap_err().to_string());
    assert!(on_gpu.contains("non-finite"), "{on_gpu}");
    let wrong_channels = Tensor::zeros(vec![1, 7, 4, 4]);
    assert!(gpu.forward(&block, &wrong_channels, MapRequest::default()).unwrap_err().to_string().contains("8 channels"));
}
