// The network view: every attention block of an opened network in order of depth, a row per
// stage, each as a small multiple on the current photo: the spatial gate or context weights over
// the part of the photo the network saw (CBAM, GC), the attention of the selected query
// (Non-local), the block's gates sorted from largest to smallest with their spread (SE, ECA,
// EfficientNet's and MobileNetV3's squeeze-and-excitation), or a branch attention's shares, a row
// per branch (Selective Kernel, Split Attention). Click a block to open it in the other
// views; click its corner to switch it off or on.
import { ACCENT, INK, LINE, MUTED, PAPER, SOFT, drawQuery, fitStart, mapCanvas, note, paragraph, range, smallWidth, title } from '../drawing.js';
import { viridis } from '../colormap.js';
import { KIND_LABEL, ROW_KINDS } from '../bundled.js';
import { say } from './say.js';
import { branchMeans } from './branches.js';

const TILE = 92; // the smallest tile: wider columns give larger ones
const MAX_TILE = 150;
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
  ctx.fillStyle = SOFT;
  ctx.fillRect(x, y, w, h);
  for (let i = 0; i < w; i++) {
    const v = sorted[Math.min(sorted.length - 1, Math.floor((i / w) * sorted.length))];
    const clamped = Math.max(0, Math.min(1, v));
    const [r, g, b] = viridis(clamped);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x + i, y + h - clamped * h, 1, clamped * h);
  }
  ctx.strokeStyle = LINE;
  ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
}

// The mean of a row's heads (BoTNet's self-attention), the row itself where it has one.
function headMean(row) {
  if (!row?.perHead || row.perHead.length < 2) return row;
  const data = new Float32Array(row.width * row.height);
  for (const head of row.perHead) head.data.forEach((v, i) => { data[i] += v / row.perHead.length; });
  return { ...row, data };
}

