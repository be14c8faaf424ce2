// The generalized attention formula of Zhu et al. (2019, "An Empirical Study of Spatial Attention
// Mechanisms in Deep Networks"), typeset by the browser (MathML, no library, no network), with the
// terms the chosen block sets coloured; a table placing every block of the page, a 3x3
// convolution and a deformable one in it; and, for the query, the attention weight maps of the
// three kinds the bundled network realises: query and key content (Non-local), key content only
// (GC's context weights), relative position only (body.conv1's 3x3 window around the query).
import { INK, MUTED, TINT, drawQuery, mapCanvas, paragraph, paragraphHeight, range, title } from '../drawing.js';

// The formula's terms and their colours.
const TERMS = { M: '#b7791f', omega: '#2a9d8f', A: '#d1495b', Wp: '#5b4bdb', W: '#1f6fb4' };

// Each row: the block, M, Ω_q, A_m(q, k, z_q, x_k), W′_m, W_m, and the kind of weight (i18n key).
// Ω = H×W: every position; x̄ and x̂: the channel means and maxima; p_m: the m-th offset of a
// 3x3 window; G: bilinear interpolation.
const ROWS = [
  { block: 'nonlocal', name: 'Non-local', M: '1', omega: 'H×W', A: 'softmaxₖ θ(z_q)ᵀ φ(x_k)', Wp: 'W_g', W: 'W_z, BN, + x', kind: 'qk' },
  { block: 'mhsa', name: 'MHSA', M: 'h', omega: 'H×W', A: 'softmaxₖ q_mᵀ k_m / √d', Wp: 'W_v,m', W: 'W_proj,m', kind: 'qk' },
  { block: 'gc', name: 'GC', M: '1', omega: 'H×W', A: 'softmaxₖ W_k x_k', Wp: '1', W: 'W_v2 δ LN W_v1, ⊙ x', kind: 'k' },
  { block: 'se', name: 'SE', M: '1', omega: '{q}', A: '1', Wp: 'diag σ(W₂ δ(W₁ x̄))', W: '1', kind: 'gate' },
  { block: 'eca', name: 'ECA', M: '1', omega: '{q}', A: '1', Wp: 'diag σ(conv1d x̄)', W: '1', kind: 'gate' },
  { block: 'cbam', name: 'CBAM', M: '1', omega: '{q}', A: 'σ(BN conv₇ₓ₇[x̄_c, x̂_c](x′))_q', Wp: 'diag σ(MLP x̄ + MLP x̂)', W: '1', kind: 'q' },
  { block: 'conv', nameKey: 'formula.row.conv', M: '9', omega: 'q + p_m', A: '[k − q = p_m]', Wp: '1', W: 'W_m', kind: 'position' },
  { block: 'deform', nameKey: 'formula.row.deform', M: '9', omega: 'H×W', A: 'G(k, q + p_m + Δp_m(z_q))', Wp: '1', W: 'W_m', kind: 'qposition' },
];
const rowName = (row, t) => row.name ?? t(row.nameKey);
// An opened network's kinds, as the rows name them.
const KIND_ROW = { nl: 'nonlocal', se: 'se', ese: 'se', eca: 'eca', ceca: 'eca', gc: 'gc', gca: 'gc', cbam: 'cbam' };
const rowOf = (block, entry) => ROWS.find((r) => r.block === (KIND_ROW[entry?.kind] ?? block));

const mi = (text) => `<mi>${text}</mi>`;
const term = (name, body, on) => `<mrow data-term="${name}"${on ? ` style="color:${TERMS[name]}"` : ''}>${body}</mrow>`;

