//! From a photo's RGBA pixels to the network's input tensor.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
// The working size is the photo contract's (`crate::photo`); named here too, where the bundled
// network's input is made.
pub use crate::photo::{MIN_SIDE, WORKING_SIDE, working_size};

/// The longer side of the image the bundled network computes on: the size of the scenes it was
/// trained on. A photo (224 px at the working size) is scaled to it first ([`to_network_side`]):
/// the network reads shapes at the scale it learned them (at 224 px the same weights name only
/// about a third of the held-out scenes, at 96 px 98 %).
pub const NETWORK_SIDE: usize = 96;
/// Smallest side the network computes on: the stem divides by 4 and the body pools twice by 2,
/// which leaves `body.conv3` one position.
const NETWORK_MIN_SIDE: usize = 16;

/// `(1, 3, H, W)` scaled so its longer side is [`NETWORK_SIDE`] (aspect kept, each side at
/// least 16), with the `image` crate's triangle filter (as the photo contract's resize); the
/// same tensor when it has that size already (the training scenes).
pub fn to_network_side(x: &Tensor) -> Tensor {
    let (h, w) = (x.shape()[2], x.shape()[3]);
    let scale = NETWORK_SIDE as f64 / h.max(w) as f64;
    let side = |v: usize| ((v as f64 * scale).round() as usize).max(NETWORK_MIN_SIDE);
    let (nh, nw) = (side(h), side(w));
    if (nh, nw) == (h, w) {
        return x.clone();
    }
    let plane = h * w;
    let data = x.data();
    let interleaved: Vec<f32> = (0..plane).flat_map(|i| [data[i], data[plane + i], data[2 * plane + i]]).collect();
    let img = ::image::Rgb32FImage::from_raw(w as u32, h as u32, interleaved).expect("three values per pixel");
    let scaled = ::image::imageops::resize(&img, nw as u32, nh as u32, ::image::imageops::FilterType::Triangle).into_raw();
    let out_plane = nh * nw;
    let mut planar = vec![0.0f32; 3 * out_plane];
    for (i, px) in scaled.chunks_exact(3).enumerate() {
        for c in 0..3 {
            planar[c * out_plane + i] = px[c];
        }
    }
    Tensor::new(vec![1, 3, nh, nw], planar).expect("length from shape")
}

/// Turns `width x height` RGBA bytes (row-major, as canvas `ImageData` holds them) into a
/// `(1, 3, H, W)` tensor of RGB in `[0, 1]`, what the fixed stem expects. Alpha is ignored.
pub fn rgba_to_input(rgba: &[u8], width: usize, height: usize) -> Result<Tensor> {
    if width < MIN_SIDE || height < MIN_SIDE || width > 4 * WORKING_SIDE || height > 4 * WORKING_SIDE {
        return Err(Error::BadImage(format!(
            "{width} x {height} pixels; the engine takes {MIN_SIDE} to {} pixels a side (scale the photo first)",
            4 * WORKING_SIDE
        )));
    }
    if rgba.len() != width * height * 4 {
        return Err(Error::BadImage(format!("{} bytes for {width} x {height} RGBA pixels, expected {}", rgba.len(), width * height * 4)));
    }
    let plane = width * height;
    let mut data = vec![0.0f32; 3 * plane];
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        for c in 0..3 {
            data[c * plane + i] = px[c] as f32 / 255.0;
        }
    }
    Ok(Tensor::new(vec![1, 3, height, width], data).expect("length from shape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_sees_the_photo_at_its_training_size() {
        let flat = |h: usize, w: usize| Tensor::new(vec![1, 3, h, w], vec![0.25; 3 * h * w]).unwrap();
        assert_eq!(to_network_side(&flat(149, 224)).shape(), &[1, 3, 64, 96]);
        assert_eq!(to_network_side(&flat(8, 224)).shape(), &[1, 3, 16, 96]);
        assert_eq!(to_network_side(&flat(8, 8)).shape(), &[1, 3, 96, 96]);
        let same = flat(96, 80);
        assert_eq!(to_network_side(&same), same, "the training scenes' size passes unchanged");
        assert!(to_network_side(&flat(224, 224)).data().iter().all(|v| (v - 0.25).abs() < 1e-6), "a flat image stays flat");
    }

    #[test]
    fn pixels_become_planar_rgb_in_the_unit_range() {
        let rgba: Vec<u8> = [255u8, 0, 128, 7].repeat(64);
        let x = rgba_to_input(&rgba, 8, 8).unwrap();
        assert_eq!(x.shape(), &[1, 3, 8, 8]);
        assert_eq!(x.data()[0], 1.0);
        assert_eq!(x.data()[64], 0.0);
        assert!((x.data()[128] - 128.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn wrong_sizes_are_refused_with_a_message() {
        let err = rgba_to_input(&[0; 16], 2, 2).unwrap_err().to_string();
        assert!(err.starts_with("image: 2 x 2 pixels"), "{err}");
        let err = rgba_to_input(&[0; 10], 8, 8).unwrap_err().to_string();
        assert!(err.contains("10 bytes"), "{err}");
    }
}
