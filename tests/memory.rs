//! Non-local and self-attention at 64x64 positions must not build the 4096 x 4096 attention
//! matrix (64 MiB of float32) unless asked for. A counting allocator records the peak of live
//! heap bytes during one forward pass. This file holds one test so no other thread allocates.
#![cfg(not(target_arch = "wasm32"))] // native only: processes, files, threads; the browser runs tests/web_gpu.rs

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use attention_playground::blocks::init::seeded_weights;
use attention_playground::{Backend, Block, BlockKind, BlockOptions, CpuBackend, MapRequest, Tensor};
use common::random_tensor;

struct PeakCounting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakCounting = PeakCounting;

/// Heap bytes allocated at the peak of `f`, above what was live before it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - before)
}

#[test]
fn attention_at_64x64_positions_stays_far_below_the_full_matrix() {
    const MATRIX_BYTES: usize = 4096 * 4096 * 4;
    let c = 64;
    let x: Tensor = random_tensor(vec![1, c, 64, 64], 7, 1.0);

    // timm's default shapes: NonLocalAttn(64) has rd = 8; MHSA with 4 heads of 16.
    let nonlocal_options = BlockOptions::default();
    let nonlocal =
        Block::load(BlockKind::NonLocal, &seeded_weights(BlockKind::NonLocal, c, &nonlocal_options, 1).unwrap(), &nonlocal_options)
            .unwrap();
    let (out, peak) = peak_during(|| CpuBackend::new().forward(&nonlocal, &x, MapRequest::default()).unwrap());
    assert!(out.maps.is_empty());
    assert!(peak < MATRIX_BYTES / 8, "Non-local peaked at {peak} bytes, the matrix is {MATRIX_BYTES}");
    eprintln!("nonlocal C=64 64x64: peak {:.2} MiB (matrix would be 64 MiB)", peak as f64 / (1 << 20) as f64);

    let (row, peak) = peak_during(|| CpuBackend::new().attention_row(&nonlocal, &x, 2080).unwrap().row);
    assert_eq!(row.shape(), &[1, 64, 64]);
    assert!(peak < MATRIX_BYTES / 8, "the attention row peaked at {peak} bytes");

    let mhsa_options = BlockOptions { heads: Some(4), ..Default::default() };
    let mhsa = Block::load(BlockKind::Mhsa, &seeded_weights(BlockKind::Mhsa, c, &mhsa_options, 2).unwrap(), &mhsa_options).unwrap();
    let (_, peak) = peak_during(|| CpuBackend::new().forward(&mhsa, &x, MapRequest::default()).unwrap());
    assert!(peak < MATRIX_BYTES / 8, "MHSA peaked at {peak} bytes");
    eprintln!("mhsa C=64 64x64 4 heads: peak {:.2} MiB", peak as f64 / (1 << 20) as f64);
}