/** The formula as MathML, the chosen block's terms coloured, and what that block sets each term to. */
function formulaHtml(row, t) {
  const on = Boolean(row);
  const math = `<math display="block">`
    + `<msub>${mi('y')}${mi('q')}</msub><mo>=</mo>`
    + `<munderover><mo>∑</mo><mrow>${mi('m')}<mo>=</mo><mn>1</mn></mrow>${term('M', mi('M'), on)}</munderover>`
    + term('W', `<msub>${mi('W')}${mi('m')}</msub>`, on)
    + `<mo>[</mo><munder><mo>∑</mo><mrow>${mi('k')}<mo>∈</mo>${term('omega', `<msub>${mi('Ω')}${mi('q')}</msub>`, on)}</mrow></munder>`
    + term('A', `<msub>${mi('A')}${mi('m')}</msub><mo>(</mo>${mi('q')}<mo>,</mo>${mi('k')}<mo>,</mo><msub>${mi('z')}${mi('q')}</msub><mo>,</mo><msub>${mi('x')}${mi('k')}</msub><mo>)</mo>`, on)
    + `<mo>⊙</mo>` + term('Wp', `<msubsup>${mi('W')}${mi('m')}<mo>′</mo></msubsup>`, on) + `<msub>${mi('x')}${mi('k')}</msub><mo>]</mo></math>`;
  const legend = row
    ? `<div class="terms">${t('formula.terms', { name: rowName(row, t) })} ${['M', 'omega', 'A', 'Wp', 'W']
      .map((k) => `<span data-term="${k}" style="color:${TERMS[k]}">${{ M: 'M', omega: 'Ω_q', A: 'A_m', Wp: 'W′_m', W: 'W_m' }[k]} = ${row[k]}</span>`)
      .join(' · ')}</div>`
    : '';
  return `<div class="formula">${math}</div>${legend}<div class="muted">${t('formula.source')}</div>`;
}

// The table of rows; the chosen block's row outlined. Each column is as wide as its widest cell,
// and the whole table's font shrinks (to 9 px at least) where it would not fit the width. Returns
// the y under it.
function drawTable(ctx, width, top, chosen, t) {
  const heads = ['', 'M', 'Ω_q', 'A_m(q, k, z_q, x_k)', 'W′_m', 'W_m', t('formula.kind')];
  const rows = ROWS.map((row) => [rowName(row, t), row.M, row.omega, row.A, row.Wp, row.W, t(`formula.kind.${row.kind}`)]);
  const gap = 12;
  const widths = (px) => {
    ctx.font = `${px}px system-ui, sans-serif`;
    return heads.map((head, c) => Math.max(ctx.measureText(head).width, ...rows.map((cells) => ctx.measureText(cells[c]).width)));
  };
  let px = 12;
  let w = widths(px);
  while (px > 10 && w.reduce((a, b) => a + b + gap, 0) > width) w = widths(--px);
  if (w.reduce((a, b) => a + b + gap, 0) > width) return drawStacked(ctx, width, top, chosen, t);
  const at = w.map((_, c) => w.slice(0, c).reduce((a, b) => a + b + gap, 0));
  const lineHeight = px + 8;
  const cell = (text, x, y, color) => {
    ctx.font = `${px}px system-ui, sans-serif`;
    ctx.fillStyle = color;
    ctx.textBaseline = 'top';
    ctx.fillText(text, x, y);
  };
  heads.forEach((head, c) => cell(head, at[c], top, INK));
  rows.forEach((cells, i) => {
    const y = top + lineHeight + i * lineHeight;
    if (ROWS[i] === chosen) {
      ctx.fillStyle = TINT;
      ctx.fillRect(0, y - 3, width, lineHeight);
    }
    cells.forEach((text, c) => cell(text, at[c], y, c === 0 ? INK : MUTED));
  });
  return top + lineHeight + ROWS.length * lineHeight + 8;
}

// The table in a narrow column: each row as a short paragraph (the block and its kind of weight,
// then its terms), the chosen one on a tinted ground. Returns the y under it.
function drawStacked(ctx, width, top, chosen, t) {
  let y = top;
  for (const row of ROWS) {
    const terms = `M = ${row.M} · Ω_q = ${row.omega} · A_m = ${row.A} · W′_m = ${row.Wp} · W_m = ${row.W}`;
    const name = `${rowName(row, t)}: ${t(`formula.kind.${row.kind}`)}`;
    // Measured first, so that the tint goes under the text.
    const height = paragraphHeight(ctx, name, width - 8) + paragraphHeight(ctx, terms, width - 8) + 6;
    if (row === chosen) {
      ctx.fillStyle = TINT;
      ctx.fillRect(0, y - 3, width, height);
    }
    const named = paragraph(ctx, name, 0, y, width - 8, INK);
    paragraph(ctx, terms, 0, y + named, width - 8);
    y += height;
  }
  return y + 8;
}

