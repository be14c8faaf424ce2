//! The shipped network (src/model/trained.safetensors, written by `tools/train`): it loads and runs
//! through every block on the CPU path, it does on held-out scenes what the README's ablation
//! table says, CBAM's spatial gate falls on the object, and on the sample photos the maps carry
//! information (they are not constant, and they differ between photos).
#![cfg(not(target_arch = "wasm32"))]

use attention_playground::model::{Model, ModelConfig, ModelRun, channel_names, image};
use attention_playground::scenes::{self, CLASSES};
use attention_playground::{AnyBackend, BackendChoice, BlockKind, Tensor};

/// The scenes' side at training time (tools/train's default `--side`).
const TRAINING_SIDE: usize = 96;

/// How much higher, at least, CBAM's gate is on a sample photo's subject than elsewhere (the
/// shipped weights on the rocket: see the test's output; README, "The default network").
const SUBJECT_RATIO: f64 = 2.0;

/// How far apart, at least, CBAM's highest and lowest channel gates are on a held-out scene, on
/// average (the shipped weights: see the test's output).
const CBAM_CHANNEL_SPREAD: f32 = 0.1;

fn cpu() -> AnyBackend {
    pollster::block_on(AnyBackend::select(BackendChoice::Cpu)).unwrap()
}

fn run(model: &Model, backend: &AnyBackend, input: &Tensor) -> ModelRun {
    pollster::block_on(model.run(backend, input, &|| 0.0)).unwrap()
}

