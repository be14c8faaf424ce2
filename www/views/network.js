// The network view: every attention block of an opened network in order of depth, a row per
// stage, each as a small multiple on the current photo: the spatial gate or context weights over
// the part of the photo the network saw (CBAM, GC), the attention of the selected query
// (Non-local), or the block's gates sorted from largest to smallest with their spread (SE, ECA,
// EfficientNet's and MobileNetV3's squeeze-and-excitation). Click a block to open it in the other
// views; click its corner to switch it off or on.
import { ACCENT, INK, MUTED, drawQuery, mapCanvas, note, range, title } from '../drawing.js';
import { viridis } from '../colormap.js';
import { say } from './say.js';

const TILE = 92;
const GAP = 8;
const LABEL = 96;

// A value in the few characters under a tile.
const short = (v) => (v !== 0 && Math.abs(v) < 0.01 ? v.toExponential(0) : v.toFixed(2));

// Mean and standard deviation of the gates.
function spread(gates) {
  let sum = 0;
  for (const g of gates) sum += g;
  const mean = sum / gates.length;
  let sq = 0;
  for (const g of gates) sq += (g - mean) ** 2;
  return { mean, std: Math.sqrt(sq / gates.length) };
}

// The gates sorted from largest to smallest as columns on a 0..1 axis.
function drawStrip(ctx, gates, x, y, w, h) {
  const sorted = Float32Array.from(gates).sort().reverse();
  ctx.fillStyle = '#f4f4f8';
  ctx.fillRect(x, y, w, h);
  for (let i = 0; i < w; i++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((i / w) * sorted.length))];
    const clamped = Math.max(0, Math.min(1, v));
    const [r, g, b] = viridis(clamped);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x + i, y + h - clamped * h, 1, clamped * h);
  }
  ctx.strokeStyle = '#c9c9d2';
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
}

function drawTile(ctx, entry, x, y, { photo, crop, rows, opacity, selected, t }) {
  const map = entry.spatial ?? entry.context ?? rows?.[entry.path] ?? null;
  if (entry.off) {
    ctx.fillStyle = '#ececf1';
    ctx.fillRect(x, y, TILE, TILE);
    note(ctx, t('network.off'), x + TILE / 2 - 8, y + TILE / 2 - 6, MUTED);
  } else if (map || entry.kind === 'nl') {
    ctx.drawImage(photo, crop.x, crop.y, crop.width, crop.height, x, y, TILE, TILE);
    if (map) {
      const { lo, hi } = range(map.data);
      ctx.save();
      ctx.globalAlpha = opacity;
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(mapCanvas(map, lo, hi), x, y, TILE, TILE);
      ctx.restore();
    }
    if (map?.query) {
      // The query whose row this is, on the block's grid.
      drawQuery(ctx, x + ((map.query.fx + 0.5) / entry.grid.width) * TILE, y + ((map.query.fy + 0.5) / entry.grid.height) * TILE, 4);
    }
  } else if (entry.channel) {
    drawStrip(ctx, entry.channel, x, y, TILE, TILE);
  } else {
    // A block with no map this view draws (self-attention): say so rather than leave it blank.
    ctx.fillStyle = '#f3f3f7';
    ctx.fillRect(x, y, TILE, TILE);
    note(ctx, t('network.nomap'), x + 8, y + TILE / 2 - 6, MUTED);
  }
  // The on/off corner.
  ctx.fillStyle = entry.off ? '#fff' : ACCENT;
  ctx.fillRect(x + TILE - 16, y + 2, 14, 14);
  ctx.strokeStyle = ACCENT;
  ctx.lineWidth = 1;
  ctx.strokeRect(x + TILE - 15.5, y + 2.5, 13, 13);
  if (!entry.off) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x + TILE - 13, y + 9); ctx.lineTo(x + TILE - 10, y + 13); ctx.lineTo(x + TILE - 5, y + 5);
    ctx.stroke();
  }
  if (selected) {
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 3;
    ctx.strokeRect(x - 2, y - 2, TILE + 4, TILE + 4);
  }
  ctx.lineWidth = 1;
  // Its path, and what the tile shows in numbers.
  const name = entry.path.length > 15 ? `…${entry.path.slice(-14)}` : entry.path;
  note(ctx, name, x, y + TILE + 3, INK);
  let line = entry.off ? t('network.switched') : '';
  if (!entry.off && entry.channel && !map) {
    const { mean, std } = spread(entry.channel);
    line = `${short(mean)} ± ${short(std)}`;
  } else if (!entry.off && map?.query) {
    line = t('network.row');
  } else if (!entry.off && map) {
    const { lo, hi } = range(map.data);
    line = `${short(lo)} … ${short(hi)}`;
  } else if (!entry.off && entry.kind === 'nl') {
    line = t('network.wait');
  }
  note(ctx, line, x, y + TILE + 16);
}

export default {
  name: 'network',
  bundledBlocks: [],
  networkOnly: true,
  maxHeight: 2400,
  fits: () => true,
  controls: ['opacity'],
  draw(ctx, width, { result, photo, crop, state, selected, t }) {
    if (!result?.network) return say(ctx, t('say.network'));
    const { network } = result;
    const order = network.order;
    if (!order.length) return say(ctx, t('say.network.none', { arch: network.arch }));
    const counts = {};
    for (const path of order) counts[result.blocks[path].kind] = (counts[result.blocks[path].kind] ?? 0) + 1;
    const kinds = Object.entries(counts).map(([k, n]) => t('network.kind', { n, kind: k === 'nl' ? 'Non-local' : k.toUpperCase() })).join(t('network.and'));
    title(ctx, t('network.title', { arch: network.arch, kinds }), 0, 4);
    note(ctx, t('network.hint'), 0, 22);
    const stages = [];
    for (const path of order) {
      const entry = result.blocks[path];
      const last = stages[stages.length - 1];
      if (last?.stage === entry.stage) last.entries.push(entry);
      else stages.push({ stage: entry.stage, entries: [entry] });
    }
    const perRow = Math.max(1, Math.floor((width - LABEL + GAP) / (TILE + GAP)));
    const tiles = [];
    const toggles = [];
    let y = 42;
    const rowH = TILE + 36;
    for (const { stage, entries } of stages) {
      const { grid, channels } = entries[0];
      note(ctx, stage, 0, y + 2, INK);
      note(ctx, `${grid.width} x ${grid.height}`, 0, y + 17);
      note(ctx, `${channels} ch`, 0, y + 30);
      entries.forEach((entry, i) => {
        const x = LABEL + (i % perRow) * (TILE + GAP);
        const yy = y + Math.floor(i / perRow) * rowH;
        drawTile(ctx, entry, x, yy, { photo, crop, rows: state.rows, opacity: state.opacity, selected: entry.path === selected, t });
        tiles.push({ x, y: yy, width: TILE, height: TILE + 28, path: entry.path });
        toggles.push({ x: x + TILE - 20, y: yy, width: 20, height: 20, path: entry.path });
      });
      y += Math.ceil(entries.length / perRow) * rowH + 6;
    }
    const legend = [t('network.legend1'), t('network.legend2'), t('network.legend3')];
    legend.forEach((line, i) => note(ctx, line, 0, y + i * 14));
    return { height: y + 14 * legend.length + 6, tiles, toggles };
  },
};
