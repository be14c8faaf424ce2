//! 1x1 convolutions as a register-tiled, cache-blocked matrix product:
//! `out[o, p] = bias[o] + sum_c w[o, c] x[c, p] (+ residual[o, p])`, channel-major.
//!
//! Positions are taken in blocks whose slice of `x` is copied side by side first (`packed`,
//! `(C, width)`): in `x` itself consecutive channels lie `positions` floats apart, and with a
//! power-of-two feature map (64x64 = 16 KiB a channel) they all fall into the same few L1 sets
//! and evict each other. The weights are laid out once per call as panels of `(C, rows)`, so a
//! micro-kernel reads one row of `rows` weights per input channel. The micro-kernel keeps
//! `rows` output channels by two vectors of positions in registers and streams the input
//! channels through them.

use super::reduce::dot;
use super::vector::{Simd, broadcast_mul_add};

/// [`in_blocks`] over output channels: 8 rows by 2 vectors of sums on AVX-512 (32 registers),
/// 4 elsewhere.
macro_rules! row_blocks {
    ($S:ty, $n:expr, |$start:ident, $size:ident| $body:expr) => {
        if <$S>::LANES >= 16 { in_blocks!($n, 8, |$start, $size| $body) } else { in_blocks!($n, 4, |$start, $size| $body) }
    };
}

/// Bytes of `x` one position block may span (about L1 plus a little).
const BLOCK_BYTES: usize = 48 * 1024;

/// The layer: `(outputs, inputs)` weights and an optional bias.
#[derive(Clone, Copy)]
pub struct Dense<'a> {
    pub weight: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub inputs: usize,
}

#[inline(always)]
pub fn conv1x1<S: Simd>(s: S, layer: Dense, x: &[f32], positions: usize, residual: Option<&[f32]>, out: &mut [f32]) {
    let cin = layer.inputs;
    let cout = layer.weight.len() / cin;
    debug_assert_eq!(x.len(), cin * positions);
    debug_assert_eq!(out.len(), cout * positions);
    if positions < S::LANES {
        return narrow(s, layer, x, positions, residual, out);
    }
    let step = 2 * S::LANES;
    let block = (BLOCK_BYTES / 4 / cin.max(1)).max(step) / step * step;
    let panels = weight_panels::<S>(layer);
    // Packing pays where several blocks of rows read the block; one block of rows reads each
    // input once anyway.
    let mut row_block_count = 0;
    row_blocks!(S, cout, |_o, _R| row_block_count += 1);
    let mut packed = if row_block_count > 1 { vec![0.0; cin * block.min(positions)] } else { Vec::new() };
    for p0 in (0..positions).step_by(block) {
        let width = block.min(positions - p0);
        let tile = if packed.is_empty() {
            Tile { layer, inputs: x, stride: positions, offset: p0, positions, p0, width, residual }
        } else {
            let packed = &mut packed[..cin * width];
            for (dst, src) in packed.chunks_exact_mut(width).zip(x.chunks_exact(positions)) {
                dst.copy_from_slice(&src[p0..p0 + width]);
            }
            Tile { layer, inputs: packed, stride: width, offset: 0, positions, p0, width, residual }
        };
        row_blocks!(S, cout, |o, R| tile.rows::<S, R>(s, &panels[o * cin..(o + R) * cin], o, out));
    }
}

/// Fewer positions than a vector (the gates' MLPs on pooled vectors): per position, one dot
/// product along the input channels per output.
#[inline(always)]
fn narrow<S: Simd>(s: S, layer: Dense, x: &[f32], positions: usize, residual: Option<&[f32]>, out: &mut [f32]) {
    let cin = layer.inputs;
    let mut column = vec![0.0; cin];
    for p in 0..positions {
        for (c, v) in column.iter_mut().enumerate() {
            *v = x[c * positions + p];
        }
        for (o, w) in layer.weight.chunks_exact(cin).enumerate() {
            let at = o * positions + p;
            let bias = layer.bias.map_or(0.0, |b| b[o]);
            out[at] = bias + dot(s, w, &column) + residual.map_or(0.0, |r| r[at]);
        }
    }
}

