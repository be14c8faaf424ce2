//! Zero-padded "same" k x k convolution (CBAM's 7x7 spatial gate, the network's 3x3 layers):
//! for every tap, a shifted row of the input is multiplied into a row of the output, a vector
//! of positions at a time. Taps wholly in the padding are skipped, never computed as zeros.

use super::vector::Simd;

/// `(cin, H, W)` with `(cout, cin, k, k)` weights, stride 1, padding `k / 2`, no bias, on the
/// output rows `offset, offset + step, ...` only (the others stay zero; `(1, 0)` computes every
/// row): a strided convolution reads every `step`-th row, and need not compute the rest.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn conv2d_same_rows<S: Simd>(
    s: S,
    x: &[f32],
    weight: &[f32],
    cin: usize,
    height: usize,
    width: usize,
    k: usize,
    (step, offset): (usize, usize),
    out: &mut [f32],
) {
    let pad = (k / 2) as isize;
    let plane = height * width;
    out.fill(0.0);
    for (o, out_plane) in out.chunks_exact_mut(plane).enumerate() {
        for (c, in_plane) in x.chunks_exact(plane).enumerate().take(cin) {
            for ky in 0..k {
                let dy = ky as isize - pad;
                let (y0, y1) = ((-dy).max(0) as usize, (height as isize - dy).clamp(0, height as isize) as usize);
                for kx in 0..k {
                    let dx = kx as isize - pad;
                    let (x0, x1) = ((-dx).max(0) as usize, (width as isize - dx).clamp(0, width as isize) as usize);
                    if y0 >= y1 || x0 >= x1 {
                        continue;
                    }
                    let w = s.splat(weight[((o * cin + c) * k + ky) * k + kx]);
                    let span = x1 - x0;
                    let vectors = span / S::LANES * S::LANES;
                    // The first row at or after y0 of the form offset + j * step.
                    let first = if y0 <= offset { offset } else { offset + (y0 - offset).div_ceil(step) * step };
                    for y in (first..y1).step_by(step) {
                        let src_start = ((y as isize + dy) as usize * width) as isize + x0 as isize + dx;
                        let src = &in_plane[src_start as usize..][..span];
                        let dst = &mut out_plane[y * width + x0..][..span];
                        for i in (0..vectors).step_by(S::LANES) {
                            let acc = s.mul_add(w, s.load(&src[i..]), s.load(&dst[i..]));
                            s.store(&mut dst[i..], acc);
                        }
                        let wf = weight[((o * cin + c) * k + ky) * k + kx];
                        for i in vectors..span {
                            dst[i] += wf * src[i];
                        }
                    }
                }
            }
        }
    }
}
