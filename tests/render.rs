//! `attention-playground render`: figures and result.json for a photo in each accepted format,
//! and a one-line refusal (exit 2, nothing written) for files that are not photos.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;
use std::process::Command;

use image::{ImageFormat, RgbaImage};

fn render(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground")).arg("render").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn sample(name: &str) -> String {
    format!("{}/www/samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Decodes a PNG and checks it holds a drawing: at least `min_colours` distinct colours (a chart
/// has four, a map over a photo hundreds).
fn assert_png(path: &Path, min_colours: usize) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let img = image::load_from_memory_with_format(&bytes, ImageFormat::Png).unwrap().to_rgb8();
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort();
    colours.dedup();
    assert!(colours.len() >= min_colours, "{} has {} colours", path.display(), colours.len());
    img.dimensions()
}

#[test]
fn a_photo_gives_every_figure_and_the_result_object() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let (code, stderr) =
        render(&["--image", &sample("astronaut.jpg"), "--out", out.to_str().unwrap(), "--backend", "cpu", "--query", "100,60"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("without attention"), "{stderr}");
    for name in [
        "channels-se",
        "channels-eca",
        "channels-gc",
        "channels-cbam",
        "spatial-cbam",
        "context-gc",
        "attention-nonlocal",
        "attention-mhsa",
    ] {
        let min_colours = if name.starts_with("channels") { 4 } else { 200 };
        let (w, h) = assert_png(&out.join(format!("{name}.png")), min_colours);
        assert!(w >= 200 && h >= 100, "{name}: {w} x {h}");
    }
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["backend"], "cpu");
    let (width, height) = (result["width"].as_u64().unwrap(), result["height"].as_u64().unwrap());
    assert_eq!(width.max(height), 224);
    assert_eq!(result["blocks"]["se"]["channel"].as_array().unwrap().len(), 16);
    assert_eq!(result["blocks"]["se"]["channel_names"][0], "red");
    let spatial = &result["blocks"]["cbam"]["spatial"];
    assert_eq!(spatial["width"].as_u64().unwrap(), width / 8);
    assert_eq!(spatial["data"].as_array().unwrap().len() as u64, (width / 8) * (height / 8));
    // --query 100,60 on the 512-px photo lands in this cell of the 1/8 grid.
    let (photo_w, photo_h) = image::image_dimensions(sample("astronaut.jpg")).unwrap();
    let query = &result["blocks"]["nonlocal"]["query"];
    assert_eq!(query["x"].as_u64().unwrap(), (100.0 / photo_w as f64 * (width / 8) as f64) as u64);
    assert_eq!(query["y"].as_u64().unwrap(), (60.0 / photo_h as f64 * (height / 8) as f64) as u64);
    assert_eq!(result["blocks"]["mhsa"]["attention"].as_array().unwrap().len(), 4);
    let probabilities = result["prediction"]["probabilities"].as_array().unwrap();
    assert_eq!(probabilities.len(), 6);
    assert!((probabilities.iter().map(|p| p.as_f64().unwrap()).sum::<f64>() - 1.0).abs() < 1e-5);
    assert!(result["baseline"]["label"].is_string());
}

#[test]
fn png_webp_and_gif_photos_render_too() {
    let dir = tempfile::tempdir().unwrap();
    // A scene with an object, at an odd size, in each format.
    let photo = RgbaImage::from_fn(301, 157, |x, y| {
        let inside = (x as i32 - 150).pow(2) + (y as i32 - 80).pow(2) < 40 * 40;
        if inside { image::Rgba([220, 40, 30, 255]) } else { image::Rgba([(x % 200) as u8, 120, (y % 150) as u8, 255]) }
    });
    for (ext, format) in [("png", ImageFormat::Png), ("webp", ImageFormat::WebP), ("gif", ImageFormat::Gif)] {
        let path = dir.path().join(format!("photo.{ext}"));
        photo.save_with_format(&path, format).unwrap();
        let out = dir.path().join(ext);
        let (code, stderr) =
            render(&["--image", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", "cpu", "--blocks", "cbam,se"]);
        assert_eq!(code, 0, "{ext}: {stderr}");
        assert_png(&out.join("spatial-cbam.png"), 200);
        assert!(!out.join("attention-nonlocal.png").exists(), "only the blocks asked for");
    }
}

#[test]
fn files_that_are_not_photos_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a photo").unwrap();
    let disguised = dir.path().join("notes.jpg");
    std::fs::write(&disguised, "not a photo either").unwrap();
    // A PNG cut in half. (A cut JPEG decodes, its missing rows grey, as browsers show it.)
    let whole = dir.path().join("whole.png");
    RgbaImage::from_fn(200, 200, |x, y| image::Rgba([x as u8, y as u8, (x ^ y) as u8, 255])).save(&whole).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    let truncated = dir.path().join("cut.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // A PNG header that claims 30000 x 30000 pixels.
    let huge = dir.path().join("huge.png");
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&30000u32.to_be_bytes());
    chunk.extend_from_slice(&30000u32.to_be_bytes());
    chunk.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d".to_vec();
    header.extend_from_slice(&chunk);
    header.extend_from_slice(&crc32(&chunk).to_be_bytes());
    std::fs::write(&huge, header).unwrap();
    let cases = [
        (text.clone(), "not a JPEG, PNG, WebP or GIF"),
        (disguised, "cannot decode it"),
        (truncated, "cannot decode"),
        (huge, "larger than 20000 pixels"),
        (dir.path().join("missing.png"), "cannot read image"),
    ];
    for (path, expected) in cases {
        let out = dir.path().join("out");
        let (code, stderr) = render(&["--image", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--backend", "cpu"]);
        assert_eq!(code, 2, "{}: {stderr}", path.display());
        assert!(stderr.contains(expected), "{}: {stderr}", path.display());
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"));
        assert!(!out.exists(), "nothing written for {}", path.display());
    }
    let (code, stderr) = render(&["--image", &sample("cat.jpg"), "--out", dir.path().join("q").to_str().unwrap(), "--query", "5000,1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--query"), "{stderr}");
    let (code, stderr) =
        render(&["--image", &sample("cat.jpg"), "--out", dir.path().join("b").to_str().unwrap(), "--blocks", "se,attention"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("attention"), "{stderr}");
}

/// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
