//! The one photo contract of the page and of `render`: what a photo must be, and the steps from
//! its decoded pixels to the network's working size. The decoder itself is not ours: the page
//! uses the browser's (`createImageBitmap` in the worker, `<img>` for SVG), `render` uses the
//! `image` crate; both then go through the same steps here, so a photo gives the same pixels in
//! both (the decoders may differ by a unit in the last bit of a JPEG).
//!
//! The steps, in order:
//! 1. [`read_header`]: the size and EXIF orientation off the first bytes (the `imagesize` and
//!    `kamadak-exif` crates), before anything is decoded, so a 30000 x 30000 PNG is refused as
//!    too large instead of failing in the decoder as "damaged". Limits: [`MAX_FILE_BYTES`] and
//!    [`MAX_PIXELS`]; any size from 1 x 1 up is taken (it is scaled to the working size).
//! 2. Decoding, turned upright by the EXIF orientation, as browsers show a phone photo.
//! 3. [`composite_on_white`]: transparent pixels over white, as the photo looks on a page.
//! 4. Where the longer side is over [`PRESCALE_SIDE`], a first scale to that side (the browser's
//!    resampler in the page, [`resize`] in `render`): the decoded pixels of a huge photo never
//!    cross into the engine.
//! 5. [`to_working_size`]: the scale to [`working_size`] with [`resize`]
//!    (the `image` crate's triangle filter), here, in both.

use std::io::Cursor;

use image::{ImageBuffer, Rgba};

use crate::error::{Error, Result};

/// The longer side of the working image. The browser scales every photo to it (aspect
/// ratio kept) before the pixels reach the engine, so a 12000 x 12000 upload costs no more than a
/// thumbnail.
pub const WORKING_SIDE: usize = 224;
/// Smallest side accepted: the stem divides by 4 and the blocks need a few positions.
pub const MIN_SIDE: usize = 8;

/// The size a `width x height` photo is scaled to: longer side [`WORKING_SIDE`], aspect kept,
/// each side at least [`MIN_SIDE`].
pub fn working_size(width: usize, height: usize) -> (usize, usize) {
    let longer = width.max(height).max(1) as f64;
    let scale = WORKING_SIDE as f64 / longer;
    let side = |v: usize| ((v as f64 * scale).round() as usize).max(MIN_SIDE);
    (side(width), side(height))
}

/// Files above this are refused before decoding (a 12000 x 12000 JPEG is well under it).
pub const MAX_FILE_BYTES: usize = 100 << 20;
/// The most pixels a photo may have: 16384 x 16384 (268 megapixels), 1 GiB decoded as RGBA,
/// about what a browser tab can hold.
pub const MAX_PIXELS: u64 = 16384 * 16384;
/// Photos longer than this are first scaled to it (step 4 above).
pub const PRESCALE_SIDE: usize = 1024;
/// How many leading bytes [`read_header`] needs at most: the size fields, and the EXIF block
/// (64 KiB at most in a JPEG) where a thumbnail or a colour profile comes before it.
pub const HEADER_BYTES: usize = 256 << 10;

/// What the first bytes of a photo say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoHeader {
    /// The format's usual name: `JPEG`, `PNG`, `WebP`, `GIF`, `BMP`, `AVIF/HEIF`, `ICO`.
    pub format: &'static str,
    /// The size as shown, after the EXIF orientation (a phone photo stored 320 x 240 with
    /// orientation 6 is 240 x 320).
    pub width: usize,
    pub height: usize,
    /// EXIF orientation 1..=8 (1 where there is none).
    pub orientation: u8,
}

impl PhotoHeader {
    /// Whether the orientation turns the stored image by 90 degrees (orientations 5 to 8).
    pub fn transposed(&self) -> bool {
        self.orientation >= 5
    }
}

