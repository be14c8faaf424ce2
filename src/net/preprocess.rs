//! Images in, as timm evaluates them (`timm.data.create_transform` with `is_training=False`,
//! `transforms_imagenet_eval`): resized to `floor(input_size / crop_pct)` with the model's
//! interpolation in one of timm's three crop modes (`center`: the shorter side, then a centre
//! crop; `squash`: both sides, then a centre crop; `border`: the longer side, then padded with the
//! mean's colour and centre-cropped), RGB scaled to [0, 1] and normalised with the model's mean
//! and std. A checkpoint's own `pretrained_cfg` sets them ([`crate::net::config`]); every value is
//! overridable; the defaults are timm's `DEFAULT_CROP_PCT` and ImageNet's statistics. Class
//! names: ImageNet-1k's for a 1000-way head (timm's `imagenet_synsets.txt` with the first lemma of
//! each synset), a labels file when given, else `class N`.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// ImageNet-1k's class names in the order of the usual 1000-way heads.
const IMAGENET_CLASSES: &str = include_str!("imagenet_classes.txt");

/// How a resize samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    Bilinear,
    Bicubic,
}

impl std::fmt::Display for Interpolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
        })
    }
}

impl std::str::FromStr for Interpolation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bilinear" => Ok(Interpolation::Bilinear),
            "bicubic" => Ok(Interpolation::Bicubic),
            other => Err(Error::BadOption { option: "--interpolation", reason: format!("`{other}`: use bilinear or bicubic") }),
        }
    }
}

/// How the resized photo becomes the network's square: timm's `crop_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CropMode {
    /// The shorter side to `floor(size / crop_pct)`, the aspect ratio kept, then the centre crop.
    #[default]
    Center,
    /// Both sides to `floor(size / crop_pct)` (the aspect ratio not kept), then the centre crop.
    Squash,
    /// The longer side to `floor(size / crop_pct)`, the aspect ratio kept, then padded with the
    /// mean's colour (`round(255 * mean)`) to at least the square, and its centre cropped.
    Border,
}

impl std::fmt::Display for CropMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CropMode::Center => "center",
            CropMode::Squash => "squash",
            CropMode::Border => "border",
        })
    }
}

impl std::str::FromStr for CropMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "center" => Ok(CropMode::Center),
            "squash" => Ok(CropMode::Squash),
            "border" => Ok(CropMode::Border),
            other => Err(Error::BadOption {
                option: "--crop-mode",
                reason: format!("`{other}`: use center, squash or border (timm's crop modes)"),
            }),
        }
    }
}

