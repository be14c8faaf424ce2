//! Attention over branches: a softmax, per channel, across `R` feature maps of the same shape,
//! which then sum with those weights. Two timm layers compute it:
//!
//! - **Selective Kernel** (Li et al. 2019, "Selective Kernel Networks"; timm's
//!   `SelectiveKernelAttn` in `layers/selective_kernel.py`): the branches are the `paths`, 3x3
//!   convolutions of growing dilation; `fc_reduce` (no bias), `bn`, ReLU, `fc_select` to `R * C`
//!   logits viewed as `(R, C)`.
//! - **Split Attention** (Zhang et al. 2020, "ResNeSt"; timm's `SplitAttn` in
//!   `layers/split_attn.py`): the branches are the `radix` groups of one grouped convolution's
//!   output; `fc1` (bias, `groups` = cardinality), `bn1`, ReLU, `fc2` (bias, grouped) to `R * C`
//!   logits viewed as `(cardinality, R, C / cardinality)`; `RadixSoftmax` takes the softmax
//!   across `R`, or a sigmoid where `R` is 1.
//!
//! Both squeeze the same way: the branches summed, then each channel's mean over the positions.
//! Here the weights are held in one layout: the fully connected layers dense (a grouped 1x1
//! convolution becomes a block-diagonal matrix, BatchNorm folded in) and the select logits
//! branch-major, `r * C + c`, whatever the reference's view.
//!
//! Switched off, the block weighs every branch the same, `1 / R` (a plain average of the
//! branches; `1` for a one-branch Split Attention, the identity), so the network keeps its shape.

use crate::error::{Error, Result};
use crate::layers::{Activation, Linear, WeightId};
use crate::simd::Kernels;

/// The weights of one branch-attention layer.
#[derive(Debug, Clone)]
pub struct BranchAttention {
    /// `R`, the number of branches (SK's paths, ResNeSt's radix).
    pub branches: usize,
    /// `C`, the channels of each branch and of the output.
    pub channels: usize,
    /// `C -> attn`, the reduction (`fc_reduce` / `fc1`) with its BatchNorm folded in.
    pub reduce: Linear,
    /// Between the two layers (ReLU in both timm layers).
    pub act: Activation,
    /// `attn -> R * C`, rows branch-major (`fc_select` / `fc2`).
    pub select: Linear,
    /// Softmax across the branches; where false (a one-branch Split Attention), a sigmoid.
    pub softmax: bool,
    /// `reduce` taking the `R * C` channel means of the branches: its weights repeated once per
    /// branch, so the sum over the branches happens inside the product (the GPU's squeeze).
    pub(crate) reduce_over_branches: Linear,
}

/// What [`BranchAttention::forward`] gives besides the output: the steps a reader follows.
#[derive(Debug, Clone, Default)]
pub struct BranchSteps {
    /// `(C)`: the mean of each channel of the summed branches.
    pub squeeze: Vec<f32>,
    /// `(attn)`: after the reduction and its activation.
    pub hidden: Vec<f32>,
    /// `(R * C)`, branch-major: the select layer's logits.
    pub logits: Vec<f32>,
    /// `(R * C)`, branch-major: the weights each channel gives each branch.
    pub weights: Vec<f32>,
}

impl BranchAttention {
    /// The layer from a reduction `reduce` `(attn, C)` and a select layer whose output rows are
    /// in the reference's order; `view_groups` is SplitAttn's cardinality (its logits are viewed
    /// `(cardinality, R, C / cardinality)`), 0 for SK's `(R, C)`.
    ///
    /// Errors: [`Error::Checkpoint`] where the shapes do not fit together.
    pub fn new(branches: usize, reduce: Linear, act: Activation, select: Linear, softmax: bool, view_groups: usize) -> Result<Self> {
        let channels = reduce.inputs;
        let attn = reduce.bias.len();
        if branches == 0 || channels == 0 || select.inputs != attn || select.bias.len() != branches * channels {
            return Err(Error::Checkpoint {
                reason: format!(
                    "a branch attention of {branches} branches of {channels} channels cannot take a select layer of {} x {} after a reduction to {attn}",
                    select.bias.len(),
                    select.inputs
                ),
            });
        }
        let select = if view_groups > 1 {
            if !channels.is_multiple_of(view_groups) {
                return Err(Error::Checkpoint { reason: format!("{channels} channels do not split into {view_groups} groups") });
            }
            // Row `g * R * Cg + r * Cg + c` of the reference is row `r * C + g * Cg + c` here.
            let per = channels / view_groups;
            let order: Vec<usize> = (0..branches * channels)
                .map(|row| {
                    let (r, c) = (row / channels, row % channels);
                    (c / per) * branches * per + r * per + c % per
                })
                .collect();
            permute_rows(&select, &order)
        } else {
            select
        };
        let reduce_over_branches = Linear {
            id: WeightId::fresh(),
            weight: reduce.weight.chunks_exact(channels).flat_map(|row| row.repeat(branches)).collect(),
            bias: reduce.bias.clone(),
            inputs: branches * channels,
        };
        Ok(BranchAttention { branches, channels, reduce, act, select, softmax, reduce_over_branches })
    }

