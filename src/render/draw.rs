//! Drawing the figures: a map laid over the photo with its colour bar, a labelled bar chart,
//! panels side by side. Text is the public-domain 8x8 bitmap font of `font8x8`, so the figures
//! need no font files.

use attention_playground::model::report::Value;
use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

/// The figures' photos are drawn at twice the working size, for print.
const ZOOM: u32 = 2;
const TITLE_HEIGHT: u32 = 28;
const BAR_WIDTH: u32 = 16;
const LEGEND_WIDTH: u32 = 90;
const MAP_OPACITY: f32 = 0.6;
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([30, 30, 40]);
const BAR: Rgb<u8> = Rgb([83, 74, 183]);
const GRID: Rgb<u8> = Rgb([210, 210, 220]);

/// Viridis, sampled at 11 stops (matplotlib's map, the same stops as `www/colormap.js`).
const VIRIDIS: [[f32; 3]; 11] = [
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

fn viridis(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f32;
    let k = (t as usize).min(VIRIDIS.len() - 2);
    let f = t - k as f32;
    [0, 1, 2].map(|c| VIRIDIS[k][c] * (1.0 - f) + VIRIDIS[k + 1][c] * f)
}

/// A map of the result object: `{ width, height, data }`.
pub struct Map {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Map {
    pub fn from_value(v: &Value) -> Option<Self> {
        match (v.get("width"), v.get("height"), v.get("data")) {
            (Some(Value::Number(w)), Some(Value::Number(h)), Some(Value::Floats(d))) => {
                Some(Self { width: *w as usize, height: *h as usize, data: d.clone() })
            }
            _ => None,
        }
    }

    fn range(&self) -> (f32, f32) {
        self.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }

    /// Bilinear sample at fractional position `(u, v)` in `[0, 1)`, cell centres at `(i + 0.5) / n`.
    fn sample(&self, u: f32, v: f32) -> f32 {
        let x = (u * self.width as f32 - 0.5).clamp(0.0, (self.width - 1) as f32);
        let y = (v * self.height as f32 - 0.5).clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: usize, yy: usize| self.data[yy * self.width + xx];
        (at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy) + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy
    }
}

pub fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, colour: Rgb<u8>, scale: u32) {
    let mut pen = x;
    for ch in s.chars() {
        let glyph = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::BASIC_FONTS.get('?')).expect("the basic font has '?'");
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(img, pen + (col * scale + dx) as i64, y + (row as u32 * scale + dy) as i64, colour);
                        }
                    }
                }
            }
        }
        pen += 8 * scale as i64;
    }
}

fn put(img: &mut RgbImage, x: i64, y: i64, colour: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, colour);
    }
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, colour: Rgb<u8>) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, colour);
        }
    }
}

fn format_value(v: f32) -> String {
    if v.abs() >= 0.01 || v == 0.0 { format!("{v:.4}") } else { format!("{v:.4e}") }
}

