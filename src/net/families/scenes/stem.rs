//! The fixed, named front end: 16 hand-designed feature channels that a person can read, so the
//! channel-weight chart of the first attention blocks says "red" or "vertical edges, fine"
//! instead of "channel 7". It has no weights and is never trained.
//!
//! From RGB in `[0, 1]` it forms three opponent planes, luminance `L = (R+G+B)/3`, red-green
//! `R - G` and blue-yellow `B - (R+G)/2`, and measures on them (all averaged down to 1/4 size):
//! - colour: the positive and negative halves of red-green and blue-yellow;
//! - contrast: luminance above / below its surround (a difference of Gaussians, surround
//!   sigma about 8 px), "bright" and "dark";
//! - edges: the energy `|d/dθ (G * L)|` of a Gaussian-derivative filter at four orientations,
//!   at two scales (sigma 1 px on the image, "fine"; sigma 1 px on the half-size image,
//!   "coarse");
//! - colour edges: the gradient magnitude of the smoothed red-green and blue-yellow planes.
//!
//! Borders repeat the edge pixel, so the frame of a photo does not look like an edge.

use crate::tensor::Tensor;

/// How much smaller than the image the features are.
pub const STRIDE: usize = 4;

/// The channels, in order.
pub const CHANNEL_NAMES: [&str; 16] = [
    "red",
    "green",
    "blue",
    "yellow",
    "bright",
    "dark",
    "vertical edges, fine",
    "diagonal edges /, fine",
    "horizontal edges, fine",
    "diagonal edges \\, fine",
    "vertical edges, coarse",
    "diagonal edges /, coarse",
    "horizontal edges, coarse",
    "diagonal edges \\, coarse",
    "red-green edges",
    "blue-yellow edges",
];

pub const CHANNELS: usize = CHANNEL_NAMES.len();

/// Gains that bring each kind of channel to values around 1 on photos and on the training scenes,
/// so that no group dominates the first convolution by scale alone.
const COLOUR_GAIN: f32 = 4.0;
const CONTRAST_GAIN: f32 = 6.0;
const EDGE_GAIN: f32 = 12.0;

/// A single-channel image, row-major.
#[derive(Clone)]
struct Plane {
    data: Vec<f32>,
    height: usize,
    width: usize,
}

impl Plane {
    fn at(&self, y: isize, x: isize) -> f32 {
        let y = y.clamp(0, self.height as isize - 1) as usize;
        let x = x.clamp(0, self.width as isize - 1) as usize;
        self.data[y * self.width + x]
    }

    fn map(&self, f: impl Fn(f32) -> f32) -> Plane {
        Plane { data: self.data.iter().map(|&v| f(v)).collect(), ..*self }
    }

    /// Separable Gaussian blur, kernel radius `ceil(2.5 sigma)`, edge pixels repeated.
    fn blur(&self, sigma: f32) -> Plane {
        let radius = (2.5 * sigma).ceil() as isize;
        let taps: Vec<f32> = (-radius..=radius).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()).collect();
        let total: f32 = taps.iter().sum();
        let taps: Vec<f32> = taps.iter().map(|t| t / total).collect();
        let pass = |src: &Plane, horizontal: bool| {
            let mut data = Vec::with_capacity(src.data.len());
            for y in 0..src.height as isize {
                for x in 0..src.width as isize {
                    let mut acc = 0.0;
                    for (t, d) in taps.iter().zip(-radius..=radius) {
                        acc += t * if horizontal { src.at(y, x + d) } else { src.at(y + d, x) };
                    }
                    data.push(acc);
                }
            }
            Plane { data, ..*src }
        };
        pass(&pass(self, true), false)
    }

    /// Central-difference gradients `(d/dx, d/dy)`.
    fn gradient(&self) -> (Plane, Plane) {
        let mut gx = Vec::with_capacity(self.data.len());
        let mut gy = Vec::with_capacity(self.data.len());
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                gx.push(0.5 * (self.at(y, x + 1) - self.at(y, x - 1)));
                gy.push(0.5 * (self.at(y + 1, x) - self.at(y - 1, x)));
            }
        }
        (Plane { data: gx, ..*self }, Plane { data: gy, ..*self })
    }

    /// Mean over `f x f` windows, stride `f`; a partial last row or column is dropped.
    fn average_down(&self, f: usize) -> Plane {
        let (height, width) = (self.height / f, self.width / f);
        let mut data = Vec::with_capacity(height * width);
        for y in 0..height {
            for x in 0..width {
                let mut acc = 0.0;
                for dy in 0..f {
                    let row = (y * f + dy) * self.width + x * f;
                    acc += self.data[row..row + f].iter().sum::<f32>();
                }
                data.push(acc / (f * f) as f32);
            }
        }
        Plane { data, height, width }
    }
}

/// The energy `|cos θ gx + sin θ gy|` at 0°, 45°, 90° and 135° (vertical, "/", horizontal, "\"
/// edges: the gradient is across the edge; image y points down).
fn oriented_energies(plane: &Plane) -> [Plane; 4] {
    let (gx, gy) = plane.gradient();
    let diag = std::f32::consts::FRAC_1_SQRT_2;
    let combine = |a: f32, b: f32| Plane { data: gx.data.iter().zip(&gy.data).map(|(x, y)| (a * x + b * y).abs()).collect(), ..gx };
    [combine(1.0, 0.0), combine(diag, -diag), combine(0.0, 1.0), combine(diag, diag)]
}

