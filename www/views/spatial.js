// The spatial view: a map over the photo: CBAM's spatial gate, GC's context weights (softmax
// over positions).
import { drawOverlayView } from '../drawing.js';
import { say } from './say.js';

const MAPS = [
  ['spatial', 'spatial gate', 'gate'],
  ['context', 'context weights (softmax over positions)', 'weight'],
];

export default {
  name: 'spatial',
  label: 'Spatial map',
  bundledBlocks: ['cbam', 'gc'],
  fits: (entry) => Boolean(entry.spatial || entry.context),
  controls: ['opacity'],
  draw(ctx, width, { entry, label, photo, crop, state, network }) {
    if (!entry && network) return say(ctx, 'This network has no CBAM or GC block, so no spatial map; the Network view shows its blocks.');
    if (!entry) return say(ctx, 'Switch on CBAM or GC to see a spatial map.');
    const found = MAPS.find(([key]) => entry[key]);
    if (!found) return say(ctx, `${label} has no spatial map; pick a CBAM or GC block.`);
    const [key, heading, legend] = found;
    const map = entry[key];
    return drawOverlayView(ctx, width, photo, { map, label: legend, opacity: state.opacity }, `${label} ${heading}, ${map.width} x ${map.height}`, [], crop);
  },
};
