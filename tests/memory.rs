//! Non-local and self-attention at 64x64 positions must not build the 4096 x 4096 attention
//! matrix (64 MiB of float32) unless asked for. A counting allocator records the peak of live
//! heap bytes during one forward pass. This file holds one test so no other thread allocates.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use attention_playground::{Backend, Block, BlockKind, BlockOptions, CpuBackend, MapRequest, Tensor, Weights};
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

fn weights(spec: &[(&str, Vec<usize>)]) -> Weights {
    Weights::from_tensors(spec.iter().enumerate().map(|(i, (k, s))| {
        let mut t = random_tensor(s.clone(), i as u64, 0.2);
        if k.ends_with("running_var") {
            t.data_mut().iter_mut().for_each(|v| *v = v.abs() + 0.5);
        }
        (k.to_string(), t)
    }))
}

#[test]
fn attention_at_64x64_positions_stays_far_below_the_full_matrix() {
    const MATRIX_BYTES: usize = 4096 * 4096 * 4;
    let (c, rd) = (64, 8);
    let x: Tensor = random_tensor(vec![1, c, 64, 64], 7, 1.0);

    let nonlocal = Block::load(
        BlockKind::NonLocal,
        &weights(&[
            ("t.weight", vec![rd, c, 1, 1]), ("t.bias", vec![rd]),
            ("p.weight", vec![rd, c, 1, 1]), ("p.bias", vec![rd]),
            ("g.weight", vec![rd, c, 1, 1]), ("g.bias", vec![rd]),
            ("z.weight", vec![c, rd, 1, 1]), ("z.bias", vec![c]),
            ("norm.weight", vec![c]), ("norm.bias", vec![c]), ("norm.running_mean", vec![c]), ("norm.running_var", vec![c]),
        ]),
        &BlockOptions::default(),
    )
    .unwrap();
    let (out, peak) = peak_during(|| CpuBackend.forward(&nonlocal, &x, MapRequest::default()).unwrap());
    assert!(out.maps.is_empty());
    assert!(peak < MATRIX_BYTES / 8, "Non-local peaked at {peak} bytes, the matrix is {MATRIX_BYTES}");
    eprintln!("nonlocal C=64 64x64: peak {:.2} MiB (matrix would be 64 MiB)", peak as f64 / (1 << 20) as f64);

    let (row, peak) = peak_during(|| CpuBackend.attention_row(&nonlocal, &x, 2080).unwrap());
    assert_eq!(row.shape(), &[1, 64, 64]);
    assert!(peak < MATRIX_BYTES / 8, "the attention row peaked at {peak} bytes");

    let mhsa = Block::load(
        BlockKind::Mhsa,
        &weights(&[("qkv.weight", vec![3 * c, c, 1, 1]), ("qkv.bias", vec![3 * c]), ("proj.weight", vec![c, c, 1, 1]), ("proj.bias", vec![c])]),
        &BlockOptions { heads: Some(4), ..Default::default() },
    )
    .unwrap();
    let (_, peak) = peak_during(|| CpuBackend.forward(&mhsa, &x, MapRequest::default()).unwrap());
    assert!(peak < MATRIX_BYTES / 8, "MHSA peaked at {peak} bytes");
    eprintln!("mhsa C=64 64x64 4 heads: peak {:.2} MiB", peak as f64 / (1 << 20) as f64);
}
