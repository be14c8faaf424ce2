// The figure from the keyboard and for screen readers. The canvas takes focus (Tab) and the arrow
// keys do in each view what the pointer does:
// - Attention: move the query one cell of the block's grid (the attention row follows);
// - How it works: Left / Right follow a channel through the bars, Up / Down move Non-local's or
//   MHSA's query down / up a row (Left / Right move it along the row there);
// - Channel weights: Left / Right walk the bars (in the order drawn), Home / End the ends;
// - Self-attention on tokens: Up / Down walk the rows;
// - Network: the arrows walk the tiles, Enter opens one in the other views, Space switches it.
// The tabs are one tab list: Tab reaches the chosen tab, the arrow keys move along the list.
// `figureLabel` is the canvas's text alternative: what the figure shows, in words.
import { BLOCK_LABEL } from './bundled.js';
import { format } from './drawing.js';
import { traceChannels } from './views/explain.js';
import { fetchTrace } from './details.js';
import { toggleOff } from './network-off.js';

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/** Makes the tab list of `el` one Tab stop with arrow keys, and its canvas focusable and operable. */
export function bindKeyboard(el) {
  const root = el.shadowRoot;
  const tablist = root.querySelector('.tabs');
  tablist?.addEventListener('keydown', (event) => {
    const tabs = [...tablist.querySelectorAll('.tab:not([hidden])')];
    const at = tabs.indexOf(root.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[(next + tabs.length) % tabs.length];
    el.setAttribute('view', tab.dataset.view);
    tab.focus();
  });
  const canvas = root.querySelector('canvas');
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.addEventListener('keydown', (event) => {
    if (!el.result) return;
    const handled = onKey(el, event.key);
    if (handled) event.preventDefault();
  });
}

/** Keeps the tab list's roving tab stop on the chosen tab. */
export function syncTabStops(el) {
  el.shadowRoot.querySelectorAll('.tab').forEach((tab) => {
    const chosen = tab.getAttribute('aria-selected') === 'true';
    tab.tabIndex = chosen ? 0 : -1;
    // Where the tabs are one row that scrolls sideways (a phone), the chosen one is in sight.
    const list = tab.parentElement;
    if (chosen && list.scrollWidth > list.clientWidth) {
      const left = tab.offsetLeft - list.offsetLeft;
      if (left < list.scrollLeft || left + tab.offsetWidth > list.scrollLeft + list.clientWidth) list.scrollLeft = left - 8;
    }
  });
}

function onKey(el, key) {
  const view = el.view;
  const move = ARROWS[key];
  if (view === 'nonlocal' && move) return moveQuery(el, move);
  if (view === 'channel') return walkBars(el, key);
  if (view === 'tokens' && (key === 'ArrowUp' || key === 'ArrowDown')) {
    const rows = el._state.walk?.result?.tokens.length ?? 0;
    if (!rows) return false;
    const now = el._state.tokenHover ?? (key === 'ArrowDown' ? -1 : rows);
    el._state.tokenHover = Math.max(0, Math.min(rows - 1, now + (key === 'ArrowDown' ? 1 : -1)));
    el._render();
    return true;
  }
  if (view === 'explain') return walkTrace(el, key);
  if (view === 'network') return walkTiles(el, key);
  return false;
}

// The Attention view's query, one cell of the inspected block's grid further.
function moveQuery(el, [dx, dy]) {
  const block = el._inspected('nonlocal');
  const entry = block && el.result.blocks[block];
  if (!entry?.grid || entry.off) return false;
  // The cell asked last (its answer may still be on its way), else the one drawn.
  const asked = el._state.asked;
  const chosen = asked?.block === block && asked.result === el.result ? asked : el._state.attention?.block === block ? el._state.attention : null;
  const cell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell ?? { x: Math.floor(entry.grid.width / 2), y: Math.floor(entry.grid.height / 2) };
  const fx = Math.max(0, Math.min(entry.grid.width - 1, cell.x + dx));
  const fy = Math.max(0, Math.min(entry.grid.height - 1, cell.y + dy));
  const crop = el._cropOf(el.result);
  const x = crop.x + ((fx + 0.5) / entry.grid.width) * crop.width;
  const y = crop.y + ((fy + 0.5) / entry.grid.height) * crop.height;
  el._keepQuery(x, y);
  el.attentionAt(x, y, block).catch((e) => el._showError(e));
  return true;
}

// The Channel weights view's bars, in the order drawn (sorted or by channel).
function walkBars(el, key) {
  const entry = el.result.blocks[el._inspected('channel')];
  const weights = entry?.channel;
  if (!weights) return false;
  const order = [...weights.keys()];
  if (el._state.sorted) order.sort((a, b) => weights[b] - weights[a]);
  const at = el._state.hoverChannel == null ? -1 : order.indexOf(el._state.hoverChannel);
  const next = { ArrowRight: at + 1, ArrowLeft: at < 0 ? 0 : at - 1, Home: 0, End: order.length - 1 }[key];
  if (next === undefined) return false;
  el._state.hoverChannel = order[Math.max(0, Math.min(order.length - 1, next))];
  el._render();
  el._fetchDetails();
  return true;
}

// How it works: a channel through the bars, or Non-local's / MHSA's query over the grid.
function walkTrace(el, key) {
  const trace = el._state.trace?.result;
  if (!trace) return false;
  const block = el._inspected();
  const entry = el.result.blocks[block];
  if (['nonlocal', 'mhsa', 'bot'].includes(trace.kind) && ARROWS[key] && entry?.grid) {
    const [dx, dy] = ARROWS[key];
    const now = el._state.traceQuery?.block === block ? { x: el._state.traceQuery.fx, y: el._state.traceQuery.fy } : trace.at;
    const fx = Math.max(0, Math.min(entry.grid.width - 1, now.x + dx));
    const fy = Math.max(0, Math.min(entry.grid.height - 1, now.y + dy));
    el._state.traceQuery = { block, fx, fy };
    fetchTrace(el, el.result);
    return true;
  }
  if (key !== 'ArrowLeft' && key !== 'ArrowRight') return false;
  const channels = traceChannels(trace);
  if (!channels) return false;
  const now = el._state.traceHover?.kind === 'c' ? el._state.traceHover.index : -1;
  const index = Math.max(0, Math.min(channels - 1, now + (key === 'ArrowRight' ? 1 : -1)));
  el._state.traceHover = { kind: 'c', index };
  el._render();
  return true;
}

// The network view's tiles: the arrows move the selection, Enter opens it, Space switches it.
function walkTiles(el, key) {
  const tiles = el._layout?.tiles ?? [];
  if (!tiles.length) return false;
  const at = tiles.findIndex((t) => t.path === el._state.selected);
  if (key === 'Enter' || key === ' ') {
    const tile = tiles[Math.max(0, at)];
    if (key === ' ') toggleOff(el, tile.path, !el.result.blocks[tile.path].off);
    else el._openTile(tile.path);
    return true;
  }
  const move = ARROWS[key];
  if (!move) return false;
  let next;
  if (at < 0) next = 0;
  else if (move[1] === 0) next = Math.max(0, Math.min(tiles.length - 1, at + move[0]));
  else {
    // Up / down: the nearest tile in the row above / below.
    const here = tiles[at];
    const candidates = tiles.filter((t) => (move[1] > 0 ? t.y > here.y : t.y < here.y));
    const rowY = move[1] > 0 ? Math.min(...candidates.map((t) => t.y)) : Math.max(...candidates.map((t) => t.y));
    const row = candidates.filter((t) => t.y === rowY);
    next = row.length ? tiles.indexOf(row.reduce((a, b) => (Math.abs(b.x - here.x) < Math.abs(a.x - here.x) ? b : a))) : at;
  }
  el._state.selected = tiles[next].path;
  el._render();
  return true;
}

/** The figure in words, for the canvas's aria-label: what the view shows on this photo. */
export function figureLabel(el) {
  const t = el._t;
  const result = el.result;
  if (!result) return t('alt.none');
  const view = el.view;
  const block = el._inspected();
  const entry = block && result.blocks?.[block];
  const name = el._network ? block : BLOCK_LABEL[block] ?? block;
  const heading = t(`view.${view}`);
  if (view === 'channel' && entry?.channel) {
    const weights = entry.channel;
    const order = [...weights.keys()].sort((a, b) => weights[b] - weights[a]);
    const names = entry.channel_names;
    const ch = (c) => (names?.[c] ? `${t.named(names[c])} (${c})` : `#${c}`);
    const list = (cs) => cs.map((c) => `${ch(c)} ${format(weights[c])}`).join(', ');
    const all = t('alt.channel', { name, n: weights.length, high: list(order.slice(0, 3)), low: list(order.slice(-3).reverse()) });
    // The bar the arrow keys (or the pointer) are on, first: what a screen reader reads as it moves.
    const at = el._state.hoverChannel;
    return at != null && at < weights.length ? `${t('alt.bar', { channel: ch(at), w: format(weights[at]), rank: order.indexOf(at) + 1, n: weights.length })} ${all}` : all;
  }
  if ((view === 'spatial' || view === 'nonlocal') && entry) {
    const map = view === 'nonlocal' ? (el._state.attention?.block === block ? el._state.attention.row?.perHead?.[el._state.head] ?? el._state.attention.row : entry.attention?.[el._state.head] ?? entry.attention) : entry.spatial ?? entry.context;
    if (map?.data) {
      let best = 0;
      for (let i = 1; i < map.data.length; i++) if (map.data[i] > map.data[best]) best = i;
      const where = placeOf((best % map.width + 0.5) / map.width, (Math.floor(best / map.width) + 0.5) / map.height, t);
      return t(view === 'nonlocal' ? 'alt.attention' : 'alt.spatial', { name, where, max: format(map.data[best]) });
    }
  }
  if (view === 'network' && result.network) {
    const chosen = el._state.selected && result.blocks[el._state.selected];
    const all = t('alt.network', { n: result.network.order.length, arch: result.network.arch });
    return chosen ? `${t('alt.tile', { path: el._state.selected, kind: chosen.kind, state: t(chosen.off ? 'alt.off' : 'alt.on') })} ${all}` : all;
  }
  return t('alt.view', { view: heading, name: name ?? '' });
}

// "the upper left", "the centre", ... of the photo for a point (u, v) in [0, 1)².
function placeOf(u, v, t) {
  const col = u < 1 / 3 ? 'left' : u < 2 / 3 ? 'centre' : 'right';
  const row = v < 1 / 3 ? 'top' : v < 2 / 3 ? 'middle' : 'bottom';
  return t(`alt.place.${row}.${col}`);
}
