// The views, in the order of their tabs. A view is one module exporting
//   { name, bundledBlocks, fits(entry), controls, draw(ctx, width, scene) -> layout }
// (its tab says i18n.js's `view.<name>`)
// (see channel.js for the simplest); a new view is a new file listed here.
import channel from './channel.js';
import spatial from './spatial.js';
import attention from './attention.js';
import features from './features.js';
import network from './network.js';

export const VIEWS = [network, channel, spatial, attention, features];
export const viewNamed = (name) => VIEWS.find((v) => v.name === name);
