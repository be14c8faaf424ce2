// The features view: a block's input and output feature maps side by side, the channels it
// changed most outlined.
import { drawFeaturesView } from '../drawing.js';
import { say } from './say.js';

// The `count` channels whose maps changed most (relative L1).
export function mostChanged(before, after, count) {
  const plane = before.width * before.height;
  const change = [];
  for (let c = 0; c < before.channels; c++) {
    let diff = 0;
    let size = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      diff += Math.abs(after.data[i] - before.data[i]);
      size += Math.abs(before.data[i]);
    }
    change.push([diff / (size || 1), c]);
  }
  return change.sort((a, b) => b[0] - a[0]).slice(0, count).map(([, c]) => c);
}

export default {
  name: 'features',
  label: 'Features',
  bundledBlocks: ['se', 'eca', 'gc', 'cbam', 'nonlocal', 'mhsa'],
  fits: () => true,
  controls: [],
  draw(ctx, width, { entry, label, blockFeatures, network }) {
    if (!entry && network) return say(ctx, 'This network has no attention blocks to compare before and after.');
    if (!entry) return say(ctx, 'Switch on a block to compare its input and output features.');
    const features = entry.features ?? blockFeatures;
    if (!features) return say(ctx, `${label}: its features are on their way…`);
    const { before, after } = features;
    const which = features.picked ? ` (${features.picked})` : '';
    return drawFeaturesView(ctx, width, {
      before, after, highlight: mostChanged(before, after, 4),
      heading: `${label}: ${before.channels === entry.channels ? `the ${before.channels}` : `${before.channels} of the ${entry.channels}`} feature maps before and after the block${which}`,
    });
  },
};
