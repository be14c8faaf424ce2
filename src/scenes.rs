//! The training data of the default network: procedurally generated scenes, no downloads.
//!
//! A scene is one object on a cluttered "dead leaves" ground, and its label is the object's
//! shape (one of [`CLASSES`]). The ground is made of many overlapping grey-ish leaves (discs,
//! boxes, and the class shapes themselves, with sizes drawn from the scale-invariant `r^-3` law
//! of natural images), slightly blurred, in half the scenes under a colour cast over everything
//! (like a blue sky), with a little pixel noise. The object is sharp and either saturated, in any
//! hue, or (one scene in four) near-white, at any place, size and rotation.
//!
//! Because grey copies of every class shape lie in the ground, the shape alone does not say which
//! one is the object: a network has to find the sharp region that stands out from its
//! surroundings first (colour against the surround, brightness, fine edges: one place in the
//! image) and then read its shape. That is the job the attention blocks
//! are there for. [`Scene::mask`] marks the object's pixels, for the test that checks where the
//! spatial attention falls.
//!
//! Every scene is a pure function of `(seed, index, side)`: the training set, the held-out set
//! and the tests draw the same scenes on every machine.

use crate::blocks::init::Seeded;
use crate::tensor::Tensor;

/// The labels: the object's shape.
pub const CLASSES: [&str; 6] = ["disc", "square", "triangle", "cross", "ring", "star"];

/// The seeds of the two sets, so the held-out scenes are never trained on.
pub const TRAIN_SEED: u64 = 1;
pub const HELD_OUT_SEED: u64 = 2;

pub struct Scene {
    /// `(1, 3, side, side)` RGB in `[0, 1]`, the network's input format.
    pub image: Tensor,
    /// `side * side`, true on the object's pixels.
    pub mask: Vec<bool>,
    /// Index into [`CLASSES`].
    pub label: usize,
}

#[derive(Clone, Copy)]
enum Shape {
    Class(usize),
    Ellipse { aspect: f32 },
    Box { aspect: f32 },
}

/// Whether the point `(x, y)`, in units of the shape's radius and in the shape's own frame,
/// lies inside it.
fn inside(shape: Shape, x: f32, y: f32) -> bool {
    let r = x.hypot(y);
    match shape {
        Shape::Ellipse { aspect } => x.hypot(y * aspect) <= 1.0,
        Shape::Box { aspect } => x.abs() <= 0.8 && (y * aspect).abs() <= 0.8,
        Shape::Class(0) => r <= 1.0,
        Shape::Class(1) => x.abs().max(y.abs()) <= 0.8,
        Shape::Class(2) => {
            // Equilateral, circumradius 1: three half-planes at distance 1/2 from the centre.
            (0..3).all(|k| {
                let phi = std::f32::consts::FRAC_PI_2 + k as f32 * 2.0 * std::f32::consts::PI / 3.0;
                x * phi.cos() + y * phi.sin() <= 0.5
            })
        }
        Shape::Class(3) => (x.abs() <= 0.3 && y.abs() <= 0.9) || (y.abs() <= 0.3 && x.abs() <= 0.9),
        Shape::Class(4) => (0.55..=1.0).contains(&r),
        Shape::Class(_) => {
            // Five points: the edge radius falls linearly from 1 at a point to 0.45 between two.
            let turns = (y.atan2(x) / std::f32::consts::TAU * 5.0).rem_euclid(1.0);
            r <= 0.45 + 0.55 * (2.0 * turns - 1.0).abs()
        }
    }
}

/// An RGB image being painted, planar.
struct Canvas {
    side: usize,
    rgb: Vec<f32>,
}

