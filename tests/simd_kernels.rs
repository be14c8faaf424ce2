//! The fast CPU kernels against the reference on shapes the golden cases do not have: positions
//! that are no multiple of a vector, query counts no multiple of the query tile, key counts
//! beyond one key tile, odd head widths, batches of several images, every block option.
#![cfg(not(target_arch = "wasm32"))] // native only; the browser runs the simd128 variant in tests/web_gpu.rs

mod common;

use attention_playground::blocks::init::seeded_weights;
use attention_playground::blocks::{Fusion, Pairwise, ScaleMode, SpatialOrder};
use attention_playground::simd::Kernels;
use attention_playground::{Backend, Block, BlockKind, BlockOptions, CpuBackend, MapRequest};
use common::{FAST_CPU_TOLERANCE, mismatch, random_tensor};

/// `(block, options, channels, batch, height, width)`.
fn shapes() -> Vec<(BlockKind, BlockOptions, usize, usize, usize, usize)> {
    let default = BlockOptions::default;
    let mut cases = Vec::new();
    for (n, h, w) in [(1, 1, 1), (2, 3, 5), (1, 7, 9), (1, 17, 23), (1, 40, 41)] {
        for kind in [BlockKind::Se, BlockKind::Cbam, BlockKind::Eca, BlockKind::Gc] {
            cases.push((kind, default(), 24, n, h, w));
        }
        cases.push((BlockKind::Gc, BlockOptions { fusion: Some(Fusion::Add), ..default() }, 24, n, h, w));
        cases.push((BlockKind::Cbam, BlockOptions { spatial_order: Some(SpatialOrder::MaxMean), ..default() }, 40, n, h, w));
        cases.push((BlockKind::NonLocal, default(), 24, n, h, w));
        cases.push((BlockKind::Mhsa, BlockOptions { heads: Some(3), ..default() }, 24, n, h, w));
        cases.push((BlockKind::Mhsa, BlockOptions { heads: Some(1), ..default() }, 20, n, h, w));
    }
    for pairwise in [Pairwise::Gaussian, Pairwise::DotProduct, Pairwise::Concatenation] {
        cases.push((BlockKind::NonLocal, BlockOptions { pairwise: Some(pairwise), ..default() }, 16, 1, 13, 11));
    }
    cases.push((BlockKind::NonLocal, BlockOptions { scale: Some(ScaleMode::None), subsample: true, ..default() }, 32, 1, 15, 18));
    cases
}

