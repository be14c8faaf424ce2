// The ablation view of an opened network: each stage and each block switched off in turn (see
// www/ablation.js, which runs the sweep), drawn as the change in the probability of the class the
// network predicts with every block on, largest change first: a bar to the left where switching it
// off lowers that probability, to the right where it raises it.
import { INK, LINE, MUTED, fitStart, note, paragraph, smallWidth, title } from '../drawing.js';
import { pair, pct } from '../lines.js';
import { say } from './say.js';

const ROW = 20;

// The bars' half-width stands for at least this change (5 percentage points), so that a change
// of a rounding error is not drawn as large as the network's largest.
const LEAST_SCALE = 0.05;

export default {
  name: 'ablation',
  bundledBlocks: [],
  networkOnly: true,
  maxHeight: 4000,
  fits: () => false,
  controls: ['sweep'],
  draw(ctx, width, { result, state, t }) {
    const sweep = state.sweep?.result === result ? state.sweep : null;
    if (!result?.network?.order?.length) return say(ctx, t('say.ablation.none'));
    if (!sweep) return say(ctx, t('say.ablation.wait'));
    const first = sweep.rows[0];
    let y = title(ctx, t('ablation.heading', { name: first?.name ?? '…', p: first ? pct(first.full) : '…' }), 0, 0) + 4;
    const progress = sweep.running ? t('ablation.running', { done: sweep.rows.length, all: sweep.units.length })
      : sweep.done ? t('ablation.done', { all: sweep.units.length }) : t('ablation.stopped', { done: sweep.rows.length, all: sweep.units.length });
    y += paragraph(ctx, progress, 0, y) + 8;
    if (sweep.error) y += paragraph(ctx, t.message(sweep.error), 0, y, undefined, INK) + 8;
    const rows = [...sweep.rows].sort((a, b) => Math.abs(b.off - b.full) - Math.abs(a.off - a.full));
    // Names on the left (up to a third of the width), the bars around a zero line, the numbers.
    const change = (r) => pair(r.full, r.off).join(' → ');
    const nameWidth = Math.min(Math.floor(width / 3), Math.max(60, ...rows.map((r) => smallWidth(ctx, r.unit) + 8)));
    const numbers = Math.max(40, ...rows.map((r) => smallWidth(ctx, change(r)) + 6));
    const barRoom = width - nameWidth - numbers - 8;
    const zero = nameWidth + barRoom / 2;
    const largest = Math.max(LEAST_SCALE, ...rows.map((r) => Math.abs(r.off - r.full)));
    // The axis: the change in percentage points at both ends and at zero.
    const ends = `${(100 * largest).toFixed(largest >= 0.1 ? 0 : 1)}`;
    note(ctx, `−${ends}`, nameWidth, y, MUTED);
    const endWidth = smallWidth(ctx, `+${ends}`);
    note(ctx, `+${ends}`, nameWidth + barRoom - endWidth, y, MUTED);
    if (barRoom >= 120) note(ctx, '0', zero - 3, y, MUTED);
    y += 16;
    ctx.strokeStyle = LINE;
    ctx.beginPath();
    ctx.moveTo(zero + 0.5, y);
    ctx.lineTo(zero + 0.5, y + rows.length * ROW);
    ctx.stroke();
    rows.forEach((r, i) => {
      const top = y + i * ROW;
      note(ctx, fitStart(ctx, r.unit, nameWidth - 8), 0, top + 3, r.stage ? INK : MUTED);
      const delta = r.off - r.full;
      const w = (Math.abs(delta) / largest) * (barRoom / 2 - 4);
      ctx.fillStyle = delta < 0 ? '#d1495b' : '#2a9d8f';
      ctx.fillRect(delta < 0 ? zero - w : zero, top + 4, Math.max(1, w), ROW - 8);
      note(ctx, change(r), width - numbers + 4, top + 3, INK);
    });
    y += rows.length * ROW + 8;
    y += paragraph(ctx, t('ablation.legend'), 0, y);
    return { height: y + 8 };
  },
};