// One map tile over the photo, the query marked; returns the tile's height.
function tile(ctx, x, y, size, photo, map, query, caption, sentence) {
  const box = { x, y: y + paragraph(ctx, caption, x, y - 2, size, INK) + 2, width: size, height: Math.round((size * photo.height) / photo.width) };
  ctx.drawImage(photo, box.x, box.y, box.width, box.height);
  const { lo, hi } = range(map.data);
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(mapCanvas(map, lo, hi, 179), box.x, box.y, box.width, box.height); // 70 % opaque
  ctx.restore();
  drawQuery(ctx, box.x + query.u * box.width, box.y + query.v * box.height, 5);
  // The sentence, wrapped to the tile's width.
  const ly = box.y + box.height + 6;
  return ly + paragraph(ctx, sentence, x, ly, size) - y;
}

/** body.conv1's 3x3 window around the query on its grid: 1 where the convolution reads, else 0;
 *  `centre` is the window's middle cell (fractions of the photo), where its tile marks the query:
 *  the stem's grid is twice as fine as Non-local's, so a Non-local cell's centre is a corner there. */
export function convWindow(grid, query) {
  const cx = Math.min(grid.width - 1, Math.floor(query.u * grid.width));
  const cy = Math.min(grid.height - 1, Math.floor(query.v * grid.height));
  const data = new Float32Array(grid.width * grid.height);
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const [x, y] = [cx + dx, cy + dy];
      if (x >= 0 && y >= 0 && x < grid.width && y < grid.height) data[y * grid.width + x] = 1;
    }
  }
  return { width: grid.width, height: grid.height, data, centre: { u: (cx + 0.5) / grid.width, v: (cy + 0.5) / grid.height } };
}

export default {
  name: 'formula',
  bundledBlocks: ['nonlocal', 'mhsa', 'gc', 'se', 'eca', 'cbam'],
  fits: (entry) => Boolean(KIND_ROW[entry.kind]),
  controls: [],
  maxHeight: 1400,
  html: ({ block, entry, t }) => formulaHtml(rowOf(block, entry), t),
  draw(ctx, width, { result, block, entry, photo, state, network, t }) {
    const chosen = rowOf(block, entry);
    let y = drawTable(ctx, width, title(ctx, t('formula.heading'), 0, 0) + 8, chosen, t);
    y += 8 + title(ctx, t('formula.maps'), 0, y + 6) + 6;
    if (network) return { height: y + paragraph(ctx, t('formula.maps.network'), 0, y) + 12 };
    const nonlocal = result.blocks.nonlocal;
    if (!nonlocal || !result.blocks.gc) return sayBelow(ctx, y, t('formula.maps.switch'));
    // The query: the one clicked in the attention view (Non-local's), else the block's centre.
    const clicked = state.attention?.block === 'nonlocal' ? state.attention : null;
    const cell = clicked ? { x: clicked.fx, y: clicked.fy } : nonlocal.queryCell;
    const query = { u: (cell.x + 0.5) / nonlocal.grid.width, v: (cell.y + 0.5) / nonlocal.grid.height };
    const stem = result.blocks.se?.grid ?? result.blocks.eca?.grid ?? result.blocks.gc.grid;
    const maps = {
      query_key: clicked ? clicked.row : nonlocal.attention,
      key: result.blocks.gc.context,
      position: convWindow(stem, query),
    };
    // Three tiles in a row where each gets 140 px, else two (the third under them).
    const perRow = width >= 3 * 140 + 40 ? 3 : 2;
    const size = Math.min(300, Math.floor((width - 20 * (perRow - 1)) / perRow));
    const tiles = [
      [maps.query_key, query, 'qk'],
      [maps.key, query, 'k'],
      [maps.position, maps.position.centre, 'position'],
    ];
    let rowTop = y;
    let rowHeight = 0;
    tiles.forEach(([map, at, kind], i) => {
      if (i > 0 && i % perRow === 0) {
        rowTop += rowHeight + 12;
        rowHeight = 0;
      }
      rowHeight = Math.max(rowHeight, tile(ctx, (i % perRow) * (size + 20), rowTop, size, photo, map, at, t(`formula.kind.${kind}`), t(`formula.map.${kind}`)));
    });
    return { height: rowTop + rowHeight + 8, maps, query };
  },
};

function sayBelow(ctx, y, text) {
  return { height: y + paragraph(ctx, text, 0, y) + 12 };
}
