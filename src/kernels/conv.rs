//! Spatial (k x k) and channel-axis (1-D) convolutions.

/// Where a "same" convolution that skips its zero padding (both of ours) differs from PyTorch's,
/// which multiplies the padding: a NaN or infinite weight times a padded zero is NaN. Sets those
/// outputs of `out` `(cout, H, W)` to NaN, in the rows `offset + j * step` (`rows`) that were
/// computed; nothing to do for a kernel of finite weights, the usual case.
#[allow(clippy::too_many_arguments)]
pub fn nan_where_padding_meets_non_finite(
    out: &mut [f32],
    weight: &[f32],
    cin: usize,
    height: usize,
    width: usize,
    k: usize,
    (step, offset): (usize, usize),
) {
    if weight.iter().all(|w| w.is_finite()) || k == 0 || cin == 0 || step == 0 {
        return;
    }
    let pad = (k / 2) as isize;
    let plane = height * width;
    for (o, filter) in weight.chunks_exact(cin * k * k).enumerate() {
        for (y, x) in (offset..height).step_by(step).flat_map(|y| (0..width).map(move |x| (y, x))) {
            let meets = filter.chunks_exact(k * k).any(|taps| {
                taps.iter().enumerate().any(|(t, w)| {
                    let (iy, ix) = (y as isize + (t / k) as isize - pad, x as isize + (t % k) as isize - pad);
                    !w.is_finite() && (iy < 0 || ix < 0 || iy >= height as isize || ix >= width as isize)
                })
            });
            if meets && let Some(v) = out.get_mut(o * plane + y * width + x) {
                *v = f32::NAN;
            }
        }
    }
}

/// Zero-padding "same" convolution of `(cin, H, W)` with a `(cout, cin, k, k)` kernel, stride 1,
/// padding `k / 2`, no bias (CBAM's spatial gate). Returns `(cout, H, W)`.
pub fn conv2d_same(x: &[f32], weight: &[f32], cin: usize, height: usize, width: usize, k: usize) -> Vec<f32> {
    let cout = weight.len() / (cin * k * k);
    let pad = (k / 2) as isize;
    let plane = height * width;
    let mut out = vec![0.0f32; cout * plane];
    for o in 0..cout {
        let out_plane = &mut out[o * plane..(o + 1) * plane];
        for c in 0..cin {
            let in_plane = &x[c * plane..(c + 1) * plane];
            for ky in 0..k {
                for kx in 0..k {
                    let w = weight[((o * cin + c) * k + ky) * k + kx];
                    let dy = ky as isize - pad;
                    let dx = kx as isize - pad;
                    // Output rows/cols whose source pixel lies inside the image.
                    let y0 = (-dy).max(0) as usize;
                    let y1 = (height as isize - dy).min(height as isize).max(0) as usize;
                    let x0 = (-dx).max(0) as usize;
                    let x1 = (width as isize - dx).min(width as isize).max(0) as usize;
                    if y0 >= y1 || x0 >= x1 {
                        continue; // this tap falls wholly in the padding (kernel wider than the image)
                    }
                    for y in y0..y1 {
                        let src_row = (y as isize + dy) as usize * width;
                        let dst = &mut out_plane[y * width + x0..y * width + x1];
                        let src = &in_plane[(src_row as isize + x0 as isize + dx) as usize..][..x1 - x0];
                        dst.iter_mut().zip(src).for_each(|(d, &s)| *d += w * s);
                    }
                }
            }
        }
    }
    nan_where_padding_meets_non_finite(&mut out, weight, cin, height, width, k, (1, 0));
    out
}

/// How a 1-D convolution along the channel axis treats the ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelPadding {
    /// Zeros beyond the first and last channel (timm `EcaModule`).
    Zero,
    /// The channel axis wraps around (timm `CecaModule`).
    Circular,
}

/// 1-D convolution of a length-C vector with an odd kernel, padding `(k - 1) / 2`, no bias.
pub fn conv1d_channels(s: &[f32], kernel: &[f32], padding: ChannelPadding) -> Vec<f32> {
    let c = s.len() as isize;
    let half = (kernel.len() as isize - 1) / 2;
    (0..c)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .filter_map(|(t, &w)| {
                    let j = i + t as isize - half;
                    let j = match padding {
                        ChannelPadding::Zero if !(0..c).contains(&j) => return None,
                        ChannelPadding::Zero => j,
                        ChannelPadding::Circular => j.rem_euclid(c),
                    };
                    Some(w * s[j as usize])
                })
                .sum()
        })
        .collect()
}