#[test]
fn every_fast_variant_equals_the_reference_on_odd_shapes() {
    let reference = CpuBackend::with_kernels(Kernels::Reference);
    let fast: Vec<Kernels> = Kernels::available().into_iter().filter(|&k| k != Kernels::Reference).collect();
    assert!(fast.contains(&Kernels::Portable));
    let mut failures = Vec::new();
    for (i, (kind, options, c, n, h, w)) in shapes().into_iter().enumerate() {
        let block = Block::load(kind, &seeded_weights(kind, c, &options, i as u64).unwrap(), &options).unwrap();
        let x = random_tensor(vec![n, c, h, w], 1000 + i as u64, 2.0);
        let expected = reference.forward(&block, &x, MapRequest::default()).unwrap();
        for &kernels in &fast {
            let out = CpuBackend::with_kernels(kernels).forward(&block, &x, MapRequest::default()).unwrap();
            let what = format!("[{kernels}] {kind} {options:?} x {:?}", x.shape());
            failures.extend(mismatch(&format!("{what} y"), &out.y, &expected.y, FAST_CPU_TOLERANCE));
            assert_eq!(out.maps.keys().collect::<Vec<_>>(), expected.maps.keys().collect::<Vec<_>>(), "{what}");
            for (name, map) in &out.maps {
                failures.extend(mismatch(&format!("{what} {name}"), map, &expected.maps[name], FAST_CPU_TOLERANCE));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn kernels_are_named_and_refused_where_they_cannot_run() {
    for kernels in Kernels::available() {
        assert_eq!(kernels.name().parse::<Kernels>().unwrap(), kernels);
    }
    let err = "simd128".parse::<Kernels>().unwrap_err().to_string();
    assert!(err.contains("does not run on this machine"), "{err}");
    let err = "sse9".parse::<Kernels>().unwrap_err().to_string();
    assert!(err.contains("unknown value `sse9`"), "{err}");
}

/// The gates on the fast kernels skip the separate scan for NaN and infinity and read it off
/// their first pass's sums instead: every block and variant still refuses each kind of bad
/// value, wherever it sits in a batch, with its index in `x`; finite values whose sums
/// overflow are not refused.
#[test]
fn every_variant_refuses_non_finite_inputs_with_their_index() {
    let gates = [
        (BlockKind::Se, BlockOptions::default()),
        (BlockKind::Eca, BlockOptions::default()),
        (BlockKind::Cbam, BlockOptions::default()),
        (BlockKind::Gc, BlockOptions::default()),
        (BlockKind::Gc, BlockOptions { fusion: Some(Fusion::Add), ..BlockOptions::default() }),
        (BlockKind::NonLocal, BlockOptions::default()),
        (BlockKind::Mhsa, BlockOptions { heads: Some(2), ..BlockOptions::default() }),
    ];
    for (i, (kind, options)) in gates.into_iter().enumerate() {
        let block = Block::load(kind, &seeded_weights(kind, 16, &options, 70 + i as u64).unwrap(), &options).unwrap();
        for kernels in Kernels::available() {
            let backend = CpuBackend::with_kernels(kernels);
            // Second image, an interior channel and position; and the very first value.
            for (index, bad) in [(16 * 45 + 7 * 45 + 23, f32::NAN), (16 * 45 + 3, f32::INFINITY), (0, f32::NEG_INFINITY)] {
                let mut x = random_tensor(vec![2, 16, 5, 9], 90 + i as u64, 1.0);
                x.data_mut()[index] = bad;
                let err = backend.forward(&block, &x, MapRequest::default()).expect_err("a non-finite input").to_string();
                assert!(err.contains("non-finite") && err.contains(&format!("index {index}")), "[{kernels}] {kind}: {err}");
            }
            // Opposite infinities in one channel: their sum is NaN, not a finite number.
            let mut x = random_tensor(vec![1, 16, 5, 9], 91, 1.0);
            x.data_mut()[4] = f32::INFINITY;
            x.data_mut()[5] = f32::NEG_INFINITY;
            assert!(backend.forward(&block, &x, MapRequest::default()).is_err(), "[{kernels}] {kind}: +inf and -inf");
        }
    }
    // Finite values near f32::MAX: the channel sums overflow, the values are still accepted.
    let se = Block::load(BlockKind::Se, &seeded_weights(BlockKind::Se, 16, &BlockOptions::default(), 1).unwrap(), &BlockOptions::default())
        .unwrap();
    let mut x = random_tensor(vec![1, 16, 4, 4], 92, 1.0);
    x.data_mut()[..16].fill(3.0e38);
    for kernels in Kernels::available() {
        assert!(CpuBackend::with_kernels(kernels).forward(&se, &x, MapRequest::default()).is_ok(), "[{kernels}] large finite values");
    }
}

#[test]
fn every_variant_s_pointwise_activations_equal_their_definitions() {
    use attention_playground::kernels::activation::Activation;
    // Odd lengths leave a remainder; the values reach far into both tails.
    let values: Vec<f32> = (0..1003).map(|i| (i as f32 - 501.0) * 0.173).chain([-100.0, 100.0, 0.0, -0.0, 88.0, -88.0]).collect();
    for kernels in Kernels::available() {
        for act in Activation::ALL {
            let mut got = values.clone();
            kernels.pointwise_in_place(&mut got, act);
            for (&x, &y) in values.iter().zip(&got) {
                let want = act.apply(x);
                assert!((y - want).abs() <= 1e-6 + 1e-5 * want.abs(), "{kernels} {act:?}({x}) = {y}, expected {want}");
            }
        }
    }
}