/// The weights as the micro-kernels read them: for each block of [`row_blocks`], a
/// `(C, rows)` panel.
fn weight_panels<S: Simd>(layer: Dense) -> Vec<f32> {
    let cin = layer.inputs;
    let cout = layer.weight.len() / cin;
    let mut panels = vec![0.0; cout * cin];
    let mut transpose = |o: usize, rows: usize| {
        let panel = &mut panels[o * cin..(o + rows) * cin];
        for (c, dst) in panel.chunks_exact_mut(rows).enumerate() {
            for (r, d) in dst.iter_mut().enumerate() {
                *d = layer.weight[(o + r) * cin + c];
            }
        }
    };
    row_blocks!(S, cout, |o, R| transpose(o, R));
    panels
}

/// One block of positions `p0..p0 + width`.
struct Tile<'a> {
    layer: Dense<'a>,
    /// The block's inputs: channel `c` at `inputs[c * stride + offset..][..width]` (packed, or
    /// `x` itself).
    inputs: &'a [f32],
    stride: usize,
    offset: usize,
    positions: usize,
    p0: usize,
    width: usize,
    residual: Option<&'a [f32]>,
}

impl Tile<'_> {
    /// Output channels `o..o + R` over the block, from their `(C, R)` weight panel.
    #[inline(always)]
    fn rows<S: Simd, const R: usize>(&self, s: S, panel: &[f32], o: usize, out: &mut [f32]) {
        let bias: [f32; R] = std::array::from_fn(|r| self.layer.bias.map_or(0.0, |b| b[o + r]));
        let (width, offset) = (self.width, self.offset);
        let channels = || self.inputs.chunks_exact(self.stride);
        let mut p = 0;
        while p + 2 * S::LANES <= width {
            let mut acc: [[S::V; 2]; R] = std::array::from_fn(|r| [s.splat(bias[r]); 2]);
            for (xs, w) in channels().zip(panel.chunks_exact(R)) {
                let xs = &xs[offset + p..offset + p + 2 * S::LANES];
                let w: &[f32; R] = w.try_into().expect("R weights");
                broadcast_mul_add(s, &mut acc, [s.load(xs), s.load(&xs[S::LANES..])], w);
            }
            for (r, row) in acc.iter().enumerate() {
                self.store(s, row[0], o + r, p, out);
                self.store(s, row[1], o + r, p + S::LANES, out);
            }
            p += 2 * S::LANES;
        }
        if p + S::LANES <= width {
            let mut acc: [S::V; R] = std::array::from_fn(|r| s.splat(bias[r]));
            for (xs, w) in channels().zip(panel.chunks_exact(R)) {
                let xv = s.load(&xs[offset + p..offset + p + S::LANES]);
                for (a, &w) in acc.iter_mut().zip(w) {
                    *a = s.mul_add(s.splat(w), xv, *a);
                }
            }
            for (r, &a) in acc.iter().enumerate() {
                self.store(s, a, o + r, p, out);
            }
            p += S::LANES;
        }
        // The last positions, fewer than a vector.
        for p in p..width {
            for (r, &b) in bias.iter().enumerate() {
                let sum: f32 = channels().zip(panel.chunks_exact(R)).map(|(xs, w)| w[r] * xs[offset + p]).sum();
                let at = (o + r) * self.positions + self.p0 + p;
                out[at] = b + sum + self.residual.map_or(0.0, |res| res[at]);
            }
        }
    }

    /// Writes one vector of output channel `o` at block position `p`, adding the residual.
    #[inline(always)]
    fn store<S: Simd>(&self, s: S, acc: S::V, o: usize, p: usize, out: &mut [f32]) {
        let at = o * self.positions + self.p0 + p;
        let acc = match self.residual {
            Some(res) => s.add(acc, s.load(&res[at..])),
            None => acc,
        };
        s.store(&mut out[at..], acc);
    }
}
