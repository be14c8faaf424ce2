// The channel view: a block's gates, one per channel (SE, ECA, GC, CBAM's channel gate, the
// gates of EfficientNet's and MobileNetV3's squeeze-and-excitation), and one channel's feature
// map before and after the block.
import { drawChannelView } from '../drawing.js';
import { say } from './say.js';

export default {
  name: 'channel',
  bundledBlocks: ['se', 'cbam', 'eca', 'gc'],
  fits: (entry) => Boolean(entry.channel),
  controls: ['sorted'],
  draw(ctx, width, { entry, label, state, channelFeatures, network, t }) {
    if (!entry) return say(ctx, t(network ? 'say.channel.network' : 'say.channel'));
    const weights = entry.channel;
    if (!weights) return say(ctx, t('say.channel.none', { label }));
    // The bundled network sends every channel's features; a network's come one channel at a time.
    const { before, after } = entry.features ?? channelFeatures ?? {};
    const heading = t('channel.heading', { label, n: weights.length });
    return drawChannelView(ctx, width, {
      weights, names: entry.channel_names, sorted: state.sorted, hover: state.hoverChannel, before, after, heading,
      shownChannel: channelFeatures?.channel, t,
    });
  },
};