impl Canvas {
    /// Paints `shape` with radius `radius` at `(cx, cy)`, rotated by `angle`, in `colour` plus a
    /// linear shading of strength `shade`; returns the painted pixels.
    #[allow(clippy::too_many_arguments)] // one shape's placement, colour and shading
    fn paint(&mut self, shape: Shape, cx: f32, cy: f32, radius: f32, angle: f32, colour: [f32; 3], shade: f32) -> Vec<usize> {
        let (sin, cos) = angle.sin_cos();
        let plane = self.side * self.side;
        let reach = radius.ceil() as isize + 1;
        let mut painted = Vec::new();
        for py in (cy as isize - reach).max(0)..(cy as isize + reach + 1).min(self.side as isize) {
            for px in (cx as isize - reach).max(0)..(cx as isize + reach + 1).min(self.side as isize) {
                let (dx, dy) = ((px as f32 + 0.5 - cx) / radius, (py as f32 + 0.5 - cy) / radius);
                let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
                if inside(shape, u, v) {
                    let i = py as usize * self.side + px as usize;
                    let light = 1.0 + shade * v;
                    for (c, value) in colour.iter().enumerate() {
                        self.rgb[c * plane + i] = value * light;
                    }
                    painted.push(i);
                }
            }
        }
        painted
    }

    /// Gaussian blur with edge pixels repeated (separable, radius `ceil(2.5 sigma)`).
    fn blur(&mut self, sigma: f32) {
        let radius = (2.5 * sigma).ceil() as isize;
        let taps: Vec<f32> = (-radius..=radius).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()).collect();
        let total: f32 = taps.iter().sum();
        let side = self.side as isize;
        for plane in self.rgb.chunks_exact_mut(self.side * self.side) {
            for horizontal in [true, false] {
                let src = plane.to_vec();
                for y in 0..side {
                    for x in 0..side {
                        let mut acc = 0.0;
                        for (t, d) in taps.iter().zip(-radius..=radius) {
                            let (sy, sx) = if horizontal { (y, (x + d).clamp(0, side - 1)) } else { ((y + d).clamp(0, side - 1), x) };
                            acc += t * src[(sy * side + sx) as usize];
                        }
                        plane[(y * side + x) as usize] = acc / total;
                    }
                }
            }
        }
    }
}

/// A random colour of luminance about `luminance`, its saturation scaled by `saturation`
/// (0 grey, 1 a fully saturated hue).
fn colour(rng: &mut Seeded, luminance: f32, saturation: f32) -> [f32; 3] {
    let hue = rng.range(0.0, std::f32::consts::TAU);
    let mut rgb = [0.0; 3];
    for (c, v) in rgb.iter_mut().enumerate() {
        let chroma = (hue - c as f32 * std::f32::consts::TAU / 3.0).cos();
        *v = (luminance + 0.45 * saturation * chroma).clamp(0.0, 1.0);
    }
    rgb
}

