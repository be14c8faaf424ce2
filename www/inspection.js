// Which block each view shows (the reader's pick where it fits, else the first that does), a
// network's block opened from its tile, and the part of the photo an opened network saw. A mixin
// of the element, as attributes.js and api.js are.
import { VIEWS, viewNamed } from './views/index.js';
import { ROW_KINDS } from './bundled.js';

export const Inspection = (Base) => class extends Base {
  // The part of the result's `width x height` photo the maps cover: all of it, or the centre
  // crop an opened network saw (timm's eval transform: the shorter side to size / crop_pct, then
  // the centre size x size, i.e. a centred square of crop_pct of the shorter side).
  _cropOf({ width, height, input }, scale = 1) {
    if (!this._network || !input) return { x: 0, y: 0, width: width * scale, height: height * scale };
    const side = Math.min(width, height) * input.crop_pct * scale;
    return { x: (width * scale - side) / 2, y: (height * scale - side) / 2, width: side, height: side };
  }

  // Opens a network's block in the view that shows it best; every other view that can show it
  // shows it too.
  _openTile(path) {
    const entry = this.result.blocks[path];
    const view = entry.spatial || entry.context ? 'spatial' : ROW_KINDS.includes(entry.kind) ? 'nonlocal' : entry.channel ? 'channel' : 'features';
    for (const v of VIEWS) if (!v.networkOnly && v.fits(entry)) this._state.inspect[v.name] = path;
    this._state.selected = path;
    this.setAttribute('view', view);
  }

  /** The blocks (bundled names, or an opened network's paths) that `view` can show. */
  _fitting(view = this.view) {
    const spec = viewNamed(view);
    if (this._network) {
      if (!this.result?.blocks || spec.networkOnly) return [];
      return this.result.network.order.filter((path) => spec.fits(this.result.blocks[path]));
    }
    return spec.bundledBlocks.filter((b) => this.blocks.includes(b));
  }

  // The block the current view shows: the person's pick if it fits, else the first that fits.
  _inspected(view = this.view) {
    const fits = this._fitting(view);
    const chosen = this._state.inspect[view];
    return fits.includes(chosen) ? chosen : fits[0];
  }

  _inspect(block) {
    this._state.inspect[this.view] = block;
    this._state.attention = null;
    this._state.asked = null;
    this._state.hoverChannel = null;
    this._syncControls();
    this._render();
    this._fetchDetails();
  }
};
