// The views, in the order of their tabs. A view is one module exporting
//   { name, bundledBlocks, fits(entry), controls, draw(ctx, width, scene) -> layout }
// and optionally networkOnly, bundled: false (it draws blocks the bundled network does not have, so
// its tab shows only while a network is open), maxHeight (CSS pixels; 900 unless it says) and html(scene) (markup
// shown above the canvas: the formula view's MathML)
// (its tab says i18n.js's `view.<name>`)
// (see channel.js for the simplest); a new view is a new file listed here.
import channel from './channel.js';
import spatial from './spatial.js';
import branches from './branches.js';
import attention from './attention.js';
import features from './features.js';
import network from './network.js';
import ablation from './ablation.js';
import tokens from './tokens.js';
import formula from './formula.js';
import explain from './explain.js';

export const VIEWS = [network, ablation, channel, spatial, branches, attention, features, explain, formula, tokens];
export const viewNamed = (name) => VIEWS.find((v) => v.name === name);