/// Scene `index` of the set `seed`, `side x side` pixels (the network is trained at 96).
pub fn generate(seed: u64, index: u64, side: usize) -> Scene {
    let mut rng = Seeded(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let s = side as f32;
    let mut canvas = Canvas { side, rgb: vec![0.0; 3 * side * side] };
    let ground = colour(&mut rng, 0.5, 0.1);
    for (c, plane) in canvas.rgb.chunks_exact_mut(side * side).enumerate() {
        plane.fill(ground[c]);
    }

    // Dead leaves: radii from the r^-3 law between 1.5 px and a third of the side.
    let (r_min, r_max) = (1.5f32, s / 3.0);
    let leaves = 40 + rng.below(80);
    for _ in 0..leaves {
        let u = rng.next_unit();
        let radius = (r_min.powi(-2) - u * (r_min.powi(-2) - r_max.powi(-2))).powf(-0.5);
        let shape = match rng.below(4) {
            0 => Shape::Ellipse { aspect: rng.range(0.5, 2.0) },
            1 => Shape::Box { aspect: rng.range(0.5, 2.0) },
            _ => Shape::Class(rng.below(CLASSES.len())),
        };
        let (luminance, saturation) = (rng.range(0.15, 0.85), rng.range(0.0, 0.3));
        let leaf_colour = colour(&mut rng, luminance, saturation);
        let (cx, cy, angle, shade) = (rng.range(0.0, s), rng.range(0.0, s), rng.range(0.0, 6.3), rng.range(-0.15, 0.15));
        canvas.paint(shape, cx, cy, radius, angle, leaf_colour, shade);
    }
    canvas.blur(rng.range(0.6, 1.6));

    // In half the scenes a colour cast over the whole ground (a blue sky, a green lawn): a
    // saturated colour that covers everything is ground, not object.
    if rng.below(2) == 0 {
        let luminance = rng.range(0.2, 0.6);
        let (cast, strength) = (colour(&mut rng, luminance, 1.0), rng.range(0.2, 0.6));
        for (c, plane) in canvas.rgb.chunks_exact_mut(side * side).enumerate() {
            plane.iter_mut().for_each(|v| *v += strength * (cast[c] - *v));
        }
    }

    // The object: sharp, fully inside the frame, saturated or (one in four) near-white.
    let label = rng.below(CLASSES.len());
    let radius = rng.range(0.17, 0.36) * s;
    let (cx, cy) = (rng.range(radius, s - radius), rng.range(radius, s - radius));
    let (luminance, saturation) =
        if rng.below(4) == 0 { (rng.range(0.85, 0.95), rng.range(0.0, 0.1)) } else { (rng.range(0.3, 0.7), rng.range(0.7, 1.0)) };
    let object_colour = colour(&mut rng, luminance, saturation);
    let (angle, shade) = (rng.range(0.0, 6.3), rng.range(-0.2, 0.2));
    let painted = canvas.paint(Shape::Class(label), cx, cy, radius, angle, object_colour, shade);
    let mut mask = vec![false; side * side];
    painted.into_iter().for_each(|i| mask[i] = true);

    // Sensor noise, the same everywhere.
    for v in &mut canvas.rgb {
        let noise = (rng.next_unit() + rng.next_unit() + rng.next_unit() - 1.5) * 0.04;
        *v = (*v + noise).clamp(0.0, 1.0);
    }
    let image = Tensor::new(vec![1, 3, side, side], canvas.rgb).expect("length from shape");
    Scene { image, mask, label }
}

/// A plain scene, for checking that the network reads a shape it sees alone: one saturated or
/// (one in four) white object of class `index % 6`, at any size of the training range, place and
/// rotation, on a flat grey ground (even `index`) or one that varies smoothly across the image
/// with a little noise (odd `index`); no clutter, no colour cast.
pub fn generate_plain(seed: u64, index: u64, side: usize) -> Scene {
    let mut rng = Seeded(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ index.wrapping_mul(0x9FB2_1C65_1E98_DF25));
    let s = side as f32;
    let mut canvas = Canvas { side, rgb: vec![0.0; 3 * side * side] };
    let (level, tilt, angle) = (rng.range(0.25, 0.6), if index % 2 == 1 { rng.range(0.1, 0.3) } else { 0.0 }, rng.range(0.0, 6.3));
    let plane = side * side;
    for i in 0..plane {
        let (x, y) = ((i % side) as f32 / s - 0.5, (i / side) as f32 / s - 0.5);
        let grey = level + tilt * (x * angle.cos() + y * angle.sin());
        for c in 0..3 {
            canvas.rgb[c * plane + i] = grey;
        }
    }
    let label = (index % CLASSES.len() as u64) as usize;
    let radius = rng.range(0.17, 0.36) * s;
    let (cx, cy) = (rng.range(radius, s - radius), rng.range(radius, s - radius));
    let (luminance, saturation) =
        if rng.below(4) == 0 { (rng.range(0.85, 0.95), rng.range(0.0, 0.1)) } else { (rng.range(0.3, 0.7), rng.range(0.7, 1.0)) };
    let object_colour = colour(&mut rng, luminance, saturation);
    let painted = canvas.paint(Shape::Class(label), cx, cy, radius, rng.range(0.0, 6.3), object_colour, 0.0);
    let mut mask = vec![false; plane];
    painted.into_iter().for_each(|i| mask[i] = true);
    if index % 2 == 1 {
        for v in &mut canvas.rgb {
            *v = (*v + (rng.next_unit() - 0.5) * 0.04).clamp(0.0, 1.0);
        }
    }
    let image = Tensor::new(vec![1, 3, side, side], canvas.rgb).expect("length from shape");
    Scene { image, mask, label }
}

impl Scene {
    /// The image as RGBA bytes, for writing it out or feeding it through the photo path.
    pub fn to_rgba(&self) -> Vec<u8> {
        let plane = self.mask.len();
        let rgb = self.image.data();
        (0..plane).flat_map(|i| [rgb[i], rgb[plane + i], rgb[2 * plane + i], 1.0].map(|v| (v * 255.0).round() as u8)).collect()
    }
}

/// The part of each `cell x cell` block of a `side x side` mask that the object covers, in
/// [0, 1], row by row (`side / cell` blocks a side; a remainder at the edges is left out).
pub fn mask_coverage(mask: &[bool], side: usize, cell: usize) -> Vec<f32> {
    let cells = side / cell;
    let mut coverage = vec![0.0; cells * cells];
    for (y, row) in mask.chunks_exact(side).enumerate().take(cells * cell) {
        for (x, _) in row.iter().enumerate().take(cells * cell).filter(|(_, covered)| **covered) {
            coverage[(y / cell) * cells + x / cell] += 1.0 / (cell * cell) as f32;
        }
    }
    coverage
}

/// How much more a spatial map weighs the object than the rest: the mean of `map` over cells
/// mostly (at least half) inside the object's mask, over the mean of the cells mostly outside.
/// `map` is `(1, h, w)` or `(1, 1, h, w)` with `h == w` over a `side x side` scene; `None` when
/// either part has no cell.
pub fn inside_outside_ratio(map: &Tensor, mask: &[bool], side: usize) -> Option<f64> {
    let h = map.shape()[map.shape().len() - 2];
    let coverage = mask_coverage(mask, side, side / h);
    assert_eq!(coverage.len(), map.data().len(), "a square map over the scene");
    ratio_of_means(map.data(), |cell| coverage[cell] >= 0.5)
}

/// The mean of `values` where `inside(index)` holds over their mean elsewhere; `None` when
/// either part is empty.
pub fn ratio_of_means(values: &[f32], inside: impl Fn(usize) -> bool) -> Option<f64> {
    let (mut sum_in, mut n_in, mut sum_out, mut n_out) = (0.0, 0usize, 0.0, 0usize);
    for (i, &value) in values.iter().enumerate() {
        if inside(i) {
            (sum_in, n_in) = (sum_in + value as f64, n_in + 1);
        } else {
            (sum_out, n_out) = (sum_out + value as f64, n_out + 1);
        }
    }
    (n_in > 0 && n_out > 0).then(|| (sum_in / n_in as f64) / (sum_out / n_out as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_are_reproducible_and_differ_by_index() {
        let a = generate(TRAIN_SEED, 7, 64);
        let b = generate(TRAIN_SEED, 7, 64);
        assert_eq!(a.image, b.image);
        assert_eq!(a.label, b.label);
        assert_ne!(generate(TRAIN_SEED, 8, 64).image, a.image);
        assert_ne!(generate(HELD_OUT_SEED, 7, 64).image, a.image);
    }

    #[test]
    fn every_class_appears_and_the_object_is_in_the_mask() {
        let mut seen = [0usize; CLASSES.len()];
        for index in 0..120 {
            let scene = generate(TRAIN_SEED, index, 112);
            seen[scene.label] += 1;
            let area = scene.mask.iter().filter(|&&m| m).count() as f32 / scene.mask.len() as f32;
            assert!((0.01..0.5).contains(&area), "scene {index}: object covers {area}");
            assert!(scene.image.data().iter().all(|v| (0.0..=1.0).contains(v)));
        }
        assert!(seen.iter().all(|&n| n >= 8), "{seen:?}");
    }

    #[test]
    fn the_shapes_differ() {
        // On a grid, no two class shapes cover the same points.
        let grid: Vec<(f32, f32)> = (0..40).flat_map(|i| (0..40).map(move |j| (i as f32 / 20.0 - 1.0, j as f32 / 20.0 - 1.0))).collect();
        let covers: Vec<Vec<bool>> =
            (0..CLASSES.len()).map(|c| grid.iter().map(|&(x, y)| inside(Shape::Class(c), x, y)).collect()).collect();
        for a in 0..CLASSES.len() {
            for b in a + 1..CLASSES.len() {
                let differing = covers[a].iter().zip(&covers[b]).filter(|(p, q)| p != q).count();
                assert!(differing > 60, "{} and {} differ at {differing} points", CLASSES[a], CLASSES[b]);
            }
        }
    }
}