fn gradient_magnitude(plane: &Plane) -> Plane {
    let (gx, gy) = plane.gradient();
    Plane { data: gx.data.iter().zip(&gy.data).map(|(x, y)| x.hypot(*y)).collect(), ..gx }
}

/// `(1, 3, H, W)` RGB in `[0, 1]` to `(1, 16, H/4, W/4)` named features.
pub fn forward(image: &Tensor) -> Tensor {
    let (height, width) = (image.shape()[2], image.shape()[3]);
    let plane_len = height * width;
    let rgb = image.data();
    let (r, g, b) = (&rgb[..plane_len], &rgb[plane_len..2 * plane_len], &rgb[2 * plane_len..3 * plane_len]);
    let make = |f: &dyn Fn(usize) -> f32| Plane { data: (0..plane_len).map(f).collect(), height, width };
    let luminance = make(&|i| (r[i] + g[i] + b[i]) / 3.0);
    let red_green = make(&|i| r[i] - g[i]);
    let blue_yellow = make(&|i| b[i] - 0.5 * (r[i] + g[i]));

    let quarter = |p: &Plane| p.average_down(STRIDE);
    let (rg_q, by_q, lum_q) = (quarter(&red_green), quarter(&blue_yellow), quarter(&luminance));
    let surround = lum_q.blur(2.0);
    let contrast = Plane { data: lum_q.data.iter().zip(&surround.data).map(|(c, s)| c - s).collect(), ..lum_q };

    let relu = |p: &Plane, sign: f32, gain: f32| p.map(|v| (sign * v).max(0.0) * gain);
    let mut channels = vec![
        relu(&rg_q, 1.0, COLOUR_GAIN),
        relu(&rg_q, -1.0, COLOUR_GAIN),
        relu(&by_q, 1.0, COLOUR_GAIN),
        relu(&by_q, -1.0, COLOUR_GAIN),
        relu(&contrast, 1.0, CONTRAST_GAIN),
        relu(&contrast, -1.0, CONTRAST_GAIN),
    ];
    let scaled = |p: Plane| p.map(|v| v * EDGE_GAIN);
    channels.extend(oriented_energies(&luminance.blur(1.0)).into_iter().map(|p| scaled(quarter(&p))));
    let half = luminance.average_down(2);
    channels.extend(oriented_energies(&half.blur(1.0)).into_iter().map(|p| scaled(p.average_down(STRIDE / 2))));
    channels.push(scaled(quarter(&gradient_magnitude(&red_green.blur(1.0)))));
    channels.push(scaled(quarter(&gradient_magnitude(&blue_yellow.blur(1.0)))));

    let (out_h, out_w) = (height / STRIDE, width / STRIDE);
    let mut data = Vec::with_capacity(CHANNELS * out_h * out_w);
    for channel in &channels {
        debug_assert_eq!((channel.height, channel.width), (out_h, out_w));
        data.extend_from_slice(&channel.data);
    }
    Tensor::new(vec![1, CHANNELS, out_h, out_w], data).expect("stem output matches its shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(height: usize, width: usize, pixel: impl Fn(usize, usize) -> [f32; 3]) -> Tensor {
        let mut data = vec![0.0; 3 * height * width];
        for y in 0..height {
            for x in 0..width {
                let p = pixel(y, x);
                for c in 0..3 {
                    data[(c * height + y) * width + x] = p[c];
                }
            }
        }
        Tensor::new(vec![1, 3, height, width], data).unwrap()
    }

    fn channel_mean(features: &Tensor, name: &str) -> f32 {
        let c = CHANNEL_NAMES.iter().position(|n| *n == name).unwrap();
        let plane = features.shape()[2] * features.shape()[3];
        features.data()[c * plane..(c + 1) * plane].iter().sum::<f32>() / plane as f32
    }

    #[test]
    fn the_named_channels_respond_to_what_their_names_say() {
        let red = forward(&image(32, 32, |_, _| [0.9, 0.1, 0.1]));
        assert_eq!(red.shape(), &[1, 16, 8, 8]);
        assert!(channel_mean(&red, "red") > 1.0);
        assert_eq!(channel_mean(&red, "green"), 0.0);
        assert_eq!(channel_mean(&red, "vertical edges, fine"), 0.0, "a flat image has no edges");

        // Vertical stripes: vertical edges, no horizontal ones.
        let stripes = forward(&image(32, 32, |_, x| if (x / 4) % 2 == 0 { [1.0; 3] } else { [0.0; 3] }));
        assert!(channel_mean(&stripes, "vertical edges, fine") > 1.0);
        assert!(channel_mean(&stripes, "horizontal edges, fine") < 1e-6);
        assert!(channel_mean(&stripes, "red") < 1e-6, "grey has no colour");

        // A bright square on a dark ground is bright at its centre.
        let square = forward(&image(64, 64, |y, x| if (24..40).contains(&y) && (24..40).contains(&x) { [1.0; 3] } else { [0.0; 3] }));
        let plane = 16 * 16;
        let bright = CHANNEL_NAMES.iter().position(|n| *n == "bright").unwrap();
        assert!(square.data()[bright * plane + 8 * 16 + 8] > square.data()[bright * plane]);
    }

    #[test]
    fn odd_sizes_round_down_like_the_pools() {
        let features = forward(&image(37, 50, |y, x| [(y % 3) as f32 / 3.0, (x % 5) as f32 / 5.0, 0.5]));
        assert_eq!(features.shape(), &[1, 16, 9, 12]);
        assert!(features.data().iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
