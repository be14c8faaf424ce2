// What a view needs beyond a run's result, fetched from the engine after it: a network block's
// features and one channel's planes, the query the `query` attribute names, Non-local's query
// independence, a network's Non-local rows for its tiles, the token walkthrough, a block's steps
// (How it works), the ablation sweep. Each answer is drawn if its result is still the current one.
import { runSweep } from './ablation.js';
import { ROW_KINDS, headsOf } from './bundled.js';

// Resolves once the next frame has been drawn: a follow-up request sent then does not hold up
// the frame that shows a new result.
const afterFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

// After a result, what the view needs beyond it: one channel's features (the channel view), a
// block's features (the features view). Each answer is drawn if the result is still current.
export async function fetchDetails(el) {
  if (!el.result) return;
  const asked = el.result;
  if (el.view === 'tokens') return fetchWalk(el);
  if (el.view === 'explain') {
    // After the frame that shows the new result (the steps come a frame later).
    await afterFrame();
    return asked === el.result ? fetchTrace(el, asked) : undefined;
  }
  if (el.view === 'nonlocal') {
    // The query the `query` attribute names (a link's), once per result.
    const q = el.query;
    if (q && el._queryAsked !== asked) {
      el._queryAsked = asked;
      el._queryShown = el.getAttribute('query');
      await el.attentionAt(q.u * asked.width, q.v * asked.height, el._inspected('nonlocal')).catch((e) => asked === el.result && el._showError(e));
      if (asked !== el.result) return;
    }
    // Is the attention the same for every query? A 4 x 4 grid of queries, once per block and result.
    const block = el._inspected();
    const entry = block && asked.blocks[block];
    // An opened network's Non-local block has no row until a query is asked for: the centre's.
    if (el._network && entry && !entry.off && el._state.attention?.block !== block) {
      const crop = el._cropOf(asked);
      await el.attentionAt(crop.x + crop.width / 2, crop.y + crop.height / 2, block).catch((e) => asked === el.result && el._showError(e));
      if (asked !== el.result) return;
    }
    if (!entry || entry.off || el._state.independence?.block === block && el._state.independence.result === asked) return;
    // After the frame that shows the new result: the 16 rows it asks for are not in its way.
    await afterFrame();
    if (asked !== el.result) return;
    try {
      const measured = el._network
        ? await el._engine.call('networkQueryIndependence', { path: block, side: 4 })
        : await el._engine.call('queryIndependence', { block, side: 4 });
      if (asked !== el.result) return;
      el._state.independence = { block, result: asked, ...measured };
      el._render();
    } catch (e) {
      if (asked === el.result) el._state.independence = { block, result: asked, unavailable: String(e.message ?? e) };
      el._render();
    }
    return;
  }
  if (!el._network) return;
  if (el.view === 'ablation') return runSweep(el, asked);
  if (el.view === 'network') {
    // Each Non-local block's row for the centre query (or the one last clicked), for its tile.
    try {
      for (const path of asked.network.order) {
        const entry = asked.blocks[path];
        if (!ROW_KINDS.includes(entry.kind) || entry.off || el._state.rows[path]) continue;
        const query = { fx: Math.floor(entry.grid.width / 2), fy: Math.floor(entry.grid.height / 2) };
        const row = await el._engine.call('networkAttentionAt', { path, ...query });
        if (asked !== el.result) return;
        el._state.rows[path] = { ...row, ...(row.heads ? { perHead: headsOf(row) } : {}), query };
        el._render();
      }
    } catch (e) {
      if (asked === el.result) el._showError(e);
    }
    return;
  }
  const path = el._inspected();
  const entry = path && asked.blocks[path];
  if (!entry) return;
  try {
    if (el.view === 'features') {
      const key = `${path}`;
      if (el._state.features?.key === key) return;
      const channels = pickChannels(entry, 16);
      const answer = await el._engine.call('networkFeatures', { path, channels });
      if (asked !== el.result) return;
      el._state.features = { key, ...toFeatures(answer, channels, entry) };
      el._render();
    } else if (el.view === 'channel' && entry.channel) {
      const order = [...entry.channel.keys()].sort((a, b) => entry.channel[b] - entry.channel[a]);
      const channel = el._state.hoverChannel ?? order[0];
      const key = `${path}#${channel}`;
      if (el._state.channelFeatures?.key === key) return;
      const answer = await el._engine.call('networkFeatures', { path, channels: [channel] });
      if (asked !== el.result) return;
      el._state.channelFeatures = { key, channel, ...toFeatures(answer, [channel], entry) };
      el._render();
    }
  } catch (e) {
    if (asked === el.result) el._showError(e);
  }
}

