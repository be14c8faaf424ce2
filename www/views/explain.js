// How it works: a block's computation step by step, drawn from the engine's trace of it on the
// current photo (MapRequest::trace, checked against timm's modules' intermediates by the golden
// tests). SE: squeeze (the channel means) → fc1 + ReLU → fc2 → sigmoid (the gates) → scale; ECA:
// squeeze → the 1-D convolution along the channels → sigmoid → scale. Hover a bar to follow one
// channel through every step. The other blocks' steps are not traced yet; the view says so.
import { ACCENT, INK, MUTED, note, title } from '../drawing.js';
import { viridis, diverging } from '../colormap.js';
import { say } from './say.js';

const STRIP = 56; // bar height
const GAP = 30;

// One step's values as bars at (0, y): signed values on a diverging scale around a zero line,
// gates (0..1) from the bottom. Returns the bars' regions.
function strip(ctx, width, y, values, { unit, hover }) {
  const n = values.length;
  const bar = Math.max(2, Math.min(28, Math.floor((width - 40) / n)));
  let scale = 0;
  for (const v of values) scale = Math.max(scale, Math.abs(v));
  const zero = unit ? y + STRIP : y + STRIP / 2;
  const regions = [];
  ctx.strokeStyle = '#c9c9d2';
  ctx.beginPath();
  ctx.moveTo(0, zero + 0.5);
  ctx.lineTo(n * bar, zero + 0.5);
  ctx.stroke();
  values.forEach((v, i) => {
    const h = unit ? v * STRIP : (v / (scale || 1)) * (STRIP / 2);
    const [r, g, b] = unit ? viridis(v) : diverging(v / (scale || 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(i * bar, Math.min(zero, zero - h), bar - (bar > 4 ? 1 : 0), Math.max(1, Math.abs(h)));
    regions.push({ x: i * bar, y, width: bar, height: STRIP, index: i });
  });
  if (hover != null && hover < n) {
    ctx.strokeStyle = ACCENT;
    ctx.lineWidth = 2;
    ctx.strokeRect(hover * bar - 1, y - 2, bar + 1, STRIP + 4);
    ctx.lineWidth = 1;
  }
  note(ctx, unit ? '0 … 1' : `± ${scale.toPrecision(3)}`, n * bar + 6, y + STRIP / 2 - 6);
  return regions;
}

const STEPS = {
  se: ['squeeze', 'hidden', 'logits', 'gate'],
  eca: ['squeeze', 'logits', 'gate'],
};

export default {
  name: 'explain',
  bundledBlocks: ['se', 'eca'],
  fits: () => false,
  controls: [],
  maxHeight: 1200,
  draw(ctx, width, { block, label, state, network, t }) {
    if (network) return say(ctx, t('say.explain.network'));
    if (!block) return say(ctx, t('say.explain'));
    const trace = state.trace?.block === block ? state.trace : null;
    if (!trace?.result) return say(ctx, trace?.error ?? t('say.explain.wait', { label }));
    const steps = trace.result;
    const names = steps.channel_names;
    const hover = state.traceHover;
    title(ctx, t('explain.heading', { label }), 0, 0);
    note(ctx, t('explain.hint'), 0, 20);
    let y = 48;
    const regions = [];
    STEPS[block].forEach((step, s) => {
      const values = steps[step];
      title(ctx, t(`explain.${block}.${step}`, { c: steps.gate.length, rd: steps.hidden?.length ?? 0, n: s + 1 }), 0, y);
      const stripRegions = strip(ctx, width, y + 22, values, { unit: step === 'gate', hover: values.length === steps.gate.length ? hover : null });
      // Only the per-channel strips follow the hovered channel.
      if (values.length === steps.gate.length) regions.push(...stripRegions);
      y += 22 + STRIP + GAP;
    });
    // The last step: scale every channel by its gate.
    const gate = steps.gate;
    const order = [...gate.keys()].sort((a, b) => gate[a] - gate[b]);
    const named = (c) => (names ? `“${t.named(names[c])}”` : t('explain.channel', { c }));
    title(ctx, t('explain.scale', { n: STEPS[block].length + 1 }), 0, y);
    note(ctx, t('explain.scale.ends', {
      low: named(order[0]), lowg: gate[order[0]].toFixed(3), high: named(order[order.length - 1]), highg: gate[order[order.length - 1]].toFixed(3),
    }), 0, y + 22, INK);
    y += 46;
    if (hover != null && hover < gate.length) {
      const parts = STEPS[block].filter((s) => steps[s].length === gate.length).map((s) => `${t(`explain.short.${s}`)} ${steps[s][hover].toFixed(3)}`);
      note(ctx, `${named(hover)}: ${parts.join(' → ')}`, 0, y, INK);
      y += 20;
    }
    note(ctx, t('explain.formula'), 0, y, MUTED);
    note(ctx, t('explain.ran', { where: steps.ran_on }), 0, y + 16, MUTED);
    return { height: y + 40, bars: regions };
  },
};
