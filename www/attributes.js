// What the element's attributes say, read with their defaults and checked values: the blocks, the
// options, the query, the view (and the views offered), the backend, the language... A mixin, as
// api.js's PlaygroundApi is, so that the element class keeps its state and flow only.
import { BLOCKS, DEFAULT_BLOCKS, parseOptions } from './bundled.js';
import { languageOf, translator } from './i18n.js';
import { VIEWS, viewNamed } from './views/index.js';

export const AttributeReaders = (Base) => class extends Base {
  get blocks() {
    const words = (this.getAttribute('blocks') ?? DEFAULT_BLOCKS.join(' ')).split(/\s+/).filter(Boolean);
    return BLOCKS.map((b) => b.name).filter((n) => words.includes(n));
  }

  /** The bundled blocks' options the `options` attribute sets (`nonlocal.pairwise=dot-product
   *  mhsa.heads=2`), as `{ 'nonlocal.pairwise': 'dot-product', ... }`; words that name no option
   *  or value are left out (and named by `optionsProblem`). */
  get options() {
    return parseOptions(this.getAttribute('options')).options;
  }

  /** The query the `query` attribute names, `{ u, v }` as fractions of the photo's width and
   *  height, or null. */
  get query() {
    const m = /^\s*([0-9.]+)\s*,\s*([0-9.]+)\s*$/.exec(this.getAttribute('query') ?? '');
    const [u, v] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    return u >= 0 && u < 1 && v >= 0 && v < 1 ? { u, v } : null;
  }

  /** The token walkthrough's characters (the `tokens` attribute), 早上好 by default. */
  get tokens() {
    return this.getAttribute('tokens') ?? '早上好';
  }

  /** The token walkthrough's heads, 1 to 4 (the `token-heads` attribute). */
  get tokenHeads() {
    const h = Number(this.getAttribute('token-heads'));
    return [1, 2, 3, 4].includes(h) ? h : 1;
  }

  /** What is switched off in an opened network: block paths, path prefixes or kinds. */
  get off() {
    return (this.getAttribute('off') ?? '').split(/[\s,]+/).filter(Boolean);
  }

  get view() {
    const v = this.getAttribute('view');
    if (this._offers(v)) return v;
    const fallback = this._network ? 'network' : 'spatial';
    return [fallback, ...VIEWS.map((view) => view.name)].find((name) => this._offers(name)) ?? fallback;
  }

  /** Whether the element offers view `name`: one the `views` attribute lists (every view when it
   *  lists none), and the network view (and views of blocks the bundled network lacks) only while
   *  a network is open. */
  _offers(name) {
    const spec = viewNamed(name);
    if (!spec || ((spec.networkOnly || spec.bundled === false) && !this._network)) return false;
    // An opened network's views that have nothing of it to show (Channel weights without a gate).
    if (this._network && this.result?.network && !spec.networkOnly && name !== 'tokens' && !this._fitting(name).length) return false;
    const listed = (this.getAttribute('views') ?? '').split(/[\s,]+/).filter(Boolean);
    return !listed.length || listed.includes(name);
  }

  /** Whether the card is dark: the `theme` attribute, else the page's colour scheme (the card's
   *  background, which light-dark() resolves, decides). */
  _dark() {
    const card = this.shadowRoot.querySelector('.card');
    const rgb = card && getComputedStyle(card).backgroundColor.match(/\d+(\.\d+)?/g)?.map(Number);
    return Boolean(rgb) && 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] < 128;
  }

  get backend() {
    const b = this.getAttribute('backend');
    return ['auto', 'webgpu', 'cpu'].includes(b) ? b : 'auto';
  }

  // Which build of the wasm engine: auto (SIMD where the browser has it), simd or scalar.
  get wasm() {
    const w = this.getAttribute('wasm');
    return ['simd', 'scalar'].includes(w) ? w : 'auto';
  }

  /** `en` or `zh`: the `lang` attribute, else the page's language. */
  get language() {
    return languageOf(this);
  }

  /** The element's words in its language (www/i18n.js). */
  get _t() {
    return translator(this.language);
  }

  get controls() {
    const c = this.getAttribute('controls');
    return ['full', 'minimal', 'none'].includes(c) ? c : 'full';
  }
};