// The token walkthrough for the current characters and heads, once per (text, heads, backend).
async function fetchWalk(el) {
  const key = `${el.tokens}|${el.tokenHeads}|${el.backend}`;
  if (el._state.walk?.key === key) return;
  el._state.walk = { key };
  try {
    const result = await el._engine.call('tokenWalk', { text: el.tokens, heads: el.tokenHeads });
    if (el._state.walk.key === key) el._state.walk.result = result;
  } catch (e) {
    if (el._state.walk.key === key) el._state.walk.error = el._t('tokens.refused', { why: el._t.message(String(e.message ?? e)) });
  }
  if (el._state.walk.key === key && el.view === 'tokens') el._render();
}

// The inspected block's steps on the last run's input, once per result, block and (for
// Non-local and MHSA) query: the one clicked in el view, else the attention view's, else the
// run's own.
export async function fetchTrace(el, asked) {
  const block = el._inspected();
  if (!block || !asked.blocks[block]) return;
  const entry = asked.blocks[block];
  const grid = entry.grid ?? { width: 1, height: 1 };
  const chosen = [el._state.traceQuery, el._state.attention].find((q) => q?.block === block);
  const askedCell = chosen ? { x: chosen.fx, y: chosen.fy } : entry.queryCell ?? { x: Math.floor(grid.width / 2), y: Math.floor(grid.height / 2) };
  // A query kept from another photo may lie outside el one's grid.
  const cell = { x: Math.min(askedCell.x, grid.width - 1), y: Math.min(askedCell.y, grid.height - 1) };
  const at = `${cell.x},${cell.y}`;
  const old = el._state.trace;
  if (old?.block === block && old.result_of === asked && old.at === at) return;
  const trace = { block, result_of: asked, at };
  el._state.trace = trace;
  try {
    trace.result = el._network
      ? await el._engine.call('networkTrace', { path: block, fx: cell.x, fy: cell.y })
      : await el._engine.call('trace', { block, fx: cell.x, fy: cell.y });
  } catch (e) {
    trace.error = String(e.message ?? e);
  }
  if (el._state.trace === trace && asked === el.result) el._render();
}

// Which channels of a block's features to fetch for the features view: for a gate, the most and
// the least kept; otherwise the first.
function pickChannels(entry, count) {
  const channels = entry.channels;
  if (channels <= count) return [...Array(channels).keys()];
  if (!entry.channel) return [...Array(count).keys()];
  const order = [...entry.channel.keys()].sort((a, b) => entry.channel[b] - entry.channel[a]);
  return [...order.slice(0, count / 2), ...order.slice(-count / 2)];
}

// The engine's per-channel planes as the features views' `{ channels, width, height, data }`.
function toFeatures(answer, channels, entry) {
  const pack = (planes) => {
    const data = new Float32Array(planes.length * answer.width * answer.height);
    planes.forEach((p, i) => data.set(p, i * p.length));
    return { channels: planes.length, width: answer.width, height: answer.height, data };
  };
  const picked = channels.length === entry.channels ? null : entry.channel ? { gates: channels.length / 2 } : { last: channels.length - 1 };
  return { before: pack(answer.before), after: pack(answer.after), indices: channels, picked };
}
