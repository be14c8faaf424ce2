//! The token walkthrough (`src/tokens.rs`): its steps against a computation by hand in float64
//! from its own inputs (the embeddings, `Q`, `K`, `V` and the seeded projection), its attention
//! weights (the engine's MHSA rows) summing to one, the GPU (lavapipe) against the CPU, and its
//! refusals.
#![cfg(not(target_arch = "wasm32"))]

use attention_playground::blocks::init::seeded_weights;
use attention_playground::tokens::{self, DIM, WEIGHT_SEED, embedding, walk};
use attention_playground::{AnyBackend, BackendKind, BlockKind, BlockOptions, CpuBackend, GpuBackend};

fn cpu() -> AnyBackend {
    AnyBackend::Cpu(CpuBackend::new())
}

fn close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((f64::from(*g) - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: {g} against {w} by hand");
    }
}

fn softmax(row: &[f64]) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

#[test]
fn every_step_of_zao_shang_hao_matches_a_computation_by_hand() {
    for heads in 1..=4 {
        let w = pollster::block_on(walk(&cpu(), "早上好", heads)).unwrap();
        let t = 3;
        assert_eq!(w.tokens, ["早", "上", "好"]);
        // The embeddings: the documented ones, one decimal each, in [-1, 1].
        let x: Vec<f64> = "早上好".chars().flat_map(embedding).map(f64::from).collect();
        close("X", &w.x, &x, 0.0);
        assert!(x.iter().all(|v| v.abs() <= 1.0 && ((v * 10.0).round() - v * 10.0).abs() < 1e-6));
        // X Xᵀ and its softmax, by hand.
        let xxt: Vec<f64> = (0..t)
            .flat_map(|i| {
                let x = &x;
                (0..t).map(move |j| (0..DIM).map(|c| x[i * DIM + c] * x[j * DIM + c]).sum())
            })
            .collect();
        close("X Xᵀ", &w.similarity, &xxt, 1e-6);
        let xxt_soft: Vec<f64> = xxt.chunks(t).flat_map(softmax).collect();
        close("softmax(X Xᵀ)", &w.similarity_weights, &xxt_soft, 1e-6);
        // Per head: the scaled scores from Q and K, the engine's weights as their softmax (rows
        // summing to one), A V from them.
        let dk = DIM / heads;
        assert_eq!(w.heads.len(), heads);
        assert!((f64::from(w.scale) - 1.0 / (dk as f64).sqrt()).abs() < 1e-7);
        let mut concat = vec![0.0f64; t * DIM];
        for (h, head) in w.heads.iter().enumerate() {
            let (q, k, v): (Vec<f64>, Vec<f64>, Vec<f64>) = (
                head.q.iter().map(|&a| a.into()).collect(),
                head.k.iter().map(|&a| a.into()).collect(),
                head.v.iter().map(|&a| a.into()).collect(),
            );
            let scores: Vec<f64> = (0..t)
                .flat_map(|i| {
                    let (q, k) = (&q, &k);
                    (0..t).map(move |j| (0..dk).map(|c| q[i * dk + c] * k[j * dk + c]).sum::<f64>() / (dk as f64).sqrt())
                })
                .collect();
            close(&format!("head {h} scores"), &head.scores, &scores, 1e-5);
            let weights: Vec<f64> = scores.chunks(t).flat_map(softmax).collect();
            close(&format!("head {h} weights"), &head.weights, &weights, 1e-5);
            for row in head.weights.chunks(t) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5, "head {h}: a row of weights sums to 1");
            }
            let out: Vec<f64> = (0..t)
                .flat_map(|i| {
                    let (w, v) = (&weights, &v);
                    (0..dk).map(move |c| (0..t).map(|j| w[i * t + j] * v[j * dk + c]).sum::<f64>())
                })
                .collect();
            close(&format!("head {h} A V"), &head.out, &out, 1e-5);
            for i in 0..t {
                concat[i * DIM + h * dk..i * DIM + (h + 1) * dk].copy_from_slice(&out[i * dk..(i + 1) * dk]);
            }
        }
        // The output: the heads concatenated through the seeded projection.
        let options = BlockOptions { heads: Some(heads), ..Default::default() };
        let weights = seeded_weights(BlockKind::Mhsa, DIM, &options, WEIGHT_SEED).unwrap();
        let (pw, pb) = (weights.get("proj.weight").unwrap().data(), weights.get("proj.bias").unwrap().data());
        let output: Vec<f64> = (0..t)
            .flat_map(|i| {
                let concat = &concat;
                (0..DIM).map(move |o| f64::from(pb[o]) + (0..DIM).map(|c| f64::from(pw[o * DIM + c]) * concat[i * DIM + c]).sum::<f64>())
            })
            .collect();
        close("output", &w.output, &output, 1e-5);
        assert_eq!(w.ran_on.backend, BackendKind::Cpu);
    }
}

#[test]
fn the_walkthrough_on_the_gpu_gives_the_cpu_numbers() {
    let gpu = AnyBackend::Gpu(Box::new(pollster::block_on(GpuBackend::new()).expect("a GPU adapter (lavapipe)")));
    let on_gpu = pollster::block_on(walk(&gpu, "注意力机制", 2)).unwrap();
    let on_cpu = pollster::block_on(walk(&cpu(), "注意力机制", 2)).unwrap();
    assert!(on_gpu.ran_on.backend == BackendKind::Gpu && on_gpu.ran_on.fallback.is_none(), "{}", on_gpu.ran_on);
    let pairs = [(&on_gpu.output, &on_cpu.output)]
        .into_iter()
        .chain(on_gpu.heads.iter().zip(&on_cpu.heads).flat_map(|(g, c)| [(&g.weights, &c.weights), (&g.out, &c.out)]));
    for (g, c) in pairs {
        for (a, b) in g.iter().zip(c.iter()) {
            assert!((a - b).abs() <= 1e-5 + 1e-4 * b.abs(), "{a} on the GPU against {b} on the CPU");
        }
    }
}

#[test]
fn the_walkthrough_refuses_what_it_cannot_show_in_one_line() {
    let err = |text: &str, heads| pollster::block_on(walk(&cpu(), text, heads)).unwrap_err().to_string();
    assert_eq!(err(" ", 1), "option tokens: 0 characters; type 1 to 12 (each is one token)");
    assert_eq!(err("一二三四五六七八九十百千万", 1), "option tokens: 13 characters; type 1 to 12 (each is one token)");
    assert_eq!(err("早上好", 5), "option heads: 5 heads; the walkthrough takes 1 to 4");
    assert!(tokens::block(3).is_ok(), "12 channels in 3 heads of 4");
}
