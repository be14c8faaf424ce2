// The spatial view: a map over the photo: CBAM's spatial gate, GC's context weights (softmax
// over positions).
import { drawOverlayView, legendWords } from '../drawing.js';
import { say } from './say.js';

const MAPS = [
  ['spatial', 'spatial.gate', 'legend.gate'],
  ['context', 'spatial.context', 'legend.weight'],
];

export default {
  name: 'spatial',
  bundledBlocks: ['cbam', 'gc'],
  fits: (entry) => Boolean(entry.spatial || entry.context),
  controls: ['opacity'],
  draw(ctx, width, { entry, label, photo, crop, state, network, t }) {
    if (!entry) return say(ctx, t(network ? 'say.spatial.network' : 'say.spatial'));
    const found = MAPS.find(([key]) => entry[key]);
    if (!found) return say(ctx, t('say.spatial.none', { label }));
    const [key, heading, legend] = found;
    const map = entry[key];
    return drawOverlayView(ctx, width, photo, { map, label: t(legend), opacity: state.opacity, words: legendWords(t) }, `${label} ${t(heading)}, ${map.width} x ${map.height}`, [], crop);
  },
};
