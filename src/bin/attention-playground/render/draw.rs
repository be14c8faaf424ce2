//! Drawing the figures. Each figure is drawn once, as SVG: bars, axes, colour bars and markers as
//! vector shapes, every label as a real `<text>`, and only what is raster by nature (the photo and
//! the map over it) as embedded PNG data URIs. The PNG beside it is that same SVG rasterised at 2x
//! by resvg, a well-kept pure-Rust SVG renderer (linebender), so the vector figure and the raster
//! one cannot drift apart and the raster's text is shaped and anti-aliased. resvg sees no system
//! fonts: it sets the text in DejaVu Sans, bundled from the `dejavu` crate, so a machine without
//! fonts (CI) renders the same PNG. The SVG names the page's font stack (system-ui first) and ends
//! with DejaVu Sans, so a browser showing it uses its own interface font.
//!
//! The look is the playground's (`www/views.js`, `www/colormap.js`, `www/styles.js`): viridis over
//! each map's own range, the map over the photo at opacity 0.6, a colour bar with five values,
//! channel bars coloured by their value and sorted, the query ringed in white with a red cross.

use std::fmt::Write;
use std::sync::Arc;

use attention_playground::model::report::Value;
use base64::Engine;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use resvg::{tiny_skia, usvg};

/// The PNG's pixels per SVG unit (CSS pixel): 2x, for print and high-density screens.
pub const PNG_SCALE: f32 = 2.0;
/// The page's font stack, then the bundled font the PNG is set in.
const FONT_STACK: &str = r#"system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif"#;
const MAP_OPACITY: f32 = 0.6;
const PAD: f64 = 16.0;
/// The longer side of the photo in a one-panel figure, and in each panel of several.
const PHOTO_BOX: f64 = 336.0;
const PANEL_BOX: f64 = 240.0;
const LEGEND_BAR: f64 = 14.0;

const INK: &str = "#1d1d1f";
const MUTED: &str = "#6b6b76";
const LINE: &str = "#e3e3e8";
const LEGEND_EDGE: &str = "#c9c9d2";
const QUERY: &str = "#e5484d";

/// Viridis as `www/colormap.js` builds it: eleven stops of the published map, interpolated into 256 entries.
const VIRIDIS_STOPS: [[f32; 3]; 11] = [
    [68.0, 1.0, 84.0],
    [72.0, 36.0, 117.0],
    [65.0, 68.0, 135.0],
    [53.0, 95.0, 141.0],
    [42.0, 120.0, 142.0],
    [33.0, 145.0, 140.0],
    [34.0, 168.0, 132.0],
    [68.0, 191.0, 112.0],
    [122.0, 209.0, 81.0],
    [189.0, 223.0, 38.0],
    [253.0, 231.0, 37.0],
];

