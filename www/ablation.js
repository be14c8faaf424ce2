// The ablation sweep on an opened network: each stage and then each block switched off in turn,
// and the change in the probability of the class it predicts with every block on. The engine's
// Session keeps the run with every block on and re-runs only from the first module switched off,
// so each step costs the stages after that block. The sweep runs while the Ablation view is
// shown, draws as it goes, and stops when the view is left, the photo or the network changes, or
// Cancel is pressed (`el._state.sweep`).

/** Starts (or goes on with) the sweep for `asked`, the element's current result. */
export async function runSweep(el, asked) {
  const old = el._state.sweep;
  if (old?.result === asked && (old.running || old.done)) return;
  const units = [...new Set(asked.network.order.map((p) => asked.blocks[p].stage)), ...asked.network.order];
  const sweep = { result: asked, units, rows: [], running: true, done: false, cancelled: false };
  el._state.sweep = sweep;
  const stale = () => sweep.cancelled || el._state.sweep !== sweep || el.result !== asked || el.view !== 'ablation';
  el._syncControls();
  try {
    const photo = el._photo.full;
    for (const unit of units) {
      if (stale()) break;
      const pixels = new Uint8Array(photo.rgba).buffer;
      const answer = await el._engine.call('runNetwork', { rgba: pixels, width: photo.width, height: photo.height, off: unit }, [pixels]);
      if (stale()) break;
      sweep.rows.push({ unit, stage: !asked.blocks[unit], name: answer.change.name, full: answer.change.full, off: answer.change.off });
      el._render();
    }
    sweep.done = sweep.rows.length === units.length;
  } catch (e) {
    if (!stale()) sweep.error = String(e.message ?? e);
  } finally {
    sweep.running = false;
    if (el._state.sweep === sweep) {
      el._syncControls();
      el._render();
    }
  }
}

/** Stops a running sweep (what it measured stays on screen). */
export function cancelSweep(el) {
  if (el._state.sweep?.running) el._state.sweep.cancelled = true;
}