/// The photo (zoomed) with `map` over it in viridis, a colour bar with the map's range on the
/// right, and `title` above. `query`: the feature cell `(x, y)` on a `(w, h)` grid to mark.
pub fn overlay(photo: &RgbImage, map: &Map, title: &str, query: Option<((f64, f64), (f64, f64))>) -> RgbImage {
    let (pw, ph) = (photo.width() * ZOOM, photo.height() * ZOOM);
    let width = (pw + BAR_WIDTH + LEGEND_WIDTH + 24).max(title.len() as u32 * 8 + 16);
    let mut img = RgbImage::from_pixel(width, ph + TITLE_HEIGHT + 8, WHITE);
    text(&mut img, 8, 10, title, INK, 1);
    let (lo, hi) = map.range();
    let span = if hi - lo > 1e-12 { hi - lo } else { 1.0 };
    for y in 0..ph {
        for x in 0..pw {
            let src = photo.get_pixel(x / ZOOM, y / ZOOM).0;
            let t = (map.sample((x as f32 + 0.5) / pw as f32, (y as f32 + 0.5) / ph as f32) - lo) / span;
            let c = viridis(t);
            let mixed = [0, 1, 2].map(|k| (src[k] as f32 * (1.0 - MAP_OPACITY) + c[k] * MAP_OPACITY).round() as u8);
            img.put_pixel(x + 8, y + TITLE_HEIGHT, Rgb(mixed));
        }
    }
    if let Some(((qx, qy), (gw, gh))) = query {
        let cx = 8 + ((qx + 0.5) / gw * pw as f64) as i64;
        let cy = TITLE_HEIGHT as i64 + ((qy + 0.5) / gh * ph as f64) as i64;
        for d in -9i64..=9 {
            for w in -1i64..=1 {
                put(&mut img, cx + d, cy + w, INK);
                put(&mut img, cx + w, cy + d, INK);
            }
        }
        for d in -7i64..=7 {
            put(&mut img, cx + d, cy, WHITE);
            put(&mut img, cx, cy + d, WHITE);
        }
    }
    // The colour bar: high at the top.
    let bar_x = pw + 16;
    for y in 0..ph {
        let c = viridis(1.0 - y as f32 / (ph - 1).max(1) as f32).map(|v| v.round() as u8);
        fill(&mut img, bar_x, TITLE_HEIGHT + y, BAR_WIDTH, 1, Rgb(c));
    }
    let label_x = (bar_x + BAR_WIDTH + 4) as i64;
    text(&mut img, label_x, TITLE_HEIGHT as i64, &format_value(hi), INK, 1);
    text(&mut img, label_x, (TITLE_HEIGHT + ph / 2) as i64 - 4, &format_value((lo + hi) / 2.0), INK, 1);
    text(&mut img, label_x, (TITLE_HEIGHT + ph) as i64 - 8, &format_value(lo), INK, 1);
    img
}

/// A horizontal bar per channel, its gate in `[0, 1]`, labelled with the channel's name.
pub fn channel_chart(title: &str, names: &[String], values: &[f32]) -> RgbImage {
    const ROW: u32 = 14;
    const BAR_SPAN: u32 = 260;
    let label_width = names.iter().map(|n| n.len() as u32 * 8).max().unwrap_or(0) + 16;
    let width = (label_width + BAR_SPAN + 70).max(title.len() as u32 * 8 + 16);
    let height = TITLE_HEIGHT + ROW * values.len() as u32 + 30;
    let mut img = RgbImage::from_pixel(width, height, WHITE);
    text(&mut img, 8, 10, title, INK, 1);
    for tick in 0..=4 {
        let x = label_width + BAR_SPAN * tick / 4;
        fill(&mut img, x, TITLE_HEIGHT, 1, ROW * values.len() as u32, GRID);
        let label = format!("{}", tick as f32 / 4.0);
        text(&mut img, x as i64 - 4 * label.len() as i64, (TITLE_HEIGHT + ROW * values.len() as u32 + 8) as i64, &label, INK, 1);
    }
    for (i, (name, &v)) in names.iter().zip(values).enumerate() {
        let y = TITLE_HEIGHT + i as u32 * ROW;
        text(&mut img, 8, y as i64 + 3, name, INK, 1);
        let length = (v.clamp(0.0, 1.0) * BAR_SPAN as f32).round() as u32;
        fill(&mut img, label_width, y + 2, length, ROW - 4, BAR);
        text(&mut img, (label_width + length + 6) as i64, y as i64 + 3, &format!("{v:.3}"), INK, 1);
    }
    img
}

/// Panels left to right on white.
pub fn side_by_side(panels: &[RgbImage]) -> RgbImage {
    let width = panels.iter().map(|p| p.width()).sum::<u32>().max(1);
    let height = panels.iter().map(|p| p.height()).max().unwrap_or(1);
    let mut img = RgbImage::from_pixel(width, height, WHITE);
    let mut x = 0;
    for p in panels {
        image::imageops::replace(&mut img, p, x as i64, 0);
        x += p.width();
    }
    img
}