/// Reads the format, size and orientation from the first bytes of a photo (at least
/// [`HEADER_BYTES`] of them where the file is longer; the whole file otherwise), and checks the
/// limits. `name` names the photo in the messages. `file_len` is the whole file's length.
///
/// Errors ([`Error::BadImage`], one line each, with what to do): an empty file, a file over
/// [`MAX_FILE_BYTES`], a format this cannot read the size of (not an image, or one neither
/// decoder takes), a photo over [`MAX_PIXELS`].
pub fn read_header(bytes: &[u8], file_len: usize, name: &str) -> Result<PhotoHeader> {
    if file_len == 0 {
        return Err(Error::BadImage(format!("{name} is empty (0 bytes); choose a photo (JPEG, PNG, WebP or GIF)")));
    }
    if file_len > MAX_FILE_BYTES {
        return Err(Error::BadImage(format!(
            "{name} is {} MB, over the {} MB limit; save it smaller (a JPEG of a few MB is plenty: the networks work at 224 pixels at most)",
            file_len >> 20,
            MAX_FILE_BYTES >> 20
        )));
    }
    let kind = imagesize::image_type(bytes).map_err(|_| not_an_image(name))?;
    let format = match kind {
        imagesize::ImageType::Jpeg => "JPEG",
        imagesize::ImageType::Png => "PNG",
        imagesize::ImageType::Webp => "WebP",
        imagesize::ImageType::Gif => "GIF",
        imagesize::ImageType::Bmp => "BMP",
        imagesize::ImageType::Heif(_) => "AVIF/HEIF",
        imagesize::ImageType::Ico => "ICO",
        _ => return Err(not_an_image(name)),
    };
    let size = imagesize::blob_size(bytes).map_err(|_| {
        Error::BadImage(format!("{name} starts as a {format} file but its size cannot be read: the file is damaged or cut short; choose another photo, or open and save it again"))
    })?;
    let orientation = exif_orientation(bytes);
    let (stored_w, stored_h) = (size.width, size.height);
    if stored_w == 0 || stored_h == 0 {
        return Err(Error::BadImage(format!(
            "{name} says it is {stored_w} x {stored_h} pixels: the file is damaged; choose another photo, or open and save it again"
        )));
    }
    if (stored_w as u64) * (stored_h as u64) > MAX_PIXELS {
        return Err(Error::BadImage(format!(
            "{name} is {stored_w} x {stored_h} pixels ({} megapixels), too large: the limit is {} megapixels (16384 x 16384); scale it down first (the networks work at 224 pixels at most)",
            (stored_w as u64 * stored_h as u64) / 1_000_000,
            MAX_PIXELS / 1_000_000
        )));
    }
    let header = PhotoHeader { format, width: stored_w, height: stored_h, orientation };
    Ok(if header.transposed() { PhotoHeader { width: stored_h, height: stored_w, ..header } } else { header })
}

fn not_an_image(name: &str) -> Error {
    Error::BadImage(format!("{name} is not a photo this can read; choose a JPEG, PNG, WebP, GIF or BMP file"))
}

/// The EXIF orientation (1..=8) of a JPEG, PNG, WebP or HEIF, 1 where there is none or it is
/// unreadable (as browsers do).
fn exif_orientation(bytes: &[u8]) -> u8 {
    let exif = exif::Reader::new().read_from_container(&mut Cursor::new(bytes));
    let value = exif.ok().and_then(|e| e.get_field(exif::Tag::Orientation, exif::In::PRIMARY).and_then(|f| f.value.get_uint(0)));
    match value {
        Some(v @ 1..=8) => v as u8,
        _ => 1,
    }
}

/// Transparent pixels over white, in place: `c = c * a + 255 * (1 - a)`, alpha made opaque.
/// Straight (not premultiplied) RGBA, as decoders and `getImageData` give it.
pub fn composite_on_white(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        let a = px[3] as f32 / 255.0;
        if px[3] != 255 {
            for c in &mut px[..3] {
                *c = (*c as f32 * a + 255.0 * (1.0 - a)).round() as u8;
            }
            px[3] = 255;
        }
    }
}