    /// The output `(C, positions)` from the branches `x` `(R * C, positions)` (branch `r` is
    /// channels `r * C ..`), and the steps; `uniform` weighs every branch `1 / R` (the block
    /// switched off; the steps are then empty). NaN propagates as in PyTorch.
    pub fn forward(&self, x: &[f32], positions: usize, uniform: bool) -> (Vec<f32>, BranchSteps) {
        let (r, c) = (self.branches, self.channels);
        let (weights, steps) = if uniform {
            (vec![1.0 / r as f32; r * c], BranchSteps::default())
        } else {
            let steps = self.steps(x, positions);
            (steps.weights.clone(), steps)
        };
        let mut y = vec![0.0f32; c * positions];
        for branch in 0..r {
            let planes = &x[branch * c * positions..][..c * positions];
            for (ch, (out, plane)) in y.chunks_exact_mut(positions).zip(planes.chunks_exact(positions)).enumerate() {
                let w = weights[branch * c + ch];
                out.iter_mut().zip(plane).for_each(|(o, v)| *o += w * v);
            }
        }
        (y, steps)
    }

    /// [`BranchAttention::forward`] on the chosen CPU kernels: the plain code for the reference;
    /// on the SIMD kernels the two passes over the branches, the squeeze's channel means and the
    /// weighing, vectorised (the few hundred values between them stay plain).
    pub fn forward_on(&self, kernels: Kernels, x: &[f32], positions: usize, uniform: bool) -> (Vec<f32>, BranchSteps) {
        if kernels == Kernels::Reference {
            return self.forward(x, positions, uniform);
        }
        let (r, c) = (self.branches, self.channels);
        let (weights, steps) = if uniform {
            (vec![1.0 / r as f32; r * c], BranchSteps::default())
        } else {
            let steps = self.steps_from_means(&kernels.channel_means(x, positions));
            (steps.weights.clone(), steps)
        };
        let weighed = kernels.apply_gates(x, &weights, None, positions);
        let mut branches = weighed.chunks_exact(c * positions);
        let mut y = branches.next().map(<[f32]>::to_vec).unwrap_or_default();
        for branch in branches {
            y.iter_mut().zip(branch).for_each(|(o, v)| *o += v);
        }
        (y, steps)
    }

    /// The squeeze, the hidden units, the logits and the weights for the branches `x`.
    pub fn steps(&self, x: &[f32], positions: usize) -> BranchSteps {
        self.steps_from_means(&crate::layers::global_average(x, positions))
    }

    /// [`BranchAttention::steps`] from the `R * C` channel means of the branches.
    fn steps_from_means(&self, means: &[f32]) -> BranchSteps {
        let (r, c) = (self.branches, self.channels);
        let squeeze: Vec<f32> = (0..c).map(|ch| (0..r).map(|b| means[b * c + ch]).sum()).collect();
        let mut hidden = self.reduce.forward(&squeeze);
        self.act.apply_in_place(&mut hidden);
        let logits = self.select.forward(&hidden);
        let mut weights = logits.clone();
        if self.softmax {
            for ch in 0..c {
                let max = (0..r).map(|b| logits[b * c + ch]).fold(f32::NEG_INFINITY, crate::kernels::activation::max_nan);
                let sum: f32 = (0..r).map(|b| (logits[b * c + ch] - max).exp()).sum();
                (0..r).for_each(|b| weights[b * c + ch] = (logits[b * c + ch] - max).exp() / sum);
            }
        } else {
            Activation::Sigmoid.apply_in_place(&mut weights);
        }
        BranchSteps { squeeze, hidden, logits, weights }
    }

