//! The training and held-out sets: generated scenes passed once through the engine's fixed stem
//! (it has no weights, so its features can be computed ahead of training).

use attention_playground::model::stem;
use attention_playground::scenes;
use candle_core::{Device, Result, Tensor};

/// Scene pixels per cell of CBAM's spatial map: the stem's stride, then the body's 2x2 pooling.
pub const MASK_CELL: usize = stem::STRIDE * 2;

/// One set of scenes as stem features, ready to batch.
pub struct Dataset {
    /// `len * CHANNELS * side/4 * side/4` floats, image after image.
    pub features: Vec<f32>,
    pub labels: Vec<u32>,
    /// `len * (side/8)^2` floats, the target of CBAM's spatial gate: the part of each cell of
    /// its map the object covers, in [0, 1], widened by a cell on every side (the shape is read
    /// off the object's outline, so the gate must not close on it).
    pub coverage: Vec<f32>,
    /// `len * (side/8)^2` floats: the part of each cell of CBAM's map the object covers, not
    /// widened (for the inside / outside ratio of the evaluation, as `scenes::inside_outside_ratio`).
    pub exact_coverage: Vec<f32>,
    /// The feature map's side.
    pub side: usize,
}

impl Dataset {
    /// Scenes `0..len` of `seed` at `side` pixels, generated on all cores.
    pub fn generate(seed: u64, len: usize, side: usize) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = len.div_ceil(threads);
        type Part = (Vec<f32>, Vec<u32>, Vec<f32>, Vec<f32>);
        let parts: Vec<Part> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let (mut features, mut labels, mut coverage, mut exact) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                        for index in (t * chunk)..((t + 1) * chunk).min(len) {
                            let scene = scenes::generate(seed, index as u64, side);
                            features.extend_from_slice(stem::forward(&scene.image).data());
                            labels.push(scene.label as u32);
                            let cells = scenes::mask_coverage(&scene.mask, side, MASK_CELL);
                            coverage.extend(widened(&cells, side / MASK_CELL));
                            exact.extend(cells);
                        }
                        (features, labels, coverage, exact)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("scene generation does not panic")).collect()
        });
        let (mut features, mut labels, mut coverage, mut exact_coverage) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (f, l, c, e) in parts {
            features.extend(f);
            labels.extend(l);
            coverage.extend(c);
            exact_coverage.extend(e);
        }
        Self { features, labels, coverage, exact_coverage, side: side / stem::STRIDE }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The stem features of the scenes `indices`, `(B, 16, S, S)`.
    pub fn features_of(&self, indices: &[usize]) -> Result<Tensor> {
        gather(&self.features, indices, stem::CHANNELS, self.side)
    }

    /// The spatial gate's targets for the scenes `indices`, `(B, 1, S/2, S/2)`.
    pub fn coverage_of(&self, indices: &[usize]) -> Result<Tensor> {
        gather(&self.coverage, indices, 1, self.side / 2)
    }

    /// The labels of the scenes `indices`, `(B,)`.
    pub fn labels_of(&self, indices: &[usize]) -> Result<Tensor> {
        Tensor::from_vec(indices.iter().map(|&i| self.labels[i]).collect::<Vec<u32>>(), indices.len(), &Device::Cpu)
    }
}

/// The items `indices` of flat storage holding `(channels, side, side)` maps one after another,
/// as a `(B, channels, side, side)` batch.
fn gather(storage: &[f32], indices: &[usize], channels: usize, side: usize) -> Result<Tensor> {
    let item = channels * side * side;
    let mut data = Vec::with_capacity(indices.len() * item);
    for &i in indices {
        data.extend_from_slice(&storage[i * item..(i + 1) * item]);
    }
    Tensor::from_vec(data, (indices.len(), channels, side, side), &Device::Cpu)
}

/// Each cell's largest value over its 3x3 neighbourhood, on a `cells x cells` map.
fn widened(map: &[f32], cells: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; map.len()];
    for y in 0..cells {
        for x in 0..cells {
            for ny in y.saturating_sub(1)..(y + 2).min(cells) {
                for nx in x.saturating_sub(1)..(x + 2).min(cells) {
                    out[y * cells + x] = out[y * cells + x].max(map[ny * cells + nx]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_counts_the_object_s_pixels_per_cell_and_widening_takes_the_neighbourhood_s_largest() {
        // A 24 px scene, 3x3 cells of 8 px: the object fills the centre cell and half of the
        // cell to its right.
        let side = 24;
        let mask: Vec<bool> =
            (0..side * side).map(|i| (i / side, i % side)).map(|(y, x)| (8..16).contains(&y) && (8..20).contains(&x)).collect();
        let coverage = scenes::mask_coverage(&mask, side, MASK_CELL);
        assert_eq!(coverage, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0]);
        assert_eq!(widened(&coverage, 3), vec![1.0; 9]);
        let corner = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25];
        assert_eq!(widened(&corner, 3), vec![1.0, 1.0, 0.0, 1.0, 1.0, 0.25, 0.0, 0.25, 0.25]);
    }
}
