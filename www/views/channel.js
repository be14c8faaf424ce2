// The channel view: a block's gates, one per channel (SE, ECA, GC, CBAM's channel gate, the
// gates of EfficientNet's and MobileNetV3's squeeze-and-excitation), and one channel's feature
// map before and after the block.
import { drawChannelView } from '../drawing.js';
import { say } from './say.js';

export default {
  name: 'channel',
  label: 'Channel weights',
  bundledBlocks: ['se', 'cbam', 'eca', 'gc'],
  fits: (entry) => Boolean(entry.channel),
  controls: ['sorted'],
  draw(ctx, width, { entry, label, state, channelFeatures, network }) {
    if (!entry && network) return say(ctx, 'This network has no block with channel gates; the Network view shows its blocks.');
    if (!entry) return say(ctx, 'Switch on SE, CBAM, ECA or GC to see channel weights.');
    const weights = entry.channel;
    if (!weights) return say(ctx, `${label} has no channel gate here (GC with "add" fusion adds instead); pick another block.`);
    // The bundled network sends every channel's features; a network's come one channel at a time.
    const { before, after } = entry.features ?? channelFeatures ?? {};
    const heading = `${label}: ${weights.length} channel weights (σ gates; 1 keeps a channel, 0 silences it)`;
    return drawChannelView(ctx, width, {
      weights, names: entry.channel_names, sorted: state.sorted, hover: state.hoverChannel, before, after, heading,
      shownChannel: channelFeatures?.channel,
    });
  },
};
