// The attention view: where one query position attends: a Non-local block's attention row, or
// each head's row of multi-head self-attention. Hover or click the photo to move the query.
import { drawOverlayView } from '../drawing.js';
import { say } from './say.js';

// The weight every key would get if a query attended evenly: 1 / number of keys.
export function formatUniform(map) {
  return `1/${map.width * map.height} = ${(1 / (map.width * map.height)).toExponential(2)}`;
}

export default {
  name: 'nonlocal',
  bundledBlocks: ['nonlocal', 'mhsa'],
  fits: (entry) => entry.kind === 'nl',
  controls: ['opacity', 'head'],
  queries: true,
  draw(ctx, width, { entry, block, label, photo, crop, state, network, t }) {
    if (!entry) return say(ctx, t(network ? 'say.attention.network' : 'say.attention'));
    const chosen = state.attention?.block === block ? state.attention : null;
    const { grid } = entry;
    const cell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell;
    if (block === 'mhsa') {
      const perHead = chosen ? chosen.row.perHead : entry.attention;
      const head = Math.min(state.head, perHead.length - 1);
      const extras = perHead.map((map, i) => ({ map, label: t('attention.headn', { i: i + 1 }), selected: i === head }));
      return drawOverlayView(ctx, width, photo, { map: perHead[head], label: t('legend.attention'), opacity: state.opacity, query: cell, queryGrid: grid },
        t('attention.mhsa', { h: head + 1, n: perHead.length, u: formatUniform(perHead[head]) }), extras);
    }
    const map = chosen ? chosen.row : entry.attention;
    if (!map) {
      return drawOverlayView(ctx, width, photo, null, t('attention.click', { label }), [], crop);
    }
    const keys = map.width === grid.width ? '' : t('attention.keys', { w: map.width, h: map.height });
    return drawOverlayView(ctx, width, photo, { map, label: t('legend.attention'), opacity: state.opacity, query: cell, queryGrid: grid },
      t('attention.nonlocal', { label, keys, u: formatUniform(map) }), [], crop);
  },
};
