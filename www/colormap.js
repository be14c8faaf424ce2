// Viridis (perceptually uniform, readable in greyscale and by most colour-blind readers), as
// eleven stops of the published colour map, interpolated linearly into a 256-entry table.
const VIRIDIS_STOPS = [
  [68, 1, 84], [72, 36, 117], [65, 68, 135], [53, 95, 141], [42, 120, 142], [33, 145, 140],
  [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38], [253, 231, 37],
];

export const VIRIDIS = (() => {
  const table = new Uint8ClampedArray(256 * 3);
  const last = VIRIDIS_STOPS.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * last;
    const k = Math.min(Math.floor(t), last - 1);
    const f = t - k;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = VIRIDIS_STOPS[k][c] * (1 - f) + VIRIDIS_STOPS[k + 1][c] * f;
  }
  return table;
})();

// A diverging blue-white-red map for signed feature values (0 in the middle).
export function diverging(t) {
  const v = Math.max(-1, Math.min(1, t));
  const a = Math.abs(v);
  return v < 0 ? [255 - a * 200, 255 - a * 150, 255 - a * 40] : [255 - a * 40, 255 - a * 170, 255 - a * 200];
}

export function viridis(t) {
  const i = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
  return [VIRIDIS[i], VIRIDIS[i + 1], VIRIDIS[i + 2]];
}