/// The colour of `t` in `[0, 1]`: the nearest of the 256 entries, as the page's `viridis(t)`.
fn viridis(t: f32) -> [u8; 3] {
    let i = (t.clamp(0.0, 1.0) * 255.0).round() / 255.0 * (VIRIDIS_STOPS.len() - 1) as f32;
    let k = (i as usize).min(VIRIDIS_STOPS.len() - 2);
    let f = i - k as f32;
    [0, 1, 2].map(|c| (VIRIDIS_STOPS[k][c] * (1.0 - f) + VIRIDIS_STOPS[k + 1][c] * f).round() as u8)
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A map of the result object: `{ width, height, data }`.
pub struct Map {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Map {
    /// The mean of each row (a `branch` map's: each branch's mean share over the channels).
    pub fn row_means(&self) -> Vec<f32> {
        self.data
            .chunks_exact(self.width.max(1))
            .map(|row| (row.iter().map(|&v| v as f64).sum::<f64>() / row.len() as f64) as f32)
            .collect()
    }

    pub fn from_value(v: &Value) -> Option<Self> {
        match (v.get("width"), v.get("height"), v.get("data")) {
            (Some(Value::Number(w)), Some(Value::Number(h)), Some(Value::Floats(d)))
                if *w >= 1.0 && *h >= 1.0 && d.len() == (*w as usize) * (*h as usize) =>
            {
                Some(Self { width: *w as usize, height: *h as usize, data: d.clone() })
            }
            _ => None,
        }
    }

    fn range(&self) -> (f32, f32) {
        self.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }

    /// The map at its own size in viridis over its range, as a PNG data URI; the viewer smooths it
    /// when scaling it over the photo, as the page's canvas does.
    fn data_uri(&self) -> String {
        let (lo, hi) = self.range();
        let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
        let pixels = self.data.iter().flat_map(|&v| viridis((v - lo) / span)).collect();
        let img = RgbImage::from_raw(self.width as u32, self.height as u32, pixels).expect("width x height values");
        png_data_uri(&img)
    }
}

/// A query position: the cell `(x, y)` of a `width x height` grid.
#[derive(Clone, Copy)]
pub struct Query {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One attention block in [`Painter::overview`].
pub struct Cell {
    /// Its module path, the cell's heading.
    pub path: String,
    /// Two lines under it (its kind and width; its mean gate or map size).
    pub caption: String,
    pub detail: String,
    pub gates: Option<Vec<f32>>,
    /// Spatial or context maps, drawn over the photo.
    pub maps: Vec<Map>,
    /// A branch attention's shares, `height` branches by `width` channels, on a 0..1 scale.
    pub shares: Option<Map>,
}

/// A row of [`Painter::overview`]: the blocks of one stage (`layer1`, `blocks.3`).
pub struct Stage {
    pub name: String,
    pub note: String,
    pub cells: Vec<Cell>,
}

/// The most cells a stage puts on one line of the overview.
fn stage_width(stages: &[Stage], per_line: usize) -> usize {
    stages.iter().map(|s| s.cells.len().min(per_line)).max().unwrap_or(1)
}

/// The value axis of channel gates: 0 to 1 for gates in [0, 1] (as the page), else their range
/// with 0.
fn value_axis(lo: f32, hi: f32) -> (f32, f32) {
    if lo >= 0.0 && hi <= 1.0 {
        (0.0, 1.0)
    } else {
        let l = lo.min(0.0);
        (l, hi.max(l + f32::EPSILON))
    }
}

/// The photo, encoded once for every figure that shows it.
pub struct Photo {
    width: u32,
    height: u32,
    uri: String,
}

impl Photo {
    pub fn new(rgb: &RgbImage) -> Self {
        Self { width: rgb.width(), height: rgb.height(), uri: png_data_uri(rgb) }
    }

    /// Its size scaled so the longer side is `longer`.
    fn fit(&self, longer: f64) -> (f64, f64) {
        let s = longer / self.width.max(self.height) as f64;
        ((self.width as f64 * s).round().max(1.0), (self.height as f64 * s).round().max(1.0))
    }
}

fn png_data_uri(img: &RgbImage) -> String {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("PNG encoding into memory");
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// XML text and attribute escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `views.js`'s `format`: a value for a label.
fn format_value(v: f32) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(0.001..10000.0).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.*}", if a < 0.1 { 4 } else { 3 })
    }
}

/// `views.js`'s `formatStep`: enough digits to tell apart values `step` apart (a nearly flat map).
fn format_step(v: f32, step: f32) -> String {
    let or_one = |x: f32| if x == 0.0 { 1.0 } else { x };
    let digits = ((-or_one(step.abs()).log10()).ceil() + 1.0).max(0.0);
    if digits > 5.0 {
        let precision = (digits + or_one(v.abs()).log10().floor()).clamp(2.0, 6.0) as usize;
        format!("{v:.precision$e}")
    } else {
        format!("{v:.*}", digits as usize)
    }
}

/// The kinds of text in a figure: size in px, weight, colour.
#[derive(Clone, Copy)]
enum Font {
    Title,
    Heading,
    Label,
    Note,
    Tick,
    /// Captions under small multiples.
    Small,
}

impl Font {
    fn style(self) -> (f64, u16, &'static str) {
        match self {
            Font::Title => (15.0, 600, INK),
            Font::Heading => (13.0, 600, INK),
            Font::Label => (12.0, 400, INK),
            Font::Note => (12.0, 400, MUTED),
            Font::Tick => (11.0, 400, INK),
            Font::Small => (11.0, 400, MUTED),
        }
    }
}

#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// An SVG under construction: the body is written first, the size fixed when it is finished.
#[derive(Default)]
struct Svg {
    defs: String,
    body: String,
}

impl Svg {
    fn text(&mut self, x: f64, baseline: f64, text: &str, font: Font, anchor: Anchor) {
        let (size, weight, fill) = font.style();
        let anchor = match anchor {
            Anchor::Start => "",
            Anchor::Middle => r#" text-anchor="middle""#,
            Anchor::End => r#" text-anchor="end""#,
        };
        let weight = if weight == 400 { String::new() } else { format!(r#" font-weight="{weight}""#) };
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{baseline:.1}" font-size="{size}"{weight} fill="{fill}"{anchor}>{}</text>"#,
            escape(text)
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(self.body, r#"<rect x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{fill}"/>"#);
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64) {
        let _ =
            writeln!(self.body, r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{stroke}" stroke-width="{width}"/>"#);
    }

    /// The document: a white page of `width x height` CSS pixels.
    fn finish(self, width: f64, height: f64, title: &str) -> String {
        let (w, h) = (width.ceil(), height.ceil());
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                "\n",
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" "#,
                r#"width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family='{font}'>"#,
                "\n<title>{title}</title>\n<defs>\n{gradient}{defs}</defs>\n",
                r##"<rect width="{w}" height="{h}" fill="#fff"/>"##,
                "\n{body}</svg>\n"
            ),
            w = w,
            h = h,
            font = FONT_STACK,
            title = escape(title),
            gradient = viridis_gradient(),
            defs = self.defs,
            body = self.body,
        )
    }
}

/// The colour bar's fill: viridis from the bottom (low) to the top (high), its eleven stops.
fn viridis_gradient() -> String {
    let mut out = String::from(r#"<linearGradient id="viridis" x1="0" y1="1" x2="0" y2="0">"#);
    for (i, stop) in VIRIDIS_STOPS.iter().enumerate() {
        let colour = hex(stop.map(|c| c as u8));
        let _ = write!(out, r#"<stop offset="{}" stop-color="{colour}"/>"#, i as f32 / (VIRIDIS_STOPS.len() - 1) as f32);
    }
    out.push_str("</linearGradient>\n");
    out
}

/// Draws figures as SVG and rasterises them; holds the bundled fonts.
pub struct Painter {
    options: usvg::Options<'static>,
}

impl Default for Painter {
    fn default() -> Self {
        Self::new()
    }
}

impl Painter {
    pub fn new() -> Self {
        let mut options = usvg::Options { font_family: "DejaVu Sans".into(), ..Default::default() };
        let fonts = Arc::make_mut(&mut options.fontdb);
        for face in [dejavu::sans::regular(), dejavu::sans::bold()] {
            fonts.load_font_source(usvg::fontdb::Source::Binary(Arc::new(face)));
        }
        fonts.set_sans_serif_family("DejaVu Sans");
        Self { options }
    }

    /// The figure as a PNG at [`PNG_SCALE`] times its SVG size.
    pub fn png(&self, svg: &str) -> Result<Vec<u8>, String> {
        let tree = usvg::Tree::from_str(svg, &self.options).map_err(|e| format!("cannot read back a figure's SVG: {e}"))?;
        let size = tree.size().to_int_size();
        let mut pixmap =
            tiny_skia::Pixmap::new((size.width() as f32 * PNG_SCALE).round() as u32, (size.height() as f32 * PNG_SCALE).round() as u32)
                .ok_or("a figure has no area")?;
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(&tree, tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE), &mut pixmap.as_mut());
        // Opaque (on white), so RGB without alpha: a quarter smaller.
        let rgb: Vec<u8> = pixmap.data().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        let mut png = Vec::new();
        PngEncoder::new_with_quality(&mut png, CompressionType::Default, FilterType::Adaptive)
            .write_image(&rgb, pixmap.width(), pixmap.height(), ExtendedColorType::Rgb8)
            .map_err(|e| format!("cannot encode a figure as PNG: {e}"))?;
        Ok(png)
    }

    /// The width `text` takes in `font`, as the PNG sets it (DejaVu Sans, wider than most system
    /// fonts, so a browser's text fits the same room).
    fn width(&self, text: &str, font: Font) -> f64 {
        let (size, weight, _) = font.style();
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="100"><text x="0" y="50" font-family="DejaVu Sans" font-size="{size}" font-weight="{weight}">{}</text></svg>"#,
            escape(text)
        );
        usvg::Tree::from_str(&svg, &self.options).map_or(0.0, |tree| {
            let bbox = tree.root().abs_bounding_box();
            (bbox.x() + bbox.width()) as f64
        })
    }

    /// A horizontal bar per channel, sorted by weight, named, with its value; coloured by value.
    pub fn channel_chart(&self, title: &str, names: &[String], values: &[f32]) -> String {
        const ROW: f64 = 20.0;
        const BAR: f64 = 13.0;
        const SPAN: f64 = 320.0;
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        // As the page: gates in [0, 1] on a fixed axis from 0 to 1, other weights on their own range.
        let gates = lo >= 0.0 && hi <= 1.0;
        let (axis_lo, axis_hi) = if gates { (0.0, 1.0) } else { (lo.min(0.0), hi.max(lo.min(0.0) + f32::EPSILON)) };
        let name_of = |c: usize| names.get(c).cloned().unwrap_or_else(|| format!("channel {c}"));
        let names_width = order.iter().map(|&c| self.width(&name_of(c), Font::Label)).fold(0.0, f64::max);
        let values_width = order.iter().map(|&c| self.width(&format_value(values[c]), Font::Label)).fold(0.0, f64::max);
        let note = "channels sorted by weight";

        let mut svg = Svg::default();
        svg.text(PAD, PAD + 14.0, title, Font::Title, Anchor::Start);
        svg.text(PAD, PAD + 34.0, note, Font::Note, Anchor::Start);
        let top = PAD + 50.0;
        // Whole pixels, so the grid lines stay crisp in the PNG.
        let left = (PAD + names_width + 12.0).ceil();
        let x_of = |v: f32| left + ((v - axis_lo) / (axis_hi - axis_lo)) as f64 * SPAN;
        let bottom = top + ROW * values.len() as f64;
        for k in 0..=4 {
            let v = axis_lo + (axis_hi - axis_lo) * k as f32 / 4.0;
            let x = x_of(v);
            svg.line((x, top - 4.0), (x, bottom + 4.0), LINE, 1.0);
            svg.text(x, bottom + 18.0, &format_step(v, (axis_hi - axis_lo) / 4.0), Font::Tick, Anchor::Middle);
        }
        let zero = x_of(0.0);
        svg.line((zero, top - 4.0), (zero, bottom + 4.0), LEGEND_EDGE, 1.0);
        let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
        for (row, &c) in order.iter().enumerate() {
            let v = values[c];
            let y = top + row as f64 * ROW;
            svg.text(left - 8.0, y + ROW / 2.0 + 4.0, &name_of(c), Font::Label, Anchor::End);
            let (a, b) = (zero.min(x_of(v)), zero.max(x_of(v)));
            svg.rect(a, y + (ROW - BAR) / 2.0, (b - a).max(1.0), BAR, &hex(viridis((v - lo) / span)));
            svg.text(b + 6.0, y + ROW / 2.0 + 4.0, &format_value(v), Font::Label, Anchor::Start);
        }
        let width = (left + SPAN + 6.0 + values_width + PAD)
            .max(PAD + self.width(title, Font::Title) + PAD)
            .max(PAD + self.width(note, Font::Note) + PAD);
        svg.finish(width, bottom + 24.0 + PAD, title)
    }

    /// A branch attention's shares (Selective Kernel, Split Attention): one row per branch named
    /// in `rows`, one column per channel, coloured on a fixed 0..1 scale (a column sums to 1 under
    /// a softmax), each row's mean beside it, and the scale under the rows.
    pub fn branch_shares(&self, title: &str, rows: &[String], map: &Map) -> String {
        const ROW: f64 = 26.0;
        const GAP: f64 = 6.0;
        const SPAN: f64 = 420.0;
        let (branches, channels) = (map.height, map.width.max(1));
        let labels: Vec<String> = map
            .row_means()
            .iter()
            .enumerate()
            .map(|(r, &mean)| format!("{} · mean {}", rows.get(r).cloned().unwrap_or_default(), format_value(mean)))
            .collect();
        let labels_width = labels.iter().map(|l| self.width(l, Font::Label)).fold(0.0, f64::max);
        let note = format!("{channels} channels in order (0 on the left); colour: the share a channel gives the branch, 0 to 1");
        let mut svg = Svg::default();
        svg.text(PAD, PAD + 14.0, title, Font::Title, Anchor::Start);
        svg.text(PAD, PAD + 34.0, &note, Font::Note, Anchor::Start);
        let top = PAD + 50.0;
        let left = (PAD + labels_width + 12.0).ceil();
        let cell = SPAN / channels as f64;
        for (r, label) in labels.iter().enumerate() {
            let y = top + r as f64 * (ROW + GAP);
            svg.text(left - 8.0, y + ROW / 2.0 + 4.0, label, Font::Label, Anchor::End);
            for c in 0..channels {
                let v = map.data[r * channels + c];
                svg.rect(left + c as f64 * cell, y, cell + 0.05, ROW, &hex(viridis(v.clamp(0.0, 1.0))));
            }
        }
        let scale_y = top + branches as f64 * (ROW + GAP) + 4.0;
        const STEPS: usize = 40;
        for i in 0..STEPS {
            let t = i as f32 / (STEPS - 1) as f32;
            svg.rect(left + i as f64 * SPAN / STEPS as f64, scale_y, SPAN / STEPS as f64 + 0.05, 10.0, &hex(viridis(t)));
        }
        for k in 0..=4 {
            let v = k as f32 / 4.0;
            svg.text(left + v as f64 * SPAN, scale_y + 26.0, &format_step(v, 0.25), Font::Tick, Anchor::Middle);
        }
        let width = (left + SPAN + PAD).max(PAD + self.width(title, Font::Title) + PAD).max(PAD + self.width(&note, Font::Note) + PAD);
        svg.finish(width, scale_y + 34.0 + PAD, title)
    }

    /// Many channel gates at once (a real network's 256 to 2048): sorted, highest first, as an area
    /// whose every column is one channel coloured by its value (the bar chart's bars, touching),
    /// the mean dashed; beside it, on the same value axis, how many channels fall in each band;
    /// and the five highest and five lowest channels named by index.
    pub fn gate_profile(&self, title: &str, values: &[f32]) -> String {
        const PLOT_W: f64 = 400.0;
        const PLOT_H: f64 = 160.0;
        const HIST_W: f64 = 72.0;
        const BINS: usize = 20;
        const LIST_ROW: f64 = 16.0;
        let n = values.len().max(1);
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let sorted: Vec<f32> = order.iter().map(|&c| values[c]).collect();
        let (lo, hi) = (sorted.last().copied().unwrap_or(0.0), sorted.first().copied().unwrap_or(0.0));
        let mean = (values.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32;
        let (axis_lo, axis_hi) = value_axis(lo, hi);
        let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
        let colour = |v: f32| hex(viridis((v - lo) / span));
        let note = format!(
            "{} channels sorted by gate, highest first: mean {} (dashed), min {}, max {}",
            values.len(),
            format_value(mean),
            format_value(lo),
            format_value(hi)
        );

        let mut svg = Svg::default();
        svg.text(PAD, PAD + 14.0, title, Font::Title, Anchor::Start);
        svg.text(PAD, PAD + 34.0, &note, Font::Note, Anchor::Start);
        let top = PAD + 58.0;
        let bottom = top + PLOT_H;
        let ticks: Vec<(f32, String)> = (0..=4)
            .map(|k| {
                let v = axis_lo + (axis_hi - axis_lo) * k as f32 / 4.0;
                (v, format_step(v, (axis_hi - axis_lo) / 4.0))
            })
            .collect();
        let ticks_width = ticks.iter().map(|(_, t)| self.width(t, Font::Tick)).fold(0.0, f64::max);
        // Whole pixels, so the grid lines stay crisp in the PNG.
        let left = (PAD + ticks_width + 8.0).ceil();
        let hist_x = left + PLOT_W + 30.0;
        let y_of = |v: f32| bottom - ((v - axis_lo) / (axis_hi - axis_lo)) as f64 * PLOT_H;
        for (v, label) in &ticks {
            let y = y_of(*v).round();
            svg.line((left - 4.0, y), (left + PLOT_W, y), LINE, 1.0);
            svg.line((hist_x, y), (hist_x + HIST_W, y), LINE, 1.0);
            svg.text(left - 8.0, y + 4.0, label, Font::Tick, Anchor::End);
        }

        // The area: a step per channel, filled left to right with each channel's colour.
        let step = PLOT_W / n as f64;
        let base = y_of(axis_lo.max(0.0).min(axis_hi));
        let mut steps = String::new();
        for (i, &v) in sorted.iter().enumerate() {
            let _ = write!(steps, "V{:.2}H{:.2}", y_of(v), left + (i + 1) as f64 * step);
        }
        let area = format!("M{left:.2} {base:.2}{steps}V{base:.2}Z");
        let outline = format!("M{left:.2} {:.2}{steps}", y_of(hi));
        let mut stops = String::new();
        if n <= 128 {
            // Few channels: each column its own colour, edges crisp.
            for (i, &v) in sorted.iter().enumerate() {
                let c = colour(v);
                let _ = write!(
                    stops,
                    r#"<stop offset="{:.5}" stop-color="{c}"/><stop offset="{:.5}" stop-color="{c}"/>"#,
                    i as f64 / n as f64,
                    (i + 1) as f64 / n as f64
                );
            }
        } else {
            for k in 0..96 {
                let t = (k as f64 + 0.5) / 96.0;
                let _ = write!(stops, r#"<stop offset="{t:.5}" stop-color="{}"/>"#, colour(sorted[((t * n as f64) as usize).min(n - 1)]));
            }
        }
        let _ = writeln!(svg.defs, r#"<linearGradient id="rank" x1="0" y1="0" x2="1" y2="0">{stops}</linearGradient>"#);
        let _ = writeln!(svg.body, r#"<path d="{area}" fill="url(#rank)"/>"#);
        let _ = writeln!(svg.body, r#"<path d="{outline}" fill="none" stroke="{INK}" stroke-width="1" stroke-opacity="0.55"/>"#);
        svg.line((left, base), (left + PLOT_W, base), LEGEND_EDGE, 1.0);
        let ym = y_of(mean);
        let _ = writeln!(
            svg.body,
            r#"<line x1="{left:.2}" y1="{ym:.2}" x2="{:.2}" y2="{ym:.2}" stroke="{QUERY}" stroke-width="1.5" stroke-dasharray="5 4"/>"#,
            left + PLOT_W
        );
        // The rank axis: the first, the quartiles and the last channel.
        let mut ranks: Vec<usize> = [1, n / 4, n / 2, 3 * n / 4, n].into_iter().filter(|&r| r >= 1).collect();
        ranks.dedup();
        for r in ranks {
            let x = left + (r as f64 - 0.5) * step;
            svg.line((x, bottom), (x, bottom + 4.0), INK, 1.0);
            svg.text(x, bottom + 17.0, &r.to_string(), Font::Tick, Anchor::Middle);
        }
        svg.text(left + PLOT_W / 2.0, bottom + 35.0, "channel rank (1: the highest gate)", Font::Note, Anchor::Middle);

        // How many channels in each band of values, on the same axis.
        let mut counts = [0usize; BINS];
        for &v in values {
            let t = ((v - axis_lo) / (axis_hi - axis_lo)) as f64;
            counts[((t * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        let most = counts.iter().copied().max().unwrap_or(1).max(1);
        let band = PLOT_H / BINS as f64;
        for (b, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let centre = axis_lo + (axis_hi - axis_lo) * (b as f32 + 0.5) / BINS as f32;
            let y = bottom - (b + 1) as f64 * band;
            svg.rect(hist_x, y + 0.5, (count as f64 / most as f64 * HIST_W).max(1.0), band - 1.0, &colour(centre.clamp(lo, hi)));
        }
        svg.line((hist_x, top - 4.0), (hist_x, bottom), LEGEND_EDGE, 1.0);
        svg.text(hist_x, bottom + 17.0, "0", Font::Tick, Anchor::Start);
        svg.text(hist_x + HIST_W, bottom + 17.0, &most.to_string(), Font::Tick, Anchor::End);
        svg.text(hist_x + HIST_W / 2.0, bottom + 35.0, "channels", Font::Note, Anchor::Middle);

        // The extremes, by index.
        let list_x = hist_x + HIST_W + 32.0;
        let k = 5.min(values.len());
        let named = |c: usize| format!("channel {c}");
        let all: Vec<usize> = order[..k].iter().chain(&order[order.len() - k..]).copied().collect();
        // Enough digits to tell the listed values apart (random or nearly flat gates tie at three).
        let gap = all.windows(2).map(|w| (values[w[0]] - values[w[1]]).abs()).filter(|&d| d > 0.0).fold(f32::INFINITY, f32::min);
        let ties = all.windows(2).any(|w| values[w[0]] != values[w[1]] && format_value(values[w[0]]) == format_value(values[w[1]]));
        let digits = ((-gap.log10()).ceil().clamp(3.0, 6.0)) as usize;
        let value_text = |v: f32| if ties { format!("{v:.digits$}") } else { format_value(v) };
        let names_width = all.iter().map(|&c| self.width(&named(c), Font::Label)).fold(0.0, f64::max);
        let values_width = all.iter().map(|&c| self.width(&value_text(values[c]), Font::Label)).fold(0.0, f64::max);
        let mut y = top + 8.0;
        for (heading, channels) in [("highest", &order[..k]), ("lowest", &order[order.len() - k..])] {
            svg.text(list_x, y, heading, Font::Heading, Anchor::Start);
            y += 4.0;
            for &c in channels {
                y += LIST_ROW;
                svg.rect(list_x, y - 9.0, 8.0, 8.0, &colour(values[c]));
                svg.text(list_x + 14.0, y, &named(c), Font::Label, Anchor::Start);
                svg.text(list_x + 14.0 + names_width + 10.0 + values_width, y, &value_text(values[c]), Font::Label, Anchor::End);
            }
            y += 26.0;
        }
        let width = (list_x + 14.0 + names_width + 10.0 + values_width + PAD)
            .max(PAD + self.width(title, Font::Title) + PAD)
            .max(PAD + self.width(&note, Font::Note) + PAD);
        svg.finish(width, (bottom + 35.0 + PAD).max(y - 26.0 + PAD), title)
    }

    /// A whole network at a glance: a row per stage, shallow to deep, and in it each attention
    /// block as a small multiple: its channel gates sorted (highest first) on one value axis
    /// shared by every block, coloured on that axis, with a bar from the lowest to the highest gate
    /// and a dot at the mean; its spatial or context maps over a thumbnail of the photo, each in
    /// its own range.
    pub fn overview(&self, title: &str, notes: &[String], thumb: &Photo, stages: &[Stage]) -> String {
        const VIS_H: f64 = 64.0;
        const CURVE_W: f64 = 84.0;
        const RANGE_W: f64 = 14.0;
        const GAP: f64 = 8.0;
        const CELL_GAP: f64 = 22.0;
        const ROW_H: f64 = 132.0;
        const PER_LINE: usize = 8;
        let cells = || stages.iter().flat_map(|s| &s.cells);
        let (glo, ghi) = cells()
            .filter_map(|c| c.gates.as_deref())
            .flatten()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        let (axis_lo, axis_hi) = if glo <= ghi { value_axis(glo, ghi) } else { (0.0, 1.0) };
        let (thumb_w, thumb_h) = thumb.fit(VIS_H);
        let visual_width = |c: &Cell| {
            let parts = c.gates.iter().map(|_| CURVE_W + RANGE_W).chain(c.maps.iter().map(|_| thumb_w)).collect::<Vec<_>>();
            if parts.is_empty() { 60.0 } else { parts.iter().sum::<f64>() + GAP * (parts.len() - 1) as f64 }
        };
        let cell_w = cells()
            .map(|c| {
                let texts = [(&c.path, Font::Tick), (&c.caption, Font::Small), (&c.detail, Font::Small)];
                texts.iter().map(|(t, f)| self.width(t, *f)).fold(visual_width(c), f64::max)
            })
            .fold(0.0, f64::max)
            .ceil()
            + CELL_GAP;
        let axis_labels = [format_step(axis_hi, axis_hi - axis_lo), format_step(axis_lo, axis_hi - axis_lo)];
        let axis_w = axis_labels.iter().map(|t| self.width(t, Font::Tick)).fold(0.0, f64::max) + 6.0;
        let label_w =
            stages.iter().map(|s| self.width(&s.name, Font::Heading).max(self.width(&s.note, Font::Small))).fold(0.0, f64::max).ceil()
                + 16.0
                + axis_w;

        let mut svg = Svg::default();
        let _ = writeln!(
            svg.defs,
            r#"<image id="thumb" width="{thumb_w}" height="{thumb_h}" preserveAspectRatio="none" xlink:href="{}"/>"#,
            thumb.uri
        );
        // The photo beside the title, the notes wrapped to the width of the rows below.
        let _ = writeln!(svg.body, r##"<use xlink:href="#thumb" x="{PAD}" y="{PAD}"/>"##);
        let text_x = PAD + thumb_w + 14.0;
        let rows_right = PAD + label_w + cell_w * stage_width(stages, PER_LINE) as f64 - CELL_GAP;
        let wrap_at = (rows_right - text_x).max(440.0);
        svg.text(text_x, PAD + 14.0, title, Font::Title, Anchor::Start);
        let mut y = PAD + 34.0;
        let mut right = text_x + self.width(title, Font::Title);
        for note in notes {
            for line in self.wrap(note, Font::Note, wrap_at) {
                right = right.max(text_x + self.width(&line, Font::Note));
                svg.text(text_x, y, &line, Font::Note, Anchor::Start);
                y += 17.0;
            }
        }
        y = y.max(PAD + thumb_h + 18.0);
        let mut gradients = 0;
        y += 4.0;
        for (s, stage) in stages.iter().enumerate() {
            if s > 0 {
                svg.line((PAD, y - 6.0), (PAD + label_w + cell_w * stage_width(stages, PER_LINE) as f64 - CELL_GAP, y - 6.0), LINE, 1.0);
            }
            for (line, chunk) in stage.cells.chunks(PER_LINE).enumerate() {
                let vis_y = y + 22.0;
                if line == 0 {
                    svg.text(PAD, vis_y + 16.0, &stage.name, Font::Heading, Anchor::Start);
                    svg.text(PAD, vis_y + 33.0, &stage.note, Font::Small, Anchor::Start);
                }
                for (j, cell) in chunk.iter().enumerate() {
                    let x = PAD + label_w + j as f64 * cell_w;
                    svg.text(x, y + 12.0, &cell.path, Font::Tick, Anchor::Start);
                    let mut vx = x;
                    if let Some(gates) = cell.gates.as_deref() {
                        let y_of = |v: f32| vis_y + VIS_H - ((v - axis_lo) / (axis_hi - axis_lo)) as f64 * VIS_H;
                        svg.rect(vx, vis_y, CURVE_W, VIS_H, "#f4f4f7");
                        if j == 0 {
                            svg.text(vx - 5.0, vis_y + 8.0, &axis_labels[0], Font::Tick, Anchor::End);
                            svg.text(vx - 5.0, vis_y + VIS_H, &axis_labels[1], Font::Tick, Anchor::End);
                        }
                        let mut sorted = gates.to_vec();
                        sorted.sort_by(|a, b| b.total_cmp(a));
                        let n = sorted.len().max(1);
                        let at = |t: f64| sorted[((t * n as f64) as usize).min(n - 1)];
                        // At most two points per CSS pixel.
                        let points = n.min(2 * CURVE_W as usize);
                        let base = y_of(axis_lo.max(0.0).min(axis_hi));
                        let mut area = format!("M{vx:.2} {base:.2}");
                        for p in 0..points {
                            let v = at((p as f64 + 0.5) / points as f64);
                            let _ = write!(area, "V{:.2}H{:.2}", y_of(v), vx + (p + 1) as f64 * CURVE_W / points as f64);
                        }
                        let _ = write!(area, "V{base:.2}Z");
                        let mut stops = String::new();
                        for k in 0..24 {
                            let t = (k as f64 + 0.5) / 24.0;
                            let _ = write!(
                                stops,
                                r#"<stop offset="{t:.4}" stop-color="{}"/>"#,
                                hex(viridis((at(t) - axis_lo) / (axis_hi - axis_lo)))
                            );
                        }
                        gradients += 1;
                        let _ =
                            writeln!(svg.defs, r#"<linearGradient id="g{gradients}" x1="0" y1="0" x2="1" y2="0">{stops}</linearGradient>"#);
                        let _ = writeln!(svg.body, r#"<path d="{area}" fill="url(#g{gradients})"/>"#);
                        // The spread: lowest to highest gate, the mean as a dot.
                        let (lo, hi) = (sorted[n - 1], sorted[0]);
                        let mean = (gates.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32;
                        let rx = vx + CURVE_W + 8.0;
                        let _ = writeln!(
                            svg.body,
                            r#"<line x1="{rx:.2}" y1="{:.2}" x2="{rx:.2}" y2="{:.2}" stroke="{INK}" stroke-width="2" stroke-linecap="round"/>"#,
                            y_of(hi),
                            y_of(lo)
                        );
                        let _ = writeln!(svg.body, r#"<circle cx="{rx:.2}" cy="{:.2}" r="3" fill="{QUERY}"/>"#, y_of(mean));
                        vx += CURVE_W + RANGE_W + GAP;
                    }
                    for map in &cell.maps {
                        let _ = writeln!(svg.body, r##"<use xlink:href="#thumb" x="{vx:.1}" y="{vis_y:.1}"/>"##);
                        let _ = writeln!(
                            svg.body,
                            r#"<image x="{vx:.1}" y="{vis_y:.1}" width="{thumb_w}" height="{thumb_h}" preserveAspectRatio="none" opacity="{MAP_OPACITY}" xlink:href="{}"/>"#,
                            map.data_uri()
                        );
                        vx += thumb_w + GAP;
                    }
                    if let Some(shares) = cell.shares.as_ref().filter(|_| cell.gates.is_none() && cell.maps.is_empty()) {
                        // A row per branch, a column per channel.
                        let (rows, columns) = (shares.height.max(1), shares.width.max(1));
                        let (w, h) = (60.0 / columns as f64, VIS_H / rows as f64);
                        for (i, &v) in shares.data.iter().enumerate() {
                            svg.rect(
                                vx + (i % columns) as f64 * w,
                                vis_y + (i / columns) as f64 * h,
                                w + 0.05,
                                h,
                                &hex(viridis(v.clamp(0.0, 1.0))),
                            );
                        }
                    } else if cell.gates.is_none() && cell.maps.is_empty() {
                        svg.rect(vx, vis_y, 60.0, VIS_H, "#f4f4f7");
                        svg.text(vx + 30.0, vis_y + VIS_H / 2.0 + 4.0, "no map", Font::Small, Anchor::Middle);
                    }
                    svg.text(x, vis_y + VIS_H + 16.0, &cell.caption, Font::Small, Anchor::Start);
                    svg.text(x, vis_y + VIS_H + 31.0, &cell.detail, Font::Small, Anchor::Start);
                    right = right.max(x + cell_w - CELL_GAP);
                }
                y += ROW_H;
            }
        }
        svg.finish(right + PAD, y - ROW_H + 22.0 + VIS_H + 31.0 + PAD, title)
    }

    /// `text` in lines at most `max` wide (a word longer than that on a line of its own).
    fn wrap(&self, text: &str, font: Font, max: f64) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if !line.is_empty() && self.width(&candidate, font) > max {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        lines.push(line);
        lines
    }

    /// The photo with `map` over it, and the map's colour bar labelled `legend`.
    pub fn overlay(&self, photo: &Photo, map: &Map, title: &str, legend: &str) -> String {
        let mut svg = Svg::default();
        svg.text(PAD, PAD + 14.0, title, Font::Title, Anchor::Start);
        let (box_w, box_h) = photo.fit(PHOTO_BOX);
        let panel_w = self.panel(&mut svg, photo, (PAD, PAD + 30.0), (box_w, box_h), map, legend, None);
        let width = (PAD + panel_w + PAD).max(PAD + self.width(title, Font::Title) + PAD);
        svg.finish(width, PAD + 30.0 + box_h + PAD, title)
    }

    /// Where the query attends: one panel per map (one per head), side by side, each with its colour bar.
    pub fn attention(&self, photo: &Photo, maps: &[Map], title: &str, note: &str, query: Query) -> String {
        let mut svg = Svg::default();
        svg.text(PAD, PAD + 14.0, title, Font::Title, Anchor::Start);
        svg.text(PAD, PAD + 34.0, note, Font::Note, Anchor::Start);
        let several = maps.len() > 1;
        let (box_w, box_h) = photo.fit(if several { PANEL_BOX } else { PHOTO_BOX });
        let mut top = PAD + 50.0;
        if several {
            top += 20.0;
        }
        let mut x = PAD;
        for (i, map) in maps.iter().enumerate() {
            if several {
                svg.text(x, top - 8.0, &format!("head {} of {}", i + 1, maps.len()), Font::Heading, Anchor::Start);
            }
            x += self.panel(&mut svg, photo, (x, top), (box_w, box_h), map, "attention", Some(query)) + 28.0;
        }
        let width = (x - 28.0 + PAD).max(PAD + self.width(title, Font::Title) + PAD).max(PAD + self.width(note, Font::Note) + PAD);
        svg.finish(width, top + box_h + PAD, title)
    }

    /// One photo with a map over it at `(x, y)`, `size` on screen, its colour bar to the right;
    /// returns the width used.
    #[allow(clippy::too_many_arguments)]
    fn panel(
        &self,
        svg: &mut Svg,
        photo: &Photo,
        (x, y): (f64, f64),
        (w, h): (f64, f64),
        map: &Map,
        legend: &str,
        query: Option<Query>,
    ) -> f64 {
        // The photo once per figure, in the definitions; each panel shows it with <use>.
        if !svg.defs.contains(r#"id="photo""#) {
            let _ =
                writeln!(svg.defs, r#"<image id="photo" width="{w}" height="{h}" preserveAspectRatio="none" xlink:href="{}"/>"#, photo.uri);
        }
        let _ = writeln!(svg.body, r##"<use xlink:href="#photo" x="{x:.1}" y="{y:.1}"/>"##);
        let _ = writeln!(
            svg.body,
            r#"<image x="{x:.1}" y="{y:.1}" width="{w}" height="{h}" preserveAspectRatio="none" opacity="{MAP_OPACITY}" xlink:href="{}"/>"#,
            map.data_uri()
        );
        if let Some(q) = query {
            let qx = x + (q.x + 0.5) / q.width * w;
            let qy = y + (q.y + 0.5) / q.height * h;
            let _ = writeln!(svg.body, r##"<circle cx="{qx:.1}" cy="{qy:.1}" r="7" fill="none" stroke="#fff" stroke-width="2"/>"##);
            let _ = writeln!(
                svg.body,
                r#"<path d="M{:.1} {qy:.1}H{:.1}M{:.1} {qy:.1}H{:.1}M{qx:.1} {:.1}V{:.1}M{qx:.1} {:.1}V{:.1}" stroke="{QUERY}" stroke-width="1.5" fill="none"/>"#,
                qx - 12.0,
                qx - 4.0,
                qx + 4.0,
                qx + 12.0,
                qy - 12.0,
                qy - 4.0,
                qy + 4.0,
                qy + 12.0
            );
        }
        // The colour bar: the label above, five values beside it, high at the top.
        let (lo, hi) = map.range();
        let (bx, by, bh) = (x + w + 20.0, y + 20.0, (h - 30.0).clamp(60.0, 220.0));
        svg.text(bx, by - 11.0, legend, Font::Label, Anchor::Start);
        let _ = writeln!(
            svg.body,
            r#"<rect x="{:.1}" y="{by:.1}" width="{LEGEND_BAR}" height="{bh:.1}" fill="url(#viridis)" stroke="{LEGEND_EDGE}"/>"#,
            bx + 0.5
        );
        let mut labels_width = self.width(legend, Font::Label) - LEGEND_BAR - 7.0;
        for k in 0..=4 {
            let ty = by + bh * k as f64 / 4.0;
            let label = format_step(hi - (hi - lo) * k as f32 / 4.0, (hi - lo) / 4.0);
            svg.line((bx + LEGEND_BAR, ty), (bx + LEGEND_BAR + 4.0, ty), INK, 1.0);
            svg.text(bx + LEGEND_BAR + 7.0, ty + 4.0, &label, Font::Tick, Anchor::Start);
            labels_width = labels_width.max(self.width(&label, Font::Tick));
        }
        w + 20.0 + LEGEND_BAR + 7.0 + labels_width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viridis_matches_the_page_table() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(0.5), [33, 145, 140]);
    }

    #[test]
    fn values_are_formatted_as_the_page_does() {
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_value(0.5), "0.500");
        assert_eq!(format_value(0.05), "0.0500");
        assert_eq!(format_value(0.0002), "2.00e-4");
        assert_eq!(format_step(0.75, 0.25), "0.75");
        assert_eq!(format_step(0.001234, 0.0001), "0.00123");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"a<b & "c""#), "a&lt;b &amp; &quot;c&quot;");
    }
}