/// The size a `width x height` photo is first scaled to: longer side at most [`PRESCALE_SIDE`],
/// aspect kept, each side at least 1.
pub fn prescale_size(width: usize, height: usize) -> (usize, usize) {
    let longer = width.max(height);
    if longer <= PRESCALE_SIDE {
        return (width, height);
    }
    let scale = PRESCALE_SIDE as f64 / longer as f64;
    let side = |v: usize| ((v as f64 * scale).round() as usize).max(1);
    (side(width), side(height))
}

/// Scales opaque `width x height` RGBA to `to_width x to_height` with the `image` crate's
/// triangle (bilinear, widened when shrinking) filter.
pub fn resize(rgba: &[u8], width: usize, height: usize, to_width: usize, to_height: usize) -> Result<Vec<u8>> {
    if (to_width, to_height) == (width, height) {
        return Ok(rgba.to_vec());
    }
    let image: ImageBuffer<Rgba<u8>, &[u8]> = ImageBuffer::from_raw(width as u32, height as u32, rgba).ok_or_else(|| {
        Error::BadImage(format!("{} bytes for {width} x {height} RGBA pixels, expected {}", rgba.len(), width * height * 4))
    })?;
    Ok(image::imageops::resize(&image, to_width as u32, to_height as u32, image::imageops::FilterType::Triangle).into_raw())
}

/// Steps 4 and 5 from decoded, upright, opaque pixels: the photo at the working size, as
/// `(rgba, width, height)`. The page calls it with pixels the browser already scaled to at most
/// [`PRESCALE_SIDE`]; `render` with the whole photo.
pub fn to_working_size(rgba: &[u8], width: usize, height: usize) -> Result<(Vec<u8>, usize, usize)> {
    let (pw, ph) = prescale_size(width, height);
    let pre = if (pw, ph) == (width, height) { None } else { Some(resize(rgba, width, height, pw, ph)?) };
    let (ww, wh) = working_size(pw, ph);
    let out = resize(pre.as_deref().unwrap_or(rgba), pw, ph, ww, wh)?;
    Ok((out, ww, wh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_size_keeps_the_aspect_ratio() {
        assert_eq!(working_size(512, 512), (224, 224));
        assert_eq!(working_size(12000, 6000), (224, 112));
        assert_eq!(working_size(300, 10), (224, 8));
        assert_eq!(working_size(32, 48), (149, 224));
    }

    #[test]
    fn white_is_where_nothing_was() {
        let mut px = vec![0, 0, 0, 0, 200, 100, 0, 255, 0, 0, 0, 128];
        composite_on_white(&mut px);
        assert_eq!(px, vec![255, 255, 255, 255, 200, 100, 0, 255, 127, 127, 127, 255]);
    }

    #[test]
    fn prescale_keeps_small_photos_and_shrinks_large_ones() {
        assert_eq!(prescale_size(320, 240), (320, 240));
        assert_eq!(prescale_size(16000, 16000), (1024, 1024));
        assert_eq!(prescale_size(4032, 3024), (1024, 768));
        assert_eq!(prescale_size(30000, 3), (1024, 1));
    }

    #[test]
    fn one_pixel_is_scaled_up_to_the_working_size() {
        let (rgba, w, h) = to_working_size(&[10, 20, 30, 255], 1, 1).unwrap();
        assert_eq!((w, h), (224, 224));
        assert!(rgba.chunks_exact(4).all(|p| p == [10, 20, 30, 255]));
    }

    #[test]
    fn headers_that_are_not_photos_are_named() {
        let err = read_header(b"hello world, not a photo", 24, "notes.txt").unwrap_err().to_string();
        assert!(err.contains("notes.txt is not a photo"), "{err}");
        let err = read_header(b"", 0, "empty.png").unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = read_header(b"\x89PNG", MAX_FILE_BYTES + 1, "huge.png").unwrap_err().to_string();
        assert!(err.contains("over the 100 MB limit"), "{err}");
    }
}
