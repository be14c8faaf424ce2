// The token walkthrough: self-attention on a few characters the reader types (早上好 by default),
// step by step, as the tutorials teach it: first X Xᵀ and its softmax (no weights at all), then per
// head Q, K, V from learned weights, the scaled scores, their softmax (the attention weights), A V,
// and the heads joined through the projection. Every number comes from the engine (src/tokens.rs,
// the same MHSA kernels as the image blocks). Hover a row to see where that token attends.
import { INK, MUTED, ON_COLOUR, fixed, paragraph, smallWidth, title } from '../drawing.js';
import { diverging, viridis } from '../colormap.js';
import { say } from './say.js';

const LABEL = 18; // room for a token's label left of a row and above a column
const GAP = 22;

// The cell size that fits `columns` cells (at least 14 px, at most 34).
const cellFor = (columns, room) => Math.max(14, Math.min(34, Math.floor(room / columns)));

function cellText(v, cell, digits) {
  const text = fixed(v, digits);
  return cell >= 16 + 6 * digits ? text : '';
}

// One matrix `{ width, height, data }` (a row per token) at (x, y): coloured cells with their
// values where they fit, the tokens along the rows (and the columns of a token-by-token matrix),
// the caption above. Returns its size and the rows' regions.
function drawMatrix(ctx, x, y, matrix, { caption, tokens, cell, weights, digits, hover, room }) {
  const { width: cols, height: rows, data } = matrix;
  const square = cols === rows && tokens.length === cols;
  // The caption over the matrix, wrapped where it is wider than the room left in the line.
  const captionWidth = Math.min(smallWidth(ctx, caption) + 1, Math.max(LABEL + cols * cell, room));
  const top = y + paragraph(ctx, caption, x, y - 2, captionWidth, INK) + (square ? LABEL : 0);
  const left = x + LABEL;
  let scale = 0;
  for (const v of data) scale = Math.max(scale, Math.abs(v));
  ctx.font = '10px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  const regions = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = data[r * cols + c];
      const [red, green, blue] = weights ? viridis(v) : diverging(v / (scale || 1));
      ctx.fillStyle = `rgb(${red},${green},${blue})`;
      ctx.fillRect(left + c * cell, top + r * cell, cell - 1, cell - 1);
      const text = cellText(v, cell, digits);
      if (text) {
        ctx.fillStyle = (weights ? v > 0.55 : Math.abs(v) < 0.6 * (scale || 1)) ? ON_COLOUR : '#fff';
        ctx.fillText(text, left + c * cell + cell / 2, top + r * cell + cell / 2);
      }
    }
    ctx.fillStyle = r === hover ? '#d33' : INK;
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText(tokens[r], x + LABEL / 2, top + r * cell + cell / 2);
    ctx.font = '10px system-ui, sans-serif';
    regions.push({ x: x, y: top + r * cell, width: LABEL + cols * cell, height: cell, index: r });
  }
  if (square) {
    ctx.font = '12px system-ui, sans-serif';
    tokens.forEach((tk, c) => { ctx.fillStyle = INK; ctx.fillText(tk, left + c * cell + cell / 2, top - LABEL / 2); });
  }
  if (hover != null && hover < rows) {
    ctx.strokeStyle = '#d33';
    ctx.lineWidth = 2;
    ctx.strokeRect(left - 1, top + hover * cell - 1, cols * cell + 1, cell + 1);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  return { width: Math.max(LABEL + cols * cell, captionWidth), height: top - y + rows * cell, regions };
}

// Matrices left to right, wrapping where the width ends; returns the height used and the regions.
function flow(ctx, width, top, items, common) {
  let x = 0;
  let y = top;
  let rowHeight = 0;
  const regions = [];
  for (const item of items) {
    const need = Math.max(LABEL + item.matrix.width * item.cell, Math.min(smallWidth(ctx, item.caption) + 1, width));
    if (x > 0 && x + need > width) {
      x = 0;
      y += rowHeight + GAP;
      rowHeight = 0;
    }
    const drawn = drawMatrix(ctx, x, y, item.matrix, { ...common, ...item, room: width - x });
    regions.push(...drawn.regions);
    x += drawn.width + GAP;
    rowHeight = Math.max(rowHeight, drawn.height);
  }
  return { bottom: y + rowHeight, regions };
}

export default {
  name: 'tokens',
  bundledBlocks: [],
  maxHeight: 4000,
  fits: () => false,
  controls: ['tokens'],
  draw(ctx, width, { state, t }) {
    const walk = state.walk;
    if (!walk?.result) return say(ctx, walk?.error ?? t('say.tokens.wait'));
    const w = walk.result;
    const tokens = w.tokens;
    const n = tokens.length;
    const hover = state.tokenHover != null && state.tokenHover < n ? state.tokenHover : null;
    const heads = w.heads.length;
    const dk = w.dim / heads;
    let y = title(ctx, t('tokens.heading', { n, d: w.dim, heads: heads === 1 ? t('tokens.heads.one') : t('tokens.heads.many', { n: heads }) }), 0, 0) + 2;
    y += paragraph(ctx, t('tokens.hint'), 0, y, width - 8) + 10;
    const regions = [];
    const section = (text, items) => {
      y += title(ctx, text, 0, y) + 8;
      const done = flow(ctx, width, y, items, { tokens, hover });
      regions.push(...done.regions);
      y = done.bottom + GAP + 6;
    };
    const wide = cellFor(w.dim, Math.min(width * 0.55, 420));
    const square = cellFor(n, Math.min(width * 0.3, 300));
    section(t('tokens.step1'), [
      { matrix: w.x, caption: t('tokens.x', { d: w.dim }), digits: 1, cell: wide },
      { matrix: w.similarity, caption: 'X Xᵀ', digits: 1, cell: square },
      { matrix: w.similarity_weights, caption: t('tokens.xxt.softmax'), digits: 2, weights: true, cell: square },
    ]);
    // Per head: the steps with learned weights.
    const small = cellFor(dk, Math.min(width * 0.42, 360));
    w.heads.forEach((head, h) => {
      section(t('tokens.step2', { h: h + 1, n: heads }), [
        { matrix: head.q, caption: t('tokens.q'), digits: 2, cell: small },
        { matrix: head.k, caption: t('tokens.k'), digits: 2, cell: small },
        { matrix: head.v, caption: t('tokens.v'), digits: 2, cell: small },
        { matrix: head.scores, caption: `Q Kᵀ / √${dk}`, digits: 2, cell: square },
        { matrix: head.weights, caption: t('tokens.weights'), digits: 2, weights: true, cell: square },
        { matrix: head.out, caption: 'A V', digits: 2, cell: small },
      ]);
    });
    section(t('tokens.step3'), [{ matrix: w.output, caption: t('tokens.output', { d: w.dim }), digits: 2, cell: wide }]);
    // Where the hovered token attends, in words, per head.
    if (hover != null) {
      const lines = w.heads.map((head, h) => {
        const row = Array.from(head.weights.data.slice(hover * n, (hover + 1) * n));
        const list = row.map((v, j) => `${tokens[j]} ${v.toFixed(2)}`).join(' · ');
        return t('tokens.attends', { token: tokens[hover], h: h + 1, list });
      });
      lines.forEach((line) => { y += paragraph(ctx, line, 0, y, width - 8, INK); });
      y += 8;
    }
    y += paragraph(ctx, t('tokens.ran', { where: t.message(w.ran_on) }), 0, y, width - 8, MUTED);
    return { height: y + 8, tokenRows: regions };
  },
};
