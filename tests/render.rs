//! `attention-playground render`: figures (SVG, and PNG at 2x from that SVG) and result.json for a
//! photo in each accepted format, and a one-line refusal (exit 2, nothing written) for files that
//! are not photos.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;
use std::process::Command;

use image::{ImageFormat, RgbImage, RgbaImage};
use resvg::usvg;

fn render(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_attention-playground")).arg("render").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn sample(name: &str) -> String {
    format!("{}/www/samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Decodes a PNG and checks it holds a drawing: at least `min_colours` distinct colours (a chart
/// has dozens from its anti-aliased text, a map over a photo thousands).
fn assert_png(path: &Path, min_colours: usize) -> RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let img = image::load_from_memory_with_format(&bytes, ImageFormat::Png).unwrap().to_rgb8();
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort();
    colours.dedup();
    assert!(colours.len() >= min_colours, "{} has {} colours", path.display(), colours.len());
    img
}

/// Reads a figure's SVG back with usvg (the parser resvg renders from) and returns its size in CSS
/// pixels and the content of its `<text>` elements.
fn read_svg(path: &Path) -> ((u32, u32), Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tree = usvg::Tree::from_str(&text, &usvg::Options::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let size = tree.size();
    assert_eq!((size.width().fract(), size.height().fract()), (0.0, 0.0), "{}: whole pixels", path.display());
    let doc = usvg::roxmltree::Document::parse(&text).unwrap();
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.descendants().filter(|t| t.is_text()).filter_map(|t| t.text()).collect::<String>())
        .collect();
    ((size.width() as u32, size.height() as u32), texts)
}

/// The distinct grey levels in the top `rows` rows of `img` (its title strip): anti-aliased text
/// has dozens between its ink and the white page, a bitmap font's text two.
fn grey_levels(img: &RgbImage, rows: u32) -> usize {
    let mut levels = [false; 256];
    for y in 0..rows.min(img.height()) {
        for x in 0..img.width() {
            let [r, g, b] = img.get_pixel(x, y).0;
            if r.max(g).max(b) - r.min(g).min(b) <= 4 {
                levels[g as usize] = true;
            }
        }
    }
    levels.iter().filter(|&&l| l).count()
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
        let min_colours = if name.starts_with("channels") { 20 } else { 1000 };
        let png = assert_png(&out.join(format!("{name}.png")), min_colours);
        let ((w, h), texts) = read_svg(&out.join(format!("{name}.svg")));
        assert!(w >= 300 && h >= 200, "{name}: {w} x {h}");
        assert_eq!(png.dimensions(), (2 * w, 2 * h), "{name}: the PNG is the SVG at 2x");
        // The title's strip (36 CSS px) holds only the title: anti-aliased, in many greys (28 here;
        // the 8x8 bitmap font this replaced gave its ink and the white page, nothing between).
        let greys = grey_levels(&png, 2 * 36);
        assert!(greys >= 12, "{name}: {greys} grey levels in the title strip; is the text anti-aliased?");
        let title = texts.first().map_or("", String::as_str);
        let expected = match name {
            "channels-se" => "SE: 16 channel weights",
            "channels-eca" => "ECA: 16 channel weights",
            "channels-gc" => "GC: 16 channel weights",
            "channels-cbam" => "CBAM: 32 channel weights",
            "spatial-cbam" => "CBAM spatial gate",
            "context-gc" => "GC context weights",
            "attention-nonlocal" => "Non-local: where the marked position attends",
            _ => "MHSA: where the marked position attends",
        };
        assert!(title.starts_with(expected), "{name}: title `{title}`");
        let has = |t: &str| texts.iter().any(|s| s == t);
        if ["channels-se", "channels-eca", "channels-gc"].contains(&name) {
            for channel in ["red", "bright", "diagonal edges \\, coarse", "blue-yellow edges"] {
                assert!(has(channel), "{name}: no label `{channel}` in {texts:?}");
            }
        }
        if name == "channels-cbam" {
            assert!(has("channel 0") && has("channel 31"), "{name}: {texts:?}");
        }
        if !name.starts_with("channels") {
            assert!(has("gate") || has("weight") || has("attention"), "{name}: the colour bar's label in {texts:?}");
        }
        if name == "attention-mhsa" {
            assert!((1..=4).all(|i| has(&format!("head {i} of 4"))), "{name}: a panel per head in {texts:?}");
        }
    }
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["backend"], "cpu");
    let (width, height) = (result["width"].as_u64().unwrap(), result["height"].as_u64().unwrap());
    assert_eq!(width.max(height), 224);
    assert_eq!(result["blocks"]["se"]["channel"].as_array().unwrap().len(), 16);
    assert_eq!(result["blocks"]["se"]["channel_names"][0], "red");
    // The network computes on the photo scaled to 96 px on its longer side; the late blocks work
    // on an eighth of that.
    let late = |v: u64| ((v as f64 * 96.0 / width.max(height) as f64).round() as u64).max(16) / 4 / 2;
    let spatial = &result["blocks"]["cbam"]["spatial"];
    assert_eq!(spatial["width"].as_u64().unwrap(), late(width));
    assert_eq!(spatial["data"].as_array().unwrap().len() as u64, late(width) * late(height));
    // --query 100,60 on the 512-px photo lands in this cell of the late blocks' grid.
    let (photo_w, photo_h) = image::image_dimensions(sample("astronaut.jpg")).unwrap();
    let query = &result["blocks"]["nonlocal"]["query"];
    assert_eq!(query["x"].as_u64().unwrap(), (100.0 / photo_w as f64 * late(width) as f64) as u64);
    assert_eq!(query["y"].as_u64().unwrap(), (60.0 / photo_h as f64 * late(height) as f64) as u64);
    assert_eq!(result["blocks"]["mhsa"]["attention"].as_array().unwrap().len(), 4);
    // GCNet's question, measured on a 4 x 4 grid of queries: one divergence per head, in bits.
    for (block, heads) in [("nonlocal", 1), ("mhsa", 4)] {
        let measured = &result["blocks"][block]["query_independence"];
        assert_eq!(measured["side"], 4, "{block}: {measured}");
        let bits: Vec<f64> = measured["js_bits"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
        assert_eq!(bits.len(), heads, "{block}");
        assert!(bits.iter().all(|b| (0.0..=1.0).contains(b)), "{block}: {bits:?}");
    }
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
        assert_png(&out.join("spatial-cbam.png"), 1000);
        read_svg(&out.join("spatial-cbam.svg"));
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
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let cases = [
        (text.clone(), "is not a photo this can read; choose a JPEG, PNG, WebP, GIF or BMP file"),
        (disguised, "is not a photo this can read"),
        (truncated, "cannot decode it, the file is damaged or cut short"),
        (huge, "is 30000 x 30000 pixels (900 megapixels), too large"),
        (empty, "is empty (0 bytes)"),
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

/// The photo `render` saw (`photo.png`) for a case file of tests/fixtures/cases/.
fn seen(case: &str, dir: &Path) -> RgbImage {
    let out = dir.join(case);
    let path = format!("{}/tests/fixtures/cases/{case}", env!("CARGO_MANIFEST_DIR"));
    let (code, stderr) = render(&["--image", &path, "--out", out.to_str().unwrap(), "--blocks", "none", "--backend", "cpu"]);
    assert_eq!(code, 0, "{case}: {stderr}");
    image::open(out.join("photo.png")).unwrap().to_rgb8()
}

/// Mean absolute difference per channel value, in units of 1/255.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as i64 - y as i64).unsigned_abs()).sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn photos_are_read_as_the_page_reads_them_upright_on_white_any_size() {
    // The page's side of the same contract, and the two compared, are in tests/browser/real-world.test.mjs.
    let dir = tempfile::tempdir().unwrap();
    let upright = seen("portrait_upright.png", dir.path());
    assert_eq!(upright.dimensions(), (168, 224));
    for rotated in ["exif_orient6.jpg", "exif_orient8.jpg"] {
        let photo = seen(rotated, dir.path());
        assert_eq!(photo.dimensions(), (168, 224), "{rotated} stands upright");
        // JPEG against the PNG it was made from: compression, not orientation (lying on its side: ~60).
        let d = mean_difference(&photo, &upright);
        assert!(d < 4.0, "{rotated} looks like portrait_upright.png: mean difference {d}");
    }
    for (transparent, white) in [
        ("rgba_transparent.png", "rgba_on_white.png"),
        ("la_transparent.png", "la_on_white.png"),
        ("palette_trns.png", "rgba_on_white.png"),
    ] {
        let d = mean_difference(&seen(transparent, dir.path()), &seen(white, dir.path()));
        assert!(d <= 0.5, "{transparent} is composited on white like {white}: mean difference {d}");
    }
    let one = seen("one_by_one.png", dir.path());
    assert_eq!(one.dimensions(), (224, 224), "a 1 x 1 photo is scaled, as in the page");
    assert_eq!(seen("bomb_16000.png", dir.path()).dimensions(), (224, 224), "16000 x 16000 is scaled");
}

/// The photo as `render --model` and `net --image` read it: upright by its EXIF orientation, on white.
fn upright(path: &str) -> RgbaImage {
    let bytes = std::fs::read(path).unwrap();
    let header = attention_playground::photo::read_header(&bytes, bytes.len(), path).unwrap();
    let mut decoded = image::load_from_memory(&bytes).unwrap();
    if let Some(orientation) = image::metadata::Orientation::from_exif(header.orientation) {
        decoded.apply_orientation(orientation);
    }
    let mut rgba = decoded.to_rgba8();
    attention_playground::photo::composite_on_white(&mut rgba);
    rgba
}

fn net_fixture(name: &str) -> String {
    format!("{}/tests/fixtures/nets/{name}/model.safetensors", env!("CARGO_MANIFEST_DIR"))
}

/// Checks `render --model`'s result.json against the same network run through the library on the
/// same preprocessed photo (what `net --input` would write): the blocks in order, their paths,
/// kinds, widths and grids, every map within 1e-5, and the top five classes with and without
/// `off`. Returns the block paths and the figures each lists.
fn check_result(dir: &Path, model: &str, arch: Option<&str>, photo: &str, off: &[&str]) -> Vec<(String, Vec<String>)> {
    use attention_playground::net::preprocess::{Preprocess, class_names, top_k};
    use attention_playground::net::{Off, checkpoint::StateDict, families};
    use attention_playground::{AnyBackend, CpuBackend};

    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap();
    let net = families::build(&StateDict::read_path(Path::new(model)).unwrap(), arch).unwrap();
    let rgba = upright(photo);
    let x = Preprocess::default().apply(rgba.as_raw(), rgba.width() as usize, rgba.height() as usize).unwrap();
    let backend = AnyBackend::Cpu(CpuBackend::new());
    let run = pollster::block_on(net.run(&backend, &x, &Off::default())).unwrap();
    assert_eq!(result["arch"], net.arch.as_str());
    assert_eq!(result["family"], net.family);
    assert_eq!(result["network"]["arch"], net.arch.as_str());
    assert_eq!(result["input"]["size"], 224);
    let names = class_names(net.classes, None).unwrap();
    let check_top = |json: &serde_json::Value, logits: &attention_playground::Tensor, what: &str| {
        let list = json.as_array().unwrap_or_else(|| panic!("{what}: no top5"));
        let expected = top_k(logits.data(), 5);
        assert_eq!(list.len(), expected.len().min(5), "{what}");
        for (got, (i, p)) in list.iter().zip(expected) {
            assert_eq!(got["index"].as_u64().unwrap() as usize, i, "{what}");
            assert_eq!(got["name"], names[i].as_str(), "{what}");
            assert!((got["probability"].as_f64().unwrap() - p as f64).abs() < 1e-5, "{what}: {got} against {p}");
        }
    };
    check_top(&result["top5"], &run.logits, "top5");
    if off.is_empty() {
        assert!(result.get("off").is_none());
    } else {
        let without = pollster::block_on(net.run(&backend, &x, &Off(off.iter().map(|s| s.to_string()).collect()))).unwrap();
        check_top(&result["off"]["top5"], &without.logits, "off.top5");
        let covered: Vec<&str> = without.blocks.iter().filter(|b| b.off).map(|b| b.path.as_str()).collect();
        let listed: Vec<&str> = result["off"]["blocks"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        assert_eq!(listed, covered);
    }

    let blocks = result["network"]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), run.blocks.len(), "every block, in order");
    let close = |got: &serde_json::Value, want: &[f32], what: &str| {
        let got = got.as_array().unwrap_or_else(|| panic!("{what}: not an array"));
        assert_eq!(got.len(), want.len(), "{what}");
        let worst = got.iter().zip(want).map(|(g, w)| (g.as_f64().unwrap() - *w as f64).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{what}: off by {worst}");
    };
    let mut out = Vec::new();
    for (json, record) in blocks.iter().zip(&run.blocks) {
        let path = record.path.as_str();
        assert_eq!(json["path"], path);
        assert_eq!(json["kind"], record.kind);
        assert_eq!(json["channels"].as_u64().unwrap() as usize, record.channels, "{path}");
        assert_eq!((json["grid"]["height"].as_u64().unwrap() as usize, json["grid"]["width"].as_u64().unwrap() as usize), record.grid);
        assert!(!record.maps.is_empty(), "{path}: the fixture's blocks all have maps");
        for (name, map) in &record.maps {
            match *name {
                "channel" => close(&json["channel"], map.data(), &format!("{path}.channel")),
                _ => {
                    let plane = &json[*name];
                    assert_eq!(plane["height"].as_u64().unwrap() as usize, map.shape()[1], "{path}.{name}");
                    assert_eq!(plane["width"].as_u64().unwrap() as usize, map.shape()[2], "{path}.{name}");
                    close(&plane["data"], map.data(), &format!("{path}.{name}"));
                }
            }
        }
        let figures = json["figures"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
        out.push((path.to_string(), figures));
    }
    out
}

/// Every figure of a `render --model` run: each block's (SVG parses back, its title names the
/// block, the PNG is the SVG at 2x and holds a drawing) and the overview (every block path and
/// stage as text).
fn check_figures(dir: &Path, blocks: &[(String, Vec<String>)], stages: &[&str]) {
    for (path, figures) in blocks {
        assert!(!figures.is_empty(), "{path}: a figure");
        for name in figures {
            assert!(name.starts_with(&format!("{}-", path.replace('.', "-"))), "{name} is named by {path}");
            let kind = name.rsplit('-').next().unwrap();
            assert!(["channels", "spatial", "context", "branches"].contains(&kind), "{name}");
            let ((w, h), texts) = read_svg(&dir.join(format!("{name}.svg")));
            let png = assert_png(&dir.join(format!("{name}.png")), if ["channels", "branches"].contains(&kind) { 20 } else { 1000 });
            assert_eq!(png.dimensions(), (2 * w, 2 * h), "{name}: the PNG is the SVG at 2x");
            assert!(texts[0].starts_with(&format!("{path} · ")), "{name}: title `{}`", texts[0]);
        }
    }
    let ((w, h), texts) = read_svg(&dir.join("overview.svg"));
    let png = assert_png(&dir.join("overview.png"), 200);
    assert_eq!(png.dimensions(), (2 * w, 2 * h));
    let has = |t: &str| texts.iter().any(|s| s == t);
    for (path, _) in blocks {
        assert!(has(path), "overview: no `{path}` in {texts:?}");
    }
    for stage in stages {
        assert!(has(stage), "overview: no stage `{stage}` in {texts:?}");
    }
    // In order of depth.
    let at = |t: &str| texts.iter().position(|s| s == t).unwrap();
    assert!(blocks.windows(2).all(|w| at(&w[0].0) < at(&w[1].0)), "overview: blocks by depth in {texts:?}");
    let photo = image::open(dir.join("photo.png")).unwrap();
    assert_eq!((photo.width(), photo.height()), (224, 224), "the crop the network saw");
}

#[test]
fn a_whole_network_gives_each_block_its_figures_an_overview_and_its_maps() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let model = net_fixture("resnet50d_cbam");
    let (code, stderr) = render(&[
        "--model",
        &model,
        "--image",
        &sample("cat.jpg"),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
        "--off",
        "layer4.0.se",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for part in ["4 cbam blocks", "on the cpu backend", "with layer4.0.se off", "overview.{svg,png}", "result.json"] {
        assert!(stderr.contains(part), "no `{part}` in {stderr}");
    }
    let blocks = check_result(&out, &model, None, &sample("cat.jpg"), &["layer4.0.se"]);
    let paths: Vec<&str> = blocks.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(paths, ["layer1.0.se", "layer2.0.se", "layer3.0.se", "layer4.0.se"]);
    for (path, figures) in &blocks {
        let stem = path.replace('.', "-");
        assert_eq!(figures, &[format!("{stem}-channels"), format!("{stem}-spatial")], "CBAM: its gates and its spatial map");
    }
    check_figures(&out, &blocks, &["layer1", "layer2", "layer3", "layer4"]);
    // 24 channels: a bar each, named; 96: the sorted profile with the extremes named.
    let (_, texts) = read_svg(&out.join("layer1-0-se-channels.svg"));
    assert!(texts.iter().any(|t| t == "channel 23") && texts.iter().any(|t| t == "channel 0"), "{texts:?}");
    let (_, texts) = read_svg(&out.join("layer3-0-se-channels.svg"));
    assert!(texts.iter().any(|t| t == "highest") && texts.iter().any(|t| t == "lowest"), "{texts:?}");
    assert_eq!(texts.iter().filter(|t| t.starts_with("channel ") && !t.starts_with("channel rank")).count(), 10, "{texts:?}");
}

/// SKNet (told by its keys): each Selective Kernel block's figure is its branch shares, a row per
/// branch, and result.json holds the shares `(R, C)` within 1e-5 of the library's run.
#[test]
fn a_selective_kernel_network_draws_each_block_s_branch_shares() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let model = net_fixture("skresnet18");
    let (code, stderr) = render(&["--model", &model, "--image", &sample("cat.jpg"), "--out", out.to_str().unwrap(), "--backend", "cpu"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("4 sk blocks"), "{stderr}");
    let blocks = check_result(&out, &model, None, &sample("cat.jpg"), &[]);
    assert_eq!(blocks.len(), 4);
    for (path, figures) in &blocks {
        assert_eq!(figures, &[format!("{}-branches", path.replace('.', "-"))], "SK: its branch shares");
    }
    check_figures(&out, &blocks, &["layer1", "layer2", "layer3", "layer4"]);
    let (_, texts) = read_svg(&out.join("layer1-0-conv1-branches.svg"));
    assert!(
        texts.iter().any(|t| t.starts_with("branch 1 (dilation 1) · mean "))
            && texts.iter().any(|t| t.starts_with("branch 2 (dilation 2)")),
        "{texts:?}"
    );
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    let shares = &result["network"]["blocks"][0]["branch"];
    assert_eq!(shares["height"], 2);
    let (c, data) = (shares["width"].as_u64().unwrap() as usize, shares["data"].as_array().unwrap());
    for i in 0..c {
        let sum = data[i].as_f64().unwrap() + data[c + i].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-5, "channel {i}'s shares sum to {sum}");
    }
}

/// A BoTNet's self-attention blocks each get a figure of where the centre position of their grid
/// attends, one panel per head, at the input size their position embeddings fix (the fixture's
/// 64 px, read off the network); result.json names it.
#[test]
fn a_botnet_draws_where_each_block_s_centre_query_attends_per_head() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let model = net_fixture("botnet26t_256");
    let args =
        ["--model", &model, "--arch", "botnet26t_256", "--image", &sample("cat.jpg"), "--out", out.to_str().unwrap(), "--backend", "cpu"];
    let (code, stderr) = render(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 bot blocks"), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["input"]["size"], 64, "the size its position embeddings fix");
    let blocks = result["network"]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2);
    for block in blocks {
        let path = block["path"].as_str().unwrap();
        let figure = format!("{}-attention", path.replace('.', "-"));
        assert_eq!(block["figures"], serde_json::json!([figure]), "{path}");
        let (_, texts) = read_svg(&out.join(format!("{figure}.svg")));
        for head in 1..=4 {
            assert!(texts.iter().any(|t| t == &format!("head {head} of 4")), "{path}: {texts:?}");
        }
        assert!(texts.iter().any(|t| t.contains("where the centre position attends, in each of its 4 heads")), "{texts:?}");
        assert!(out.join(format!("{figure}.png")).exists());
    }
}

#[test]
fn a_mobile_net_renders_with_its_arch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let model = net_fixture("mobilenetv3_small_100");
    let (code, stderr) = render(&[
        "--model",
        &model,
        "--arch",
        "mobilenetv3_small_100",
        "--image",
        &sample("astronaut.jpg"),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("6 se blocks") && stderr.contains("on the cpu backend"), "{stderr}");
    let blocks = check_result(&out, &model, Some("mobilenetv3_small_100"), &sample("astronaut.jpg"), &[]);
    assert_eq!(blocks.len(), 6);
    assert_eq!(blocks[0].0, "blocks.0.0.se");
    assert!(blocks.iter().all(|(_, f)| f.len() == 1 && f[0].ends_with("-channels")), "SE: its gates only: {blocks:?}");
    check_figures(&out, &blocks, &["blocks.0", "blocks.2", "blocks.3", "blocks.4"]);
}

#[test]
fn whole_network_options_are_checked_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let model = net_fixture("resnet50d_cbam");
    let (image, out_arg) = (sample("cat.jpg"), out.to_str().unwrap().to_string());
    let base = ["--image", image.as_str(), "--out", out_arg.as_str(), "--backend", "cpu"];
    let cases: [(Vec<&str>, &str); 7] = [
        (vec!["--model", &model, "--blocks", "se"], "option --blocks applies to the bundled network, not to --model"),
        (vec!["--model", &model, "--query", "10,10"], "option --query applies to the bundled network"),
        (vec!["--model", &model, "--weights", "se=w.safetensors"], "option --weights applies to the bundled network"),
        (vec!["--arch", "seresnet50"], "option --arch applies only with --model"),
        (vec!["--off", "layer1"], "option --off applies only with --model"),
        (vec!["--model", &model, "--off", "layer9"], "option --off: `layer9` names no attention block of this network"),
        (vec!["--model", "missing.safetensors"], "missing.safetensors"),
    ];
    for (args, expected) in cases {
        let all: Vec<&str> = base.iter().copied().chain(args.iter().copied()).collect();
        let (code, stderr) = render(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: nothing written");
    }
}
