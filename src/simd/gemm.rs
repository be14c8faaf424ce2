//! 1x1 convolutions as a register-tiled, cache-blocked matrix product:
//! `out[o, p] = bias[o] + sum_c w[o, c] x[c, p] (+ residual[o, p])`, channel-major.
//!
//! The micro-kernel keeps `ROWS` output channels by two vectors of positions in registers and
//! streams the input channels through them; positions are taken in blocks whose slice of `x`
//! stays in cache while every output channel passes over it.

use super::vector::Simd;

/// Output channels per micro-tile: 4 rows x 2 vectors = 8 accumulators, which leaves registers
/// for the two input vectors and the broadcast weight on every instruction set.
const ROWS: usize = 4;
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
    let step = 2 * S::LANES;
    let block = (BLOCK_BYTES / 4 / cin.max(1)).max(step) / step * step;
    for p0 in (0..positions).step_by(block) {
        let p1 = (p0 + block).min(positions);
        let mut o = 0;
        while o + ROWS <= cout {
            tile::<S, ROWS>(s, layer, x, positions, o, p0, p1, residual, out);
            o += ROWS;
        }
        while o < cout {
            tile::<S, 1>(s, layer, x, positions, o, p0, p1, residual, out);
            o += 1;
        }
    }
}

/// Output channels `o..o + R` at positions `p0..p1`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<S: Simd, const R: usize>(
    s: S,
    layer: Dense,
    x: &[f32],
    positions: usize,
    o: usize,
    p0: usize,
    p1: usize,
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    let (cin, w) = (layer.inputs, layer.weight);
    let bias = |r: usize| layer.bias.map_or(0.0, |b| b[o + r]);
    let finish = |r: usize, p: usize, acc: S::V, out: &mut [f32]| store_row(s, acc, (o + r) * positions + p, residual, out);
    let mut p = p0;
    while p + 2 * S::LANES <= p1 {
        let mut acc = [[s.splat(0.0); 2]; R];
        for (r, row) in acc.iter_mut().enumerate() {
            *row = [s.splat(bias(r)); 2];
        }
        for c in 0..cin {
            let xs = &x[c * positions + p..];
            let (x0, x1) = (s.load(xs), s.load(&xs[S::LANES..]));
            for (r, row) in acc.iter_mut().enumerate() {
                let wv = s.splat(w[(o + r) * cin + c]);
                row[0] = s.mul_add(wv, x0, row[0]);
                row[1] = s.mul_add(wv, x1, row[1]);
            }
        }
        for (r, row) in acc.iter().enumerate() {
            finish(r, p, row[0], out);
            finish(r, p + S::LANES, row[1], out);
        }
        p += 2 * S::LANES;
    }
    if p + S::LANES <= p1 {
        let mut acc = [s.splat(0.0); R];
        for (r, a) in acc.iter_mut().enumerate() {
            *a = s.splat(bias(r));
        }
        for c in 0..cin {
            let xv = s.load(&x[c * positions + p..]);
            for (r, a) in acc.iter_mut().enumerate() {
                *a = s.mul_add(s.splat(w[(o + r) * cin + c]), xv, *a);
            }
        }
        for (r, &a) in acc.iter().enumerate() {
            finish(r, p, a, out);
        }
        p += S::LANES;
    }
    // The last positions, fewer than a vector.
    for p in p..p1 {
        for r in 0..R {
            let mut acc = bias(r);
            for c in 0..cin {
                acc += w[(o + r) * cin + c] * x[c * positions + p];
            }
            let at = (o + r) * positions + p;
            out[at] = acc + residual.map_or(0.0, |res| res[at]);
        }
    }
}

/// Writes one vector of outputs at `at`, adding the residual there.
#[inline(always)]
fn store_row<S: Simd>(s: S, acc: S::V, at: usize, residual: Option<&[f32]>, out: &mut [f32]) {
    let acc = match residual {
        Some(res) => s.add(acc, s.load(&res[at..])),
        None => acc,
    };
    s.store(&mut out[at..], acc);
}