    /// Refuses branches `x` of `channels` that are not `R * C`.
    pub fn check(&self, channels: usize) -> Result<()> {
        if channels != self.branches * self.channels {
            return Err(Error::Checkpoint {
                reason: format!(
                    "the branch attention takes {} branches of {} channels but receives {channels}",
                    self.branches, self.channels
                ),
            });
        }
        Ok(())
    }
}

/// A dense `(out, in)` layer from a 1x1 convolution of `groups` groups, weight
/// `(out, in / groups)`: block-diagonal, zeros between the groups (with one group, the weight as
/// it is).
pub fn dense_from_grouped(weight: &[f32], bias: Vec<f32>, inputs: usize, groups: usize) -> Result<Linear> {
    let out = bias.len();
    if groups == 0 || !inputs.is_multiple_of(groups) || !out.is_multiple_of(groups) || weight.len() * groups != out * inputs {
        return Err(Error::Checkpoint {
            reason: format!("a 1x1 convolution of {groups} groups from {inputs} to {out} channels holds {} weights", weight.len()),
        });
    }
    let (per_in, per_out) = (inputs / groups, out / groups);
    let mut dense = vec![0.0f32; out * inputs];
    for (o, row) in weight.chunks_exact(per_in).enumerate() {
        let g = o / per_out;
        dense[o * inputs + g * per_in..][..per_in].copy_from_slice(row);
    }
    Ok(Linear { id: WeightId::fresh(), weight: dense, bias, inputs })
}

/// `layer` with output row `i` taken from row `order[i]`.
fn permute_rows(layer: &Linear, order: &[usize]) -> Linear {
    let n = layer.inputs;
    Linear {
        id: WeightId::fresh(),
        weight: order.iter().flat_map(|&o| layer.weight[o * n..][..n].iter().copied()).collect(),
        bias: order.iter().map(|&o| layer.bias[o]).collect(),
        inputs: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(out: usize, inputs: usize, seed: f32) -> Linear {
        Linear {
            id: WeightId::fresh(),
            weight: (0..out * inputs).map(|i| ((i as f32 + seed) * 0.37).sin()).collect(),
            bias: (0..out).map(|i| ((i as f32 - seed) * 0.11).cos() * 0.1).collect(),
            inputs,
        }
    }

    /// Split Attention's `(cardinality, R, Cg)` view read straight from the reference's rows
    /// gives the same weights as the branch-major rows the layer keeps.
    #[test]
    fn a_grouped_view_is_read_as_the_reference_reads_it() {
        let (r, c, groups, attn, positions) = (2, 4, 2, 3, 5);
        let select = linear(r * c, attn, 1.0);
        let layer = BranchAttention::new(r, linear(attn, c, 2.0), Activation::Relu, select.clone(), true, groups).unwrap();
        let x: Vec<f32> = (0..r * c * positions).map(|i| (i as f32 * 0.7).sin()).collect();
        let steps = layer.steps(&x, positions);
        let reference = select.forward(&steps.hidden);
        let per = c / groups;
        for g in 0..groups {
            for b in 0..r {
                for k in 0..per {
                    let ch = g * per + k;
                    let logit = reference[g * r * per + b * per + k];
                    let sum: f32 = (0..r).map(|q| (reference[g * r * per + q * per + k] - logit).exp()).sum();
                    assert!((steps.weights[b * c + ch] - 1.0 / sum).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn switched_off_it_averages_the_branches() {
        let layer = BranchAttention::new(2, linear(3, 2, 0.0), Activation::Relu, linear(4, 3, 1.0), true, 0).unwrap();
        let (y, steps) = layer.forward(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 2, true);
        assert_eq!(y, vec![3.0, 4.0, 5.0, 6.0]);
        assert!(steps.weights.is_empty());
    }

    #[test]
    fn a_nan_branch_gives_nan_as_pytorch_does() {
        let layer = BranchAttention::new(2, linear(3, 2, 0.0), Activation::Relu, linear(4, 3, 1.0), true, 0).unwrap();
        let (y, _) = layer.forward(&[f32::NAN, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 2, false);
        assert!(y.iter().all(|v| v.is_nan()), "{y:?}");
    }

    #[test]
    fn a_grouped_1x1_is_block_diagonal() {
        let dense = dense_from_grouped(&[1.0, 2.0, 3.0, 4.0], vec![0.0, 0.0], 4, 2).unwrap();
        assert_eq!(dense.weight, vec![1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0]);
        assert!(dense_from_grouped(&[1.0; 3], vec![0.0, 0.0], 4, 2).is_err());
    }
}
