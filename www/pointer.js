// The pointer on the figure: hover and click on the canvas in each view (the query of the
// Attention view, a bar of Channel weights, a row of the tokens, a step's channel or position in
// How it works, a head's thumbnail, a network's tile and its on/off corner). The keyboard does the
// same through keyboard.js.
import { viewNamed } from './views/index.js';
import { fetchTrace } from './details.js';
import { toggleOff } from './network-off.js';

export function bindPointer(el) {
  let pending = false;
  let next = null;
  const query = async (event) => {
    const hit = hitPhoto(el, event);
    if (!hit || el.view !== 'nonlocal' || !el.result) return;
    next = hit;
    if (pending) return; // the latest position is asked for once the current one answers
    pending = true;
    try {
      while (next) {
        const { x, y } = next;
        next = null;
        await el.attentionAt(x, y, el._inspected('nonlocal'));
      }
    } catch (e) {
      el._showError(e);
    } finally {
      pending = false;
    }
  };
  el._canvas.addEventListener('click', (event) => {
    if (el.view === 'network') return clickNetwork(el, event);
    if (el.view === 'explain') {
      hoverTrace(el, event);
      return clickTrace(el);
    }
    const hit = hitPhoto(el, event);
    if (hit && el.view === 'nonlocal') el._keepQuery(hit.x, hit.y);
    query(event);
  });
  el._canvas.addEventListener('pointermove', (event) => {
    if (el.view === 'nonlocal') query(event); // hover follows the pointer; requests coalesce
    if (el.view === 'channel') hoverBar(el, event);
    if (el.view === 'tokens') hoverToken(el, event);
    if (el.view === 'explain') hoverTrace(el, event);
    if (el.view === 'nonlocal') hoverHead(el, event, false);
    if (el.view === 'network') el._canvas.style.cursor = tileAt(el, event) ? 'pointer' : '';
  });
  el._canvas.addEventListener('pointerdown', (event) => {
    if (el.view === 'nonlocal') hoverHead(el, event, true);
  });
  el._canvas.addEventListener('pointerleave', () => {
    if (el._state.hoverChannel != null) {
      el._state.hoverChannel = null;
      el._render();
    }
  });
}

// The pointer in the drawing's coordinates: the canvas is drawn at least figure.js's MIN_DRAW_WIDTH wide and
// scaled to its column, so at any width the pointer maps to what is drawn under it.
function point(el, event) {
  const r = el._canvas.getBoundingClientRect();
  const sx = (el._drawn?.width ?? r.width) / (r.width || 1);
  const sy = (el._drawn?.height ?? r.height) / (r.height || 1);
  return { x: (event.clientX - r.left) * sx, y: (event.clientY - r.top) * sy };
}

function within(el, p, list) {
  return list?.find((b) => p.x >= b.x && p.x < b.x + b.width && p.y >= b.y && p.y < b.y + b.height);
}

// Image coordinates (of the result's width x height) under the pointer, if it is over the photo.
function hitPhoto(el, event) {
  const rect = el._layout?.photoRect;
  if (!rect) return null;
  const p = point(el, event);
  const u = (p.x - rect.x) / rect.width;
  const v = (p.y - rect.y) / rect.height;
  if (u < 0 || v < 0 || u >= 1 || v >= 1) return null;
  const { x, y, width, height } = el._cropOf(el.result);
  return { x: x + u * width, y: y + v * height };
}

function tileAt(el, event) {
  const p = point(el, event);
  return within(el, p, el._layout?.toggles) ?? within(el, p, el._layout?.tiles);
}

// In the network view a click on a block's corner switches it; elsewhere on it, opens it.
function clickNetwork(el, event) {
  const p = point(el, event);
  const toggle = within(el, p, el._layout?.toggles);
  if (toggle) {
    toggleOff(el, toggle.path, !el.result.blocks[toggle.path].off);
    return;
  }
  const tile = within(el, p, el._layout?.tiles);
  if (tile) el._openTile(tile.path);
}

function hoverBar(el, event) {
  const p = point(el, event);
  const bar = within(el, p, el._layout?.bars);
  const channel = bar ? bar.index : null;
  if (channel !== el._state.hoverChannel) {
    el._state.hoverChannel = channel;
    el._render();
    if (channel != null) el._fetchDetails();
  }
}

// Hover in the how-it-works view: a bar follows its channel, a map cell its position.
function hoverTrace(el, event) {
  const p = point(el, event);
  const region = within(el, p, el._layout?.bars);
  let hover = null;
  if (region?.kind === 'c') hover = { kind: 'c', index: region.index };
  if (region?.kind === 'p') {
    const { width, height } = region.grid;
    const cx = Math.min(width - 1, Math.floor(((p.x - region.x) / region.width) * width));
    const cy = Math.min(height - 1, Math.floor(((p.y - region.y) / region.height) * height));
    hover = { kind: 'p', index: cy * width + cx, width, height };
  }
  const key = (h) => (h ? `${h.kind}${h.index}/${h.width}` : '');
  if (key(hover) !== key(el._state.traceHover)) {
    el._state.traceHover = hover;
    el._render();
  }
}

// A click on a map of Non-local's or MHSA's steps moves the query there.
function clickTrace(el) {
  const hover = el._state.traceHover;
  const block = el._inspected();
  const grid = el._layout?.traceGrid;
  if (hover?.kind !== 'p' || !grid || !el.result) return;
  const cell = viewNamed('explain').onGrid(hover.index, hover, grid);
  el._state.traceQuery = { block, fx: cell.x, fy: cell.y };
  fetchTrace(el, el.result);
}

function hoverToken(el, event) {
  const region = within(el, point(el, event), el._layout?.tokenRows);
  const row = region ? region.index : null;
  if (row !== el._state.tokenHover) {
    el._state.tokenHover = row;
    el._render();
  }
}

function hoverHead(el, event, select) {
  const p = point(el, event);
  const region = within(el, p, el._layout?.regions);
  el._canvas.style.cursor = region || hitPhoto(el, event) ? 'pointer' : '';
  if (region && select) {
    el._state.head = region.index;
    el._syncControls();
    el._render();
  }
}
