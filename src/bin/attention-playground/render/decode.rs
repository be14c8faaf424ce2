//! `render`'s side of the photo contract ([`attention_playground::photo`]): the `image` crate
//! decodes, and the library's steps do the rest exactly as the page does them after the
//! browser's decoder.

use std::fs;
use std::io::Cursor;
use std::path::Path;

use attention_playground::photo::{self, PhotoHeader};
use image::metadata::Orientation;
use image::{DynamicImage, ImageReader, Limits};

/// A photo at the working size, upright and opaque: what the network and the figures see.
pub struct Photo {
    pub rgba: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// The size as shown (after the EXIF orientation), in photo pixels: `--query` refers to it.
    pub original: (usize, usize),
    /// A sharper copy for the figures to draw under their maps (longer side at most
    /// [`FIGURE_SIDE`]), as the page draws a sharper copy than the network sees.
    pub figure: image::RgbImage,
}

/// The longer side of the photo the figures embed: their 336-px photo box at 2x.
pub const FIGURE_SIDE: usize = 672;

/// Reads, checks ([`photo::read_header`]), decodes, turns upright, composites on white and scales
/// the photo at `path`. Errors are one line for a person.
pub fn load(path: &Path) -> Result<Photo, String> {
    let decoded = upright(path)?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let (rgba, ww, wh) = photo::to_working_size(decoded.as_raw(), width, height).map_err(|e| e.to_string())?;
    let scale = (FIGURE_SIDE as f64 / width.max(height) as f64).min(1.0);
    let (fw, fh) = (((width as f64 * scale).round() as usize).max(1), ((height as f64 * scale).round() as usize).max(1));
    let figure = photo::resize(decoded.as_raw(), width, height, fw, fh).map_err(|e| e.to_string())?;
    let figure =
        image::DynamicImage::ImageRgba8(image::RgbaImage::from_raw(fw as u32, fh as u32, figure).expect("resized pixels")).to_rgb8();
    Ok(Photo { rgba, width: ww, height: wh, original: (width, height), figure })
}

/// Reads, checks and decodes the photo at `path`, upright and composited on white, at its own
/// size: steps 1 to 3 of the contract (whole networks take it from here with their own transform).
pub fn upright(path: &Path) -> Result<image::RgbaImage, String> {
    let name = path.display().to_string();
    let len = fs::metadata(path).map_err(|e| format!("cannot read image {name}: {e}"))?.len();
    if len > photo::MAX_FILE_BYTES as u64 {
        // Checked before reading it all in.
        return Err(photo::read_header(&[], len as usize, &name).expect_err("over the limit").to_string());
    }
    let bytes = fs::read(path).map_err(|e| format!("cannot read image {name}: {e}"))?;
    let header = photo::read_header(&bytes, bytes.len(), &name).map_err(|e| e.to_string())?;
    let mut decoded = decode(&bytes, &header, &name)?.to_rgba8();
    photo::composite_on_white(&mut decoded);
    Ok(decoded)
}

/// The decoded image, upright.
fn decode(bytes: &[u8], header: &PhotoHeader, name: &str) -> Result<DynamicImage, String> {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| format!("cannot read image {name}: {e}"))?;
    let Some(format) = reader.format() else {
        return Err(format!("image {name}: {} photos are not decoded by this command; convert it to JPEG or PNG", header.format));
    };
    let mut reader = reader;
    let mut limits = Limits::default();
    // read_header has bounded the pixels; decoders may hold a 16-bit copy as well.
    limits.max_alloc = Some(8 << 30);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| format!("image {name}: {} ({e})", unsupported_or_damaged(format)))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Unsupported(_) => format!("image {name}: {} ({e})", unsupported_or_damaged(format)),
        other => format!("image {name}: cannot decode it, the file is damaged or cut short ({other})"),
    })?;
    // The orientation read_header found, which is the page's too.
    if let Some(orientation) = Orientation::from_exif(header.orientation) {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

fn unsupported_or_damaged(format: image::ImageFormat) -> &'static str {
    match format {
        image::ImageFormat::Jpeg
        | image::ImageFormat::Png
        | image::ImageFormat::WebP
        | image::ImageFormat::Gif
        | image::ImageFormat::Bmp => "cannot decode it, the file is damaged or uses a variant this decoder lacks",
        _ => "not a JPEG, PNG, WebP, GIF or BMP file; convert it",
    }
}