/// A sample photo as the playground sees it: decoded, scaled to the working size, RGB in [0, 1].
fn sample(name: &str) -> Tensor {
    let path = format!("{}/www/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    let photo = ::image::open(&path).unwrap().to_rgba8();
    let (w, h) = image::working_size(photo.width() as usize, photo.height() as usize);
    let scaled = ::image::imageops::resize(&photo, w as u32, h as u32, ::image::imageops::FilterType::Triangle);
    image::rgba_to_input(scaled.as_raw(), w, h).unwrap()
}

fn spread(values: &[f32]) -> f32 {
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    hi - lo
}

/// The README's held-out accuracy for a variant, from its ablation table.
fn readme_accuracy(variant: &str) -> f64 {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let row = readme
        .lines()
        .find(|l| l.starts_with(&format!("| {variant} |")))
        .unwrap_or_else(|| panic!("README has no ablation row for {variant}"));
    let cell = row.split('|').map(str::trim).find(|c| c.ends_with('%')).unwrap();
    cell.trim_end_matches('%').parse::<f64>().unwrap() / 100.0
}

#[test]
fn the_held_out_accuracy_is_the_readme_s() {
    let model = Model::trained(&ModelConfig::all_trained()).unwrap();
    let backend = cpu();
    let held_out = 2000;
    let correct = (0..held_out)
        .filter(|&i| {
            let scene = scenes::generate(scenes::HELD_OUT_SEED, i, TRAINING_SIDE);
            run(&model, &backend, &scene.image).prediction.top() == scene.label
        })
        .count();
    let accuracy = correct as f64 / held_out as f64;
    println!("held-out accuracy of the shipped network: {:.1}%", 100.0 * accuracy);
    // The same 2000 scenes as tools/train; the table rounds to 0.1%.
    assert!((accuracy - readme_accuracy("all")).abs() <= 0.0015, "engine {accuracy}, README {}", readme_accuracy("all"));
    assert!(accuracy > 2.0 / CLASSES.len() as f64, "far above chance");
}

#[test]
fn cbam_s_spatial_gate_weighs_the_object_more_than_the_ground() {
    let model = Model::trained(&ModelConfig::all_trained()).unwrap();
    let backend = cpu();
    for side in [TRAINING_SIDE, image::WORKING_SIDE] {
        let ratios: Vec<f64> = (0..100)
            .filter_map(|i| {
                let scene = scenes::generate(scenes::HELD_OUT_SEED, i, side);
                let result = run(&model, &backend, &scene.image);
                scenes::inside_outside_ratio(&result.stage(BlockKind::Cbam).unwrap().output.maps["spatial"], &scene.mask, side)
            })
            .collect();
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        let above = ratios.iter().filter(|&&r| r > 1.0).count();
        println!("{side} px scenes: CBAM gate inside / outside the object {mean:.3} (mean of {}), above 1 in {above}", ratios.len());
        assert!(ratios.len() >= 90, "most scenes have cells inside and outside the object");
        // The shipped weights give 3.74 at 96 px and 3.80 at 224 (the network computes at 96 px
        // either way); issue 17 asked for at least 1.5.
        assert!(mean > 1.5, "{side} px: mean ratio {mean}");
        assert!(above * 10 >= ratios.len() * 9, "{side} px: only {above} of {} scenes above 1", ratios.len());
    }
}

#[test]
fn every_block_runs_on_the_sample_photos_and_its_maps_carry_information() {
    let model = Model::trained(&ModelConfig::all_trained()).unwrap();
    let backend = cpu();
    let runs: Vec<ModelRun> = ["cat.jpg", "astronaut.jpg", "rocket.jpg"].iter().map(|name| run(&model, &backend, &sample(name))).collect();
    for result in &runs {
        assert_eq!(result.stages.len(), 6);
        for stage in &result.stages {
            assert!(stage.output.y.data().iter().all(|v| v.is_finite()), "{:?}", stage.kind);
            for (name, map) in &stage.output.maps {
                // Relative to the map's mean: GC's context weights are a softmax over ~2000 positions.
                let mean = map.data().iter().map(|v| v.abs()).sum::<f32>() / map.data().len() as f32;
                let relative = spread(map.data()) / mean;
                assert!(relative > 0.01, "{:?} {name} is constant (spread {relative} of its mean)", stage.kind);
            }
        }
        let p = &result.prediction.probabilities;
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    // The channel weights differ from photo to photo, on the named channels too. (Not GC's: at 16
    // channels timm's GC has a hidden width of 2, and a LayerNorm over two values always gives
    // (-1, 1) or (1, -1) before its affine map, so its gate can take only two values; its context
    // map is what varies.)
    for kind in [BlockKind::Se, BlockKind::Eca, BlockKind::Cbam] {
        let gates: Vec<&[f32]> = runs.iter().map(|r| r.stage(kind).unwrap().output.maps["channel"].data()).collect();
        let largest = gates[0].iter().zip(gates[2]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(largest > 0.01, "{kind:?}: cat and rocket gates differ by at most {largest}");
    }
    for kind in [BlockKind::Se, BlockKind::Eca] {
        assert_eq!(channel_names(kind).map(|n| n.len()), Some(16));
    }
}

/// CBAM's channel MLP is alive: its gate tells channels apart on held-out scenes with CBAM alone
/// and with every block on. (With timm's default hidden width, 2 units for 32 channels, both units
/// died in the block-dropout training and the gate was 0.5 for every channel on every input;
/// `model::CBAM_RD` widens it to 8.)
#[test]
fn cbam_s_channel_gate_tells_channels_apart() {
    let backend = cpu();
    for config in [only(&[BlockKind::Cbam]), ModelConfig::all_trained()] {
        let model = Model::trained(&config).unwrap();
        let spreads: Vec<f32> = (0..50)
            .map(|i| {
                let scene = scenes::generate(scenes::HELD_OUT_SEED, i, TRAINING_SIDE);
                spread(run(&model, &backend, &scene.image).stage(BlockKind::Cbam).unwrap().output.maps["channel"].data())
            })
            .collect();
        let mean = spreads.iter().sum::<f32>() / spreads.len() as f32;
        println!("{} blocks on: CBAM's channel gate spans {mean:.3} on average over its 32 channels", config.blocks.len());
        assert!(mean > CBAM_CHANNEL_SPREAD, "CBAM's channel gate spans only {mean} ({} blocks on)", config.blocks.len());
    }
}

/// The mean of a `(1, h, w)` map over the cells whose centres lie in `subject` (fractions of the
/// photo: left, top, right, bottom) over its mean on the other cells.
fn subject_ratio(map: &Tensor, subject: [f32; 4]) -> f64 {
    let shape = map.shape();
    let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let in_subject = |cell: usize| {
        let (u, v) = (((cell % w) as f32 + 0.5) / w as f32, ((cell / w) as f32 + 0.5) / h as f32);
        (subject[0]..subject[2]).contains(&u) && (subject[1]..subject[3]).contains(&v)
    };
    scenes::ratio_of_means(map.data(), in_subject).expect("cells inside and outside the subject")
}

#[test]
fn on_the_sample_photos_cbam_s_spatial_gate_follows_the_subject() {
    // A box drawn by hand around the rocket (fractions of the photo: left, top, right, bottom),
    // with CBAM alone and with every block on. The rocket is narrower than a cell of the 12 x 8
    // grid CBAM works on at the network's 96 px; the gate's two brightest columns are on it. The
    // cat fills the frame; on the astronaut the gate is high almost everywhere (1.06 times as high
    // on the suit as elsewhere: README, "The default network").
    let subjects = [("rocket.jpg", "the rocket", [0.45, 0.28, 0.56, 0.95])];
    let backend = cpu();
    for config in [only(&[BlockKind::Cbam]), ModelConfig::all_trained()] {
        let model = Model::trained(&config).unwrap();
        for (photo, subject, bounds) in subjects {
            let result = run(&model, &backend, &sample(photo));
            let ratio = subject_ratio(&result.stage(BlockKind::Cbam).unwrap().output.maps["spatial"], bounds);
            println!("{photo}, {} blocks on: CBAM gate on {subject} / elsewhere {ratio:.2}", config.blocks.len());
            assert!(ratio > SUBJECT_RATIO, "{photo}: the gate on {subject} is only {ratio:.2} times the rest");
        }
    }
}

#[test]
fn switching_blocks_off_changes_the_features_and_the_prediction() {
    let backend = cpu();
    let photo = sample("astronaut.jpg");
    let all = run(&Model::trained(&ModelConfig::all_trained()).unwrap(), &backend, &photo);
    let none = run(&Model::trained(&ModelConfig::default()).unwrap(), &backend, &photo);
    let moved = all.prediction.probabilities.iter().zip(&none.prediction.probabilities).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(moved > 0.02, "the prediction moves by {moved} with every block off");
    // The report's baseline is that same all-off network.
    let model = Model::trained(&ModelConfig::all_trained()).unwrap();
    let baseline = pollster::block_on(model.predict_without_blocks(&backend, &all)).unwrap();
    for (a, b) in baseline.probabilities.iter().zip(&none.prediction.probabilities) {
        assert!((a - b).abs() < 1e-6);
    }
}

/// What the page compares a run with blocks off against: the configuration with every block on
/// keeps the options the person chose for the blocks that are on (and the trained ones for the
/// rest), and its run from another configuration's stem features is that configuration's own run
/// of the photo (the stem has no weights).
#[test]
fn a_run_with_blocks_off_is_compared_with_every_block_on_from_the_same_stem_features() {
    use attention_playground::blocks::{BlockOptions, Pairwise};
    let backend = cpu();
    let dot = BlockOptions { pairwise: Some(Pairwise::DotProduct), ..Default::default() };
    let partial = ModelConfig { blocks: vec![(BlockKind::Cbam, BlockOptions::default()), (BlockKind::NonLocal, dot.clone())] };
    let all = Model::all_on(&partial);
    assert_eq!(all.blocks.len(), 6);
    assert_eq!(all.blocks.iter().find(|(k, _)| *k == BlockKind::NonLocal).unwrap().1, dot, "the chosen options stay");
    assert_eq!(Model::all_on(&ModelConfig::all_trained()), ModelConfig::all_trained());
    let photo = sample("astronaut.jpg");
    let off_run = run(&Model::trained(&partial).unwrap(), &backend, &photo);
    let everything = Model::trained(&all).unwrap();
    let from_features = pollster::block_on(everything.run_from_features(&backend, off_run.features.clone(), 0.0, &|| 0.0)).unwrap();
    let whole = run(&everything, &backend, &photo);
    assert_eq!(from_features.prediction, whole.prediction);
    assert_ne!(from_features.prediction, off_run.prediction, "switching four blocks off changes the prediction");
}

/// The configuration with only `on` switched on, each block with the options it was trained with.
fn only(on: &[BlockKind]) -> ModelConfig {
    ModelConfig { blocks: on.iter().map(|&k| (k, attention_playground::model::trained_options(k))).collect() }
}

/// Block dropout made every on/off combination a network that was trained (issue 17): on held-out
/// scenes, every block on names at least 95 %, every block off and each block alone at least
/// 90 %, and wherever CBAM is on its spatial gate is at least 1.5 times as high inside the object
/// as outside it.
#[test]
fn every_block_on_every_block_off_and_each_block_alone_are_trained_networks() {
    let backend = cpu();
    let scenes: Vec<scenes::Scene> = (0..500).map(|i| scenes::generate(scenes::HELD_OUT_SEED, i, TRAINING_SIDE)).collect();
    let mut configurations: Vec<(String, Vec<BlockKind>, f64)> = vec![
        ("every block on".into(), ModelConfig::all_trained().blocks.iter().map(|(k, _)| *k).collect(), 0.95),
        ("every block off".into(), vec![], 0.90),
    ];
    for (kind, _) in ModelConfig::all_trained().blocks {
        configurations.push((format!("{} alone", kind.name()), vec![kind], 0.90));
    }
    for (name, on, threshold) in configurations {
        let model = Model::trained(&only(&on)).unwrap();
        let (mut correct, mut ratios) = (0, Vec::new());
        for scene in &scenes {
            let result = run(&model, &backend, &scene.image);
            correct += usize::from(result.prediction.top() == scene.label);
            if let Some(stage) = result.stage(BlockKind::Cbam) {
                ratios.extend(scenes::inside_outside_ratio(&stage.output.maps["spatial"], &scene.mask, TRAINING_SIDE));
            }
        }
        let accuracy = correct as f64 / scenes.len() as f64;
        println!("{name}: held-out accuracy {:.1}%", 100.0 * accuracy);
        assert!(accuracy >= threshold, "{name}: {accuracy} on held-out scenes, below {threshold}");
        if !ratios.is_empty() {
            let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
            println!("{name}: CBAM gate inside / outside {mean:.2}");
            assert!(mean >= 1.5, "{name}: CBAM's gate only {mean} times as high on the object");
        }
    }
}

/// A plain scene (one saturated or white shape on a flat or smoothly varying grey ground, any
/// size and place) is named right, with every block on and with every block off, at the training
/// size and at the page's.
#[test]
fn plain_scenes_are_named_right() {
    let backend = cpu();
    for on in [ModelConfig::all_trained().blocks.iter().map(|(k, _)| *k).collect::<Vec<_>>(), vec![]] {
        let model = Model::trained(&only(&on)).unwrap();
        for side in [TRAINING_SIDE, image::WORKING_SIDE] {
            let wrong: Vec<String> = (0..24)
                .filter_map(|i| {
                    let scene = scenes::generate_plain(scenes::HELD_OUT_SEED, i, side);
                    let top = run(&model, &backend, &scene.image).prediction.top();
                    (top != scene.label).then(|| format!("scene {i}: {} named {}", CLASSES[scene.label], CLASSES[top]))
                })
                .collect();
            assert!(wrong.is_empty(), "{} blocks on, {side} px: {wrong:?}", on.len());
        }
        // And cluttered scenes at the page's size (the network sees them at its training size).
        let correct = (0..200)
            .filter(|&i| {
                let scene = scenes::generate(scenes::HELD_OUT_SEED, i, image::WORKING_SIDE);
                run(&model, &backend, &scene.image).prediction.top() == scene.label
            })
            .count();
        assert!(correct >= 190, "{} blocks on, 224 px cluttered scenes: {correct} of 200", on.len());
    }
}

/// Where the attention views' query starts when none is given (`report::salient_cell`): with CBAM
/// on, the cell where its spatial gate is highest; with CBAM off, the cell of the block's input
/// with the most activation. Either lies on the object (a cell it covers at least a quarter of)
/// in held-out scenes: the shipped weights give 97 and 93 of 100.
#[test]
fn the_default_query_starts_on_the_object() {
    use attention_playground::model::report::salient_cell;
    let backend = cpu();
    for (on, least) in [(ModelConfig::all_trained(), 90), (only(&[BlockKind::NonLocal, BlockKind::Mhsa]), 85)] {
        let model = Model::trained(&on).unwrap();
        let hits = (0..100)
            .filter(|&i| {
                let scene = scenes::generate(scenes::HELD_OUT_SEED, i, TRAINING_SIDE);
                let result = run(&model, &backend, &scene.image);
                let input = &result.stage(BlockKind::NonLocal).unwrap().input;
                let (x, y) = salient_cell(&result, input);
                let cells = input.shape()[3];
                scenes::mask_coverage(&scene.mask, TRAINING_SIDE, TRAINING_SIDE / cells)[y * cells + x] >= 0.25
            })
            .count();
        println!("{} blocks on: the default query on the object in {hits} of 100 held-out scenes", on.blocks.len());
        assert!(hits >= least, "{} blocks on: on the object in only {hits} of 100", on.blocks.len());
    }
}
