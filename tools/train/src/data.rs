//! The training and held-out sets: generated scenes passed once through the engine's fixed stem
//! (it has no weights, so its features can be computed ahead of training).

use attention_playground::model::stem;
use attention_playground::scenes;

/// One set of scenes as stem features, ready to batch.
pub struct Dataset {
    /// `len * CHANNELS * side/4 * side/4` floats, image after image.
    pub features: Vec<f32>,
    pub labels: Vec<u32>,
    /// The feature map's side.
    pub side: usize,
}

impl Dataset {
    /// Scenes `0..len` of `seed` at `side` pixels, generated on all cores.
    pub fn generate(seed: u64, len: usize, side: usize) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = len.div_ceil(threads);
        let parts: Vec<(Vec<f32>, Vec<u32>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let mut features = Vec::new();
                        let mut labels = Vec::new();
                        for index in (t * chunk)..((t + 1) * chunk).min(len) {
                            let scene = scenes::generate(seed, index as u64, side);
                            features.extend_from_slice(stem::forward(&scene.image).data());
                            labels.push(scene.label as u32);
                        }
                        (features, labels)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("scene generation does not panic")).collect()
        });
        let (mut features, mut labels) = (Vec::new(), Vec::new());
        for (f, l) in parts {
            features.extend(f);
            labels.extend(l);
        }
        Self { features, labels, side: side / stem::STRIDE }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn image_len(&self) -> usize {
        stem::CHANNELS * self.side * self.side
    }
}
