// The attention view: where one query position attends: a Non-local block's attention row, or
// each head's row of multi-head self-attention. Hover or click the photo to move the query.
import { INK, drawOverlayView, drawQuery, legendWords, mapCanvas, paragraph, range, thumbOf, title } from '../drawing.js';
import { say } from './say.js';
import { ROW_KINDS } from '../bundled.js';

// The weight every key would get if a query attended evenly: 1 / number of keys.
export function formatUniform(map) {
  return `1/${map.width * map.height} = ${(1 / (map.width * map.height)).toExponential(2)}`;
}

// GCNet's question under the figure: the rows of a grid of queries, each on its own range with
// its query marked, and their mean Jensen-Shannon divergence (www/../src/analysis.rs).
function drawIndependence(ctx, width, top, measured, head, t) {
  const y0 = top + title(ctx, t('independence.title'), 0, top) + 4;
  if (measured.unavailable) return y0 + paragraph(ctx, t.message(measured.unavailable), 0, y0) + 8;
  const { side, queries, rows } = measured;
  const h = Math.min(head, measured.heads - 1);
  const thumb = Math.max(28, Math.min(56, Math.floor((width * 0.45 - (side - 1) * 4) / side)));
  queries.forEach((q, i) => {
    const map = rows[i][h];
    const x = (i % side) * (thumb + 4);
    const y = y0 + Math.floor(i / side) * (thumb + 4);
    const { lo, hi } = range(map.data);
    // The query, on the block's grid (keys may be subsampled: the map is drawn over the same area).
    const grid = measured.grid ?? { width: map.width, height: map.height };
    const size = thumbOf(grid, thumb);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(mapCanvas(map, lo, hi), x, y, size.width, size.height);
    drawQuery(ctx, x + ((q.x + 0.5) / grid.width) * size.width, y + ((q.y + 0.5) / grid.height) * size.height, 3);
  });
  // The number and what it means beside the grid, or under it where the column is narrow.
  const gridBottom = y0 + side * (thumb + 4);
  const beside = width - side * (thumb + 4) - 12 >= 240;
  const textX = beside ? side * (thumb + 4) + 12 : 0;
  let y = beside ? y0 : gridBottom + 8;
  const bits = measured.js_bits[h];
  ctx.font = '600 22px system-ui, sans-serif';
  ctx.fillStyle = INK;
  ctx.textBaseline = 'top';
  ctx.fillText(t('independence.value', { bits: bits.toFixed(3) }), textX, y);
  y += 32;
  y += paragraph(ctx, t('independence.scale'), textX, y);
  y += paragraph(ctx, `${t('independence.meaning1')} ${t('independence.meaning2')} ${t('independence.meaning3')}`.replace(/([\u3000-\u9fff]) (?=[\u3000-\u9fff])/g, '$1'), textX, y);
  return Math.max(gridBottom, y) + 8;
}

// The figure's layout, grown by the independence section where it has been measured.
function withIndependence(ctx, width, layout, independence, head, t) {
  if (!independence) return layout;
  return { ...layout, height: drawIndependence(ctx, width, layout.height + 12, independence, head, t), independence: independence.js_bits };
}

export default {
  name: 'nonlocal',
  bundledBlocks: ['nonlocal', 'mhsa'],
  fits: (entry) => ROW_KINDS.includes(entry.kind),
  controls: ['opacity', 'head'],
  queries: true,
  // Four heads' thumbnails and the independence grid under the photo on a phone.
  maxHeight: 1600,
  draw(ctx, width, { entry, block, label, photo, crop, state, network, t, independence }) {
    if (!entry) return say(ctx, t(network ? 'say.attention.network' : 'say.attention'));
    const chosen = state.attention?.block === block ? state.attention : null;
    const { grid } = entry;
    const cell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell;
    // Heads: the bundled network's MHSA, an opened network's BoTNet self-attention (once asked).
    const perHead = block === 'mhsa' ? (chosen ? chosen.row.perHead : entry.attention) : entry.kind === 'bot' ? chosen?.row.perHead : null;
    if (perHead) {
      const head = Math.min(state.head, perHead.length - 1);
      const extras = perHead.map((map, i) => ({ map, label: t('attention.headn', { i: i + 1 }), selected: i === head }));
      const caption = block === 'mhsa' ? t('attention.mhsa', { h: head + 1, n: perHead.length, u: formatUniform(perHead[head]) })
        : t('attention.bot', { label, h: head + 1, n: perHead.length, u: formatUniform(perHead[head]) });
      const layout = drawOverlayView(ctx, width, photo, { map: perHead[head], label: t('legend.attention'), opacity: state.opacity, words: legendWords(t), query: cell, queryGrid: grid },
        caption, extras, block === 'mhsa' ? undefined : crop);
      return withIndependence(ctx, width, layout, independence, head, t);
    }
    const map = chosen ? chosen.row : entry.attention;
    if (!map) {
      return withIndependence(ctx, width, drawOverlayView(ctx, width, photo, null, t('attention.click', { label }), [], crop), independence, 0, t);
    }
    const keys = map.width === grid.width ? '' : t('attention.keys', { w: map.width, h: map.height });
    const layout = drawOverlayView(ctx, width, photo, { map, label: t('legend.attention'), opacity: state.opacity, words: legendWords(t), query: cell, queryGrid: grid },
      t('attention.nonlocal', { label, keys, u: formatUniform(map) }), [], crop);
    return withIndependence(ctx, width, layout, independence, 0, t);
  },
};
