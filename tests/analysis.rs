//! GCNet's question on the trained network: the rows of a grid of queries, and their mean
//! Jensen-Shannon divergence, computed from the rows the engine gives one query at a time.
#![cfg(not(target_arch = "wasm32"))]

use attention_playground::analysis::{grid_queries, mean_pairwise_js_bits, query_independence};
use attention_playground::model::{Model, ModelConfig};
use attention_playground::{AnyBackend, BlockKind, CpuBackend, scenes};

#[test]
fn the_measure_is_the_mean_divergence_of_the_rows_the_engine_gives_for_a_grid_of_queries() {
    let model = Model::trained(&ModelConfig::all_trained()).unwrap();
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let scene = scenes::generate(scenes::HELD_OUT_SEED, 3, 96);
    let run = pollster::block_on(model.run(&backend, &scene.image, &|| 0.0)).unwrap();
    for (kind, heads) in [(BlockKind::NonLocal, 1), (BlockKind::Mhsa, 4)] {
        let measured = pollster::block_on(model.query_independence(&backend, &run, kind, 3)).unwrap();
        let input = &run.stage(kind).unwrap().input;
        let (h, w) = (input.shape()[2], input.shape()[3]);
        assert_eq!(measured.queries, grid_queries(3, h, w));
        assert_eq!(measured.js_bits.len(), heads);
        for (&query, row) in measured.queries.iter().zip(&measured.rows) {
            let direct = pollster::block_on(model.attention_row(&backend, &run, kind, query)).unwrap();
            assert_eq!(row.data(), direct.row.data(), "{kind:?}: the row of query {query}");
        }
        let keys = measured.rows[0].data().len() / heads;
        for (head, &bits) in measured.js_bits.iter().enumerate() {
            let rows: Vec<&[f32]> = measured.rows.iter().map(|r| &r.data()[head * keys..(head + 1) * keys]).collect();
            assert_eq!(bits, mean_pairwise_js_bits(&rows));
            // A trained block attends neither the same way everywhere nor only to each query itself.
            assert!(bits > 1e-4 && bits < 0.99, "{kind:?} head {head}: {bits}");
        }
    }
    // Dot-product attention divides by N': no distributions, so no divergence.
    let block = attention_playground::blocks::init::seeded_weights(BlockKind::NonLocal, 8, &dot_product(), 1).unwrap();
    let block = attention_playground::Block::load(BlockKind::NonLocal, &block, &dot_product()).unwrap();
    let x = attention_playground::Tensor::new(vec![1, 8, 4, 4], (0..128).map(|i| (i as f32 * 0.37).sin()).collect()).unwrap();
    let err = pollster::block_on(query_independence(&backend, &block, &x, 2)).unwrap_err().to_string();
    assert!(err.contains("not distributions"), "{err}");
}

fn dot_product() -> attention_playground::BlockOptions {
    attention_playground::BlockOptions { pairwise: Some(attention_playground::blocks::Pairwise::DotProduct), ..Default::default() }
}
