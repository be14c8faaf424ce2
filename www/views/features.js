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
  bundledBlocks: ['se', 'eca', 'gc', 'cbam', 'nonlocal', 'mhsa'],
  fits: () => true,
  controls: [],
  draw(ctx, width, { entry, label, blockFeatures, network, t }) {
    if (!entry) return say(ctx, t(network ? 'say.features.network' : 'say.features'));
    const features = entry.features ?? blockFeatures;
    if (!features) return say(ctx, t('say.features.wait', { label }));
    const { before, after } = features;
    const total = entry.channels ?? before.channels;
    const which = before.channels === total ? t('features.all', { n: before.channels }) : t('features.some', { n: before.channels, total });
    const picked = !features.picked ? '' : features.picked.gates ? t('features.picked.gates', { n: features.picked.gates }) : t('features.picked.first', { last: features.picked.last });
    return drawFeaturesView(ctx, width, { before, after, highlight: mostChanged(before, after, 4), t, heading: t('features.heading', { label, which, picked }) });
  },
};
