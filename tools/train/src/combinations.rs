//! Every on/off combination of one trained network's blocks, evaluated on the held-out scenes:
//! the accuracy and, where CBAM is on, how much more its spatial gate weighs the object than the
//! ground. With block dropout in training every combination is a network that was trained; the
//! README's table reads its fourteen rows (all on, all off, each block alone, each left out) from
//! here.

use attention_playground::BlockKind;
use candle_core::{D, Result};

use crate::data::Dataset;
use crate::net::Net;

/// One combination's held-out figures.
pub struct Combination {
    pub on: Vec<BlockKind>,
    pub accuracy: f64,
    /// CBAM's mean spatial gate on cells at least half inside the object over its mean on the
    /// others, averaged over the scenes (as `scenes::inside_outside_ratio`); `None` without CBAM.
    pub cbam_ratio: Option<f64>,
}

/// Every subset of `net.blocks` (in the network's order), all on first and all off last.
pub fn all_subsets(blocks: &[BlockKind]) -> Vec<Vec<BlockKind>> {
    let n = blocks.len();
    (0..1usize << n).rev().map(|mask| blocks.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, &k)| k).collect()).collect()
}

/// The held-out figures of the blocks `on`.
pub fn evaluate(net: &Net, set: &Dataset, on: &[BlockKind], batch: usize) -> Result<Combination> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let (mut correct, mut ratios) = (0usize, Vec::new());
    let cells = (set.side / 2) * (set.side / 2);
    for chunk in indices.chunks(batch) {
        let (logits, spatial) = net.forward_on(&set.features_of(chunk)?, on)?;
        let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        correct += predicted.iter().zip(chunk).filter(|(p, i)| **p == set.labels[**i]).count();
        if let Some(spatial) = spatial {
            let gate = candle_nn::ops::sigmoid(&spatial)?.flatten_all()?.to_vec1::<f32>()?;
            for (scene, map) in chunk.iter().zip(gate.chunks_exact(cells)) {
                let coverage = &set.exact_coverage[scene * cells..(scene + 1) * cells];
                ratios.extend(attention_playground::scenes::ratio_of_means(map, |cell| coverage[cell] >= 0.5));
            }
        }
    }
    let cbam_ratio = (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64);
    Ok(Combination { on: on.to_vec(), accuracy: correct as f64 / set.len() as f64, cbam_ratio })
}

/// The README's rows: every block on, every block off, each block alone, each block left out.
pub fn table_rows(blocks: &[BlockKind], all: &[Combination]) -> Vec<(String, usize)> {
    let find = |on: &[BlockKind]| all.iter().position(|c| c.on.len() == on.len() && on.iter().all(|k| c.on.contains(k)));
    let mut rows = Vec::new();
    let mut push = |name: String, on: Vec<BlockKind>| {
        if let Some(i) = find(&on) {
            rows.push((name, i));
        }
    };
    push("every block on".into(), blocks.to_vec());
    push("every block off".into(), vec![]);
    for &k in blocks {
        push(format!("{} alone", k.name()), vec![k]);
    }
    for &k in blocks {
        push(format!("without {}", k.name()), blocks.iter().copied().filter(|&b| b != k).collect());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subset_once_all_on_first_and_all_off_last() {
        let blocks = [BlockKind::Se, BlockKind::Cbam, BlockKind::Mhsa];
        let subsets = all_subsets(&blocks);
        assert_eq!(subsets.len(), 8);
        assert_eq!(subsets[0], blocks.to_vec());
        assert_eq!(subsets[7], Vec::<BlockKind>::new());
        let mut seen: Vec<Vec<BlockKind>> = subsets.clone();
        seen.dedup();
        assert_eq!(seen.len(), 8);
        let fake: Vec<Combination> = subsets.into_iter().map(|on| Combination { on, accuracy: 0.0, cbam_ratio: None }).collect();
        let rows = table_rows(&blocks, &fake);
        assert_eq!(rows.len(), 2 + 2 * blocks.len(), "all on, all off, each alone, each left out");
        assert_eq!(fake[rows[3].1].on, vec![BlockKind::Cbam], "{}", rows[3].0);
        assert_eq!(fake[rows[5].1].on, vec![BlockKind::Cbam, BlockKind::Mhsa], "{}", rows[5].0);
    }
}