function drawTile(ctx, entry, x, y, { photo, crop, rows, opacity, selected, t, size: TILE }) {
  const map = entry.spatial ?? entry.context ?? headMean(rows?.[entry.path]) ?? null;
  if (entry.off) {
    ctx.fillStyle = SOFT;
    ctx.fillRect(x, y, TILE, TILE);
    note(ctx, t('network.off'), x + TILE / 2 - 8, y + TILE / 2 - 6, MUTED);
  } else if (map || ROW_KINDS.includes(entry.kind)) {
    ctx.drawImage(photo, crop.x, crop.y, crop.width, crop.height, x, y, TILE, TILE);
    if (map) {
      const { lo, hi } = range(map.data);
      ctx.save();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(mapCanvas(map, lo, hi, Math.round(opacity * 255)), x, y, TILE, TILE);
      ctx.restore();
    }
    if (map?.query) {
      // The query whose row this is, on the block's grid.
      drawQuery(ctx, x + ((map.query.fx + 0.5) / entry.grid.width) * TILE, y + ((map.query.fy + 0.5) / entry.grid.height) * TILE, 4);
    }
  } else if (entry.branch) {
    // A branch attention: one row per branch, one column per channel, each column summing to 1.
    const { width: channels, height: branches, data } = entry.branch;
    for (let r = 0; r < branches; r++) {
      for (let c = 0; c < channels; c++) {
        const [red, green, blue] = viridis(Math.max(0, Math.min(1, data[r * channels + c])));
        ctx.fillStyle = `rgb(${red},${green},${blue})`;
        ctx.fillRect(x + (c / channels) * TILE, y + (r / branches) * TILE, TILE / channels + 0.5, TILE / branches);
      }
    }
  } else if (entry.channel) {
    drawStrip(ctx, entry.channel, x, y, TILE, TILE);
  } else {
    // A block with no map this view draws (self-attention): say so rather than leave it blank.
    ctx.fillStyle = SOFT;
    ctx.fillRect(x, y, TILE, TILE);
    note(ctx, t('network.nomap'), x + 8, y + TILE / 2 - 6, MUTED);
  }
  // The on/off corner.
  ctx.fillStyle = entry.off ? PAPER : ACCENT;
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
  // The path's end where the whole path is wider than the tile.
  note(ctx, fitStart(ctx, entry.path, TILE), x, y + TILE + 3, INK);
  // Under the path, the block's kind (timm calls a Non-local block `…se` too) and its numbers.
  const kind = KIND_LABEL[entry.kind] ?? entry.kind;
  let line = entry.off ? t('network.switched') : '';
  if (!entry.off && entry.branch) {
    // Each branch's mean share, first branch first.
    line = branchMeans(entry.branch).map(short).join(' / ');
  } else if (!entry.off && entry.channel && !map) {
    const { mean, std } = spread(entry.channel);
    line = `${short(mean)} ± ${short(std)}`;
  } else if (!entry.off && map?.query) {
    line = t(map.heads > 1 ? 'network.row.heads' : 'network.row', { n: map.heads });
  } else if (!entry.off && map) {
    const { lo, hi } = range(map.data);
    line = `${short(lo)} … ${short(hi)}`;
  } else if (!entry.off && ROW_KINDS.includes(entry.kind)) {
    line = t('network.wait');
  }
  // The kind and the numbers where both fit; else the numbers where the path already says the
  // kind (`…se` of an SE block), else the kind.
  const named = entry.path.endsWith(`.${entry.kind}`) || (['se', 'ese'].includes(entry.kind) && entry.path.endsWith('.se'));
  const fits = (text) => smallWidth(ctx, text) <= TILE;
  // A branch attention's shares (or its being off) say more than its kind, which the view's title
  // says in short.
  const branches = ['sk', 'splat'].includes(entry.kind);
  const abbrev = { sk: 'SK', splat: 'Splat' }[entry.kind];
  const candidates = [line ? `${kind} · ${line}` : kind, ...(branches && line ? [`${abbrev} · ${line}`] : []), ...((named || branches) && line ? [line] : []), kind];
  const shown = candidates.find(fits) ?? kind;
  note(ctx, shown, x, y + TILE + 16);
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
    const kinds = Object.entries(counts).map(([k, n]) => t('network.kind', { n, kind: ({ nl: 'Non-local', splat: 'Split Attention', bot: 'BoT' })[k] ?? k.toUpperCase() })).join(t('network.and'));
    let y = 4 + title(ctx, t('network.title', { arch: network.arch, kinds }), 0, 4);
    y += paragraph(ctx, t('network.hint'), 0, y) + 6;
    const stages = [];
    for (const path of order) {
      const entry = result.blocks[path];
      const last = stages[stages.length - 1];
      if (last?.stage === entry.stage) last.entries.push(entry);
      else stages.push({ stage: entry.stage, entries: [entry] });
    }
    // A stage's name and size beside its tiles, or above them in a narrow column; the tiles as
    // large as the widest stage lets them be, from TILE to MAX_TILE.
    const narrow = width < 360;
    const label = narrow ? 0 : LABEL;
    const widest = Math.max(...stages.map((s) => s.entries.length));
    const fit = Math.floor((width - label - GAP * (widest - 1)) / widest);
    const size = Math.max(TILE, Math.min(MAX_TILE, fit));
    const perRow = Math.max(1, Math.floor((width - label + GAP) / (size + GAP)));
    const tiles = [];
    const toggles = [];
    const rowH = size + 36;
    for (const { stage, entries } of stages) {
      const { grid, branch } = entries[0];
      // A branch attention's input is its branches side by side: say R x C.
      const channels = branch ? `${branch.height} x ${branch.width}` : entries[0].channels;
      if (narrow) {
        note(ctx, stage, 0, y, INK);
        note(ctx, `${grid.width} x ${grid.height} · ${channels} ch`, ctx.measureText(stage).width + 10, y);
        y += 18;
      } else {
        note(ctx, stage, 0, y + 2, INK);
        note(ctx, `${grid.width} x ${grid.height}`, 0, y + 17);
        note(ctx, `${channels} ch`, 0, y + 30);
      }
      entries.forEach((entry, i) => {
        const x = label + (i % perRow) * (size + GAP);
        const yy = y + Math.floor(i / perRow) * rowH;
        drawTile(ctx, entry, x, yy, { photo, crop, rows: state.rows, opacity: state.opacity, selected: entry.path === selected, t, size });
        tiles.push({ x, y: yy, width: size, height: size + 28, path: entry.path });
        toggles.push({ x: x + size - 20, y: yy, width: 20, height: 20, path: entry.path });
      });
      y += Math.ceil(entries.length / perRow) * rowH + 6;
    }
    y += paragraph(ctx, `${t('network.legend1')} ${t('network.legend2')} ${t('network.legend3')}`.replace(/([\u3000-\u9fff]) (?=[\u3000-\u9fff])/g, '$1'), 0, y);
    if (order.some((path) => result.blocks[path].branch)) y += 4 + paragraph(ctx, t('network.legend.branch'), 0, y + 4);
    return { height: y + 8, tiles, toggles };
  },
};