/// A model's evaluation transform.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// The side of the square the network sees.
    pub input_size: usize,
    /// The crop's share of the resized image: the shorter side is resized to `input_size / crop_pct`.
    pub crop_pct: f64,
    pub interpolation: Interpolation,
    pub crop_mode: CropMode,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Preprocess {
    /// timm's defaults: 224, crop 0.875, bicubic, ImageNet's mean and std.
    fn default() -> Self {
        Self {
            input_size: 224,
            crop_pct: 0.875,
            interpolation: Interpolation::Bicubic,
            crop_mode: CropMode::Center,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

impl Preprocess {
    /// torchvision's classification presets: bilinear, resize 256 then crop 224.
    pub fn torchvision() -> Self {
        Self { interpolation: Interpolation::Bilinear, crop_pct: 224.0 / 256.0, ..Self::default() }
    }

    /// The transform a network of `arch` is evaluated with (as `net --image` picks it): timm's
    /// defaults; torchvision's preset for `torchvision.*`, bicubic for its EfficientNets; for the
    /// bundled `scenes` network the centre square at 224 px, RGB in [0, 1].
    pub fn for_arch(arch: &str) -> Self {
        if arch == crate::net::families::scenes::FAMILY {
            // The bundled network reads RGB in [0, 1] (its stem scales the photo to 96 px).
            Self { crop_pct: 1.0, interpolation: Interpolation::Bilinear, mean: [0.0; 3], std: [1.0; 3], ..Self::default() }
        } else if arch.starts_with("torchvision.efficientnet") {
            Self { interpolation: Interpolation::Bicubic, ..Self::torchvision() }
        } else if arch.starts_with("torchvision.") {
            Self::torchvision()
        } else if arch.ends_with("_256") {
            // timm's BoTNets: a fixed 256 x 256 input (their position embeddings), crop 0.95
            // (sebotnet33ts_256's pretrained_cfg 0.94).
            let crop_pct = if arch.starts_with("sebotnet33ts") { 0.94 } else { 0.95 };
            Self { input_size: 256, crop_pct, ..Self::default() }
        } else {
            Self::default()
        }
    }

    /// `width x height` opaque RGBA pixels to the `(1, 3, S, S)` input.
    pub fn apply(&self, rgba: &[u8], width: usize, height: usize) -> Result<Tensor> {
        if self.input_size == 0 || !(self.crop_pct > 0.0 && self.crop_pct <= 1.0) {
            return Err(Error::BadOption {
                option: "--crop-pct",
                reason: "the crop must be a share in (0, 1] of a non-empty image".into(),
            });
        }
        if width == 0 || height == 0 {
            return Err(Error::BadImage(format!("a {width} x {height} image has no pixels")));
        }
        let scale_size = (self.input_size as f64 / self.crop_pct).floor() as usize;
        let (w, h) = (width as f64, height as f64);
        let (rw, rh) = match self.crop_mode {
            // torchvision's Resize(int): the shorter side to the size, the longer in proportion
            // (truncated).
            CropMode::Center if width <= height => (scale_size, ((scale_size as f64 * h / w) as usize).max(scale_size)),
            CropMode::Center => (((scale_size as f64 * w / h) as usize).max(scale_size), scale_size),
            CropMode::Squash => (scale_size, scale_size),
            // timm's ResizeKeepRatio(longest=1): both sides divided by the larger ratio, rounded
            // half to even as Python's round().
            CropMode::Border => {
                let ratio = (w / scale_size as f64).max(h / scale_size as f64);
                (((w / ratio).round_ties_even() as usize).max(1), ((h / ratio).round_ties_even() as usize).max(1))
            }
        };
        let filter = match self.interpolation {
            Interpolation::Bilinear => image::imageops::FilterType::Triangle,
            Interpolation::Bicubic => image::imageops::FilterType::CatmullRom,
        };
        let source: image::ImageBuffer<image::Rgba<u8>, &[u8]> = image::ImageBuffer::from_raw(width as u32, height as u32, rgba)
            .ok_or_else(|| Error::BadImage(format!("{} bytes for {width} x {height} RGBA pixels", rgba.len())))?;
        let resized = image::imageops::resize(&source, rw as u32, rh as u32, filter);
        // The square's pixel (x, y) in the resized image: timm's CenterCropOrPad pads a side that
        // is short by `d` with `d / 2` before (floor), then crops the centre; torchvision's
        // CenterCrop takes its offset as `int(round((size - s) / 2))`, half to even.
        let s = self.input_size;
        let offset = |resized: usize| -> isize {
            if resized < s { -(((s - resized) / 2) as isize) } else { ((resized - s) as f64 / 2.0).round_ties_even() as isize }
        };
        let (left, top) = (offset(rw), offset(rh));
        // Outside the resized image (only `border` pads): the mean's colour, as timm fills.
        let fill: [u8; 3] = std::array::from_fn(|c| (255.0 * f64::from(self.mean[c])).round_ties_even().clamp(0.0, 255.0) as u8);
        let mut data = vec![0.0f32; 3 * s * s];
        for y in 0..s {
            for x in 0..s {
                let (sx, sy) = (left + x as isize, top + y as isize);
                let inside = sx >= 0 && sy >= 0 && (sx as usize) < rw && (sy as usize) < rh;
                let px = if inside { resized.get_pixel(sx as u32, sy as u32).0 } else { [fill[0], fill[1], fill[2], 255] };
                for c in 0..3 {
                    data[(c * s + y) * s + x] = (px[c] as f32 / 255.0 - self.mean[c]) / self.std[c];
                }
            }
        }
        Ok(Tensor::new(vec![1, 3, s, s], data).expect("an input of its shape"))
    }
}

/// The class names of a `classes`-way head: `labels` (one per line) when given, ImageNet-1k's
/// for 1000 classes, else `class N`.
pub fn class_names(classes: usize, labels: Option<&str>) -> Result<Vec<String>> {
    if let Some(text) = labels {
        let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        if names.len() != classes {
            return Err(Error::BadOption {
                option: "--labels",
                reason: format!("{} names for a network with {classes} classes: give one name per line, in the head's order", names.len()),
            });
        }
        return Ok(names);
    }
    if classes == 1000 {
        return Ok(IMAGENET_CLASSES.lines().map(String::from).collect());
    }
    if is_sigmoid_head(classes) {
        // One logit: the probability shown is the positive class's.
        return Ok(vec!["positive".into()]);
    }
    Ok((0..classes).map(|i| format!("class {i}")).collect())
}

/// The head's probabilities: a softmax over two or more logits; for a head of one logit (a
/// binary classifier, `BCEWithLogitsLoss`), the sigmoid of it, the probability of the positive
/// class. A NaN logit gives NaN probabilities, as PyTorch does.
pub fn probabilities(logits: &[f32]) -> Vec<f32> {
    if let [logit] = logits {
        return vec![(1.0 / (1.0 + (-f64::from(*logit)).exp())) as f32];
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, |a, b| if a.is_nan() || b.is_nan() { f32::NAN } else { a.max(b) });
    let exp: Vec<f64> = logits.iter().map(|&v| f64::from(v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| (e / sum) as f32).collect()
}

/// Whether a head of `classes` outputs is read through a sigmoid (one logit) rather than a softmax.
pub fn is_sigmoid_head(classes: usize) -> bool {
    classes == 1
}

/// The `k` most probable classes of `logits` ([`probabilities`]), as `(index, probability)`.
pub fn top_k(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probabilities(logits).into_iter().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(k);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_side_is_resized_then_the_centre_cropped_and_normalised() {
        // A 320 x 200 image: the shorter side to 256, the longer to 409, the centre 224 x 224.
        let (w, h) = (320usize, 200usize);
        let rgba: Vec<u8> = (0..w * h).flat_map(|i| if i % w < w / 2 { [255, 0, 0, 255] } else { [0, 0, 255, 255] }).collect();
        let x = Preprocess::default().apply(&rgba, w, h).unwrap();
        assert_eq!(x.shape(), &[1, 3, 224, 224]);
        let red = |px: usize, py: usize| x.data()[py * 224 + px];
        // Red (normalised) on the left, none on the right; the edge in the middle.
        assert!((red(5, 100) - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        assert!((red(218, 100) - (0.0 - 0.485) / 0.229).abs() < 1e-5);
    }

    #[test]
    fn each_family_is_evaluated_with_its_own_transform() {
        assert_eq!(Preprocess::for_arch("seresnet50"), Preprocess::default());
        assert_eq!(Preprocess::for_arch("torchvision.resnet50"), Preprocess::torchvision());
        let efficientnet = Preprocess::for_arch("torchvision.efficientnet_b0");
        assert_eq!((efficientnet.interpolation, efficientnet.crop_pct), (Interpolation::Bicubic, 224.0 / 256.0));
    }

    #[test]
    fn class_names_and_the_top_classes() {
        let names = class_names(1000, None).unwrap();
        assert_eq!((names[0].as_str(), names[281].as_str(), names[999].as_str()), ("tench", "tabby", "toilet tissue"));
        assert_eq!(class_names(3, None).unwrap(), vec!["class 0", "class 1", "class 2"]);
        let err = class_names(3, Some("a\nb\n")).unwrap_err().to_string();
        assert!(err.contains("2 names for a network with 3 classes"), "{err}");
        let top = top_k(&[0.0, 2.0, 1.0], 2);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((top.iter().map(|t| t.1).sum::<f32>() - (0.665_240_9 + 0.244_728_5)).abs() < 1e-5);
    }
}
