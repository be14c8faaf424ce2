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
  label: 'Attention',
  bundledBlocks: ['nonlocal', 'mhsa'],
  fits: (entry) => entry.kind === 'nl',
  controls: ['opacity', 'head'],
  queries: true,
  draw(ctx, width, { entry, block, label, photo, crop, state, network }) {
    if (!entry && network) return say(ctx, 'This network has no Non-local block, so no position attends to others; the Network view shows its blocks.');
    if (!entry) return say(ctx, 'Switch on Non-local or MHSA, then click the photo to see where a position attends.');
    const chosen = state.attention?.block === block ? state.attention : null;
    const { grid } = entry;
    const cell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell;
    if (block === 'mhsa') {
      const perHead = chosen ? chosen.row.perHead : entry.attention;
      const head = Math.min(state.head, perHead.length - 1);
      const extras = perHead.map((map, i) => ({ map, label: `head ${i + 1}`, selected: i === head }));
      return drawOverlayView(ctx, width, photo, { map: perHead[head], label: 'attention', opacity: state.opacity, query: cell, queryGrid: grid },
        `MHSA head ${head + 1} of ${perHead.length}: where the marked position attends (hover or click the photo; uniform ${formatUniform(perHead[head])})`, extras);
    }
    const map = chosen ? chosen.row : entry.attention;
    if (!map) {
      return drawOverlayView(ctx, width, photo, null, `${label}: click or hover the photo to see where that position attends`, [], crop);
    }
    const keys = map.width === grid.width ? '' : ` (keys subsampled to ${map.width} x ${map.height})`;
    return drawOverlayView(ctx, width, photo, { map, label: 'attention', opacity: state.opacity, query: cell, queryGrid: grid },
      `${label}: where the marked position attends${keys} (hover or click the photo; uniform ${formatUniform(map)})`, [], crop);
  },
};
