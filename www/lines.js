// The lines of text around the figure: the prediction (HTML, above it) and the timings (the
// badge under it).
import { BLOCKS, KIND_LABEL } from './bundled.js';

const escapeHtml = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const ms = (v) => `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;

/** The result's timings as a line: "stem 12 ms · se 1.2 ms · total 30 ms". */
export function timingLine(timings, t) {
  if (Array.isArray(timings.stages)) {
    // An opened network: its stages (those reused from the last run are left out), then the total.
    const ran = timings.stages.filter((s) => !s.reused);
    const reused = timings.stages.length - ran.length;
    const stage = (name) => (name === 'stem' || name === 'head' ? t(`timing.net.${name}`) : name);
    return [...ran.map((s) => `${stage(s.stage)} ${ms(s.ms)}`), ...(reused ? [reused === 1 ? t('timing.reused1') : t('timing.reused', { n: reused })] : []), `${t('timing.total')} ${ms(timings.total_ms)}`].join(' · ');
  }
  // The bundled network: the decode (when the photo was new), each stage, then the total of them
  // all, so that the total is never less than its parts. Block names stay as they are (se, cbam).
  const parts = Object.entries(timings).filter(([k]) => k !== 'total_ms').sort(([a], [b]) => (b === 'decode_ms') - (a === 'decode_ms'));
  const label = (k) => {
    const key = `timing.${k.replace(/_ms$/, '')}`;
    return t(key) === key ? k.replace(/_ms$/, '') : t(key);
  };
  const total = (timings.total_ms ?? 0) + (timings.decode_ms ?? 0);
  return [...parts.map(([k, v]) => `${label(k)} ${ms(v)}`), `${t('timing.total')} ${ms(total)}`].join(' · ');
}

/**
 * The bundled network's prediction with the blocks that are on and its runners-up (HTML); beside
 * it, where blocks are switched off, what that changed against every block on ("without SE:
 * square 61 % → disc 34 %", or "square 61 % → 40 %" when the class stays), else the prediction
 * with every block off. `off` lists the switched-off blocks' labels.
 */
export function predictionLine({ prediction, baseline, reference }, t, off = []) {
  if (!prediction) return '';
  const ranked = (p) => [...p.probabilities.keys()].sort((a, b) => p.probabilities[b] - p.probabilities[a]);
  const percent = (p, i) => pct(p.probabilities[i]);
  const top = ranked(prediction);
  const runnersUp = top.slice(1, 3).map((i) => `${escapeHtml(t.named(prediction.classes[i]))} ${percent(prediction, i)}`).join(' · ');
  let beside = '';
  if (reference && off.length) {
    const was = ranked(reference)[0];
    const [from, to] = pair(reference.probabilities[was], prediction.probabilities[top[0]]);
    const now = top[0] === was ? to : `${t.named(prediction.classes[top[0]])} ${to}`;
    beside = `<span class="muted right" title="${escapeHtml(t('prediction.against.title'))}">${escapeHtml(t('prediction.against', { words: off.join(', '), was: t.named(reference.classes[was]), from, now }))}</span>`;
  } else if (baseline) {
    const first = ranked(baseline)[0];
    beside = `<span class="muted right">${escapeHtml(t('prediction.blocksoff', { label: t.named(baseline.classes[first]), p: percent(baseline, first) }))}</span>`;
  }
  return `<span title="${escapeHtml(t('prediction.title'))}">${t('prediction')} <b>${escapeHtml(t.named(prediction.label))}</b> ${percent(prediction, top[0])}</span>`
    + `<span class="muted"> · ${runnersUp}</span>${beside}`;
}

// A probability as a percentage, one way everywhere: whole from 10 %, two significant digits
// below, and "< 0.01 %" for what would need an exponent.
const SMALLEST = 1e-4;
export function pct(p, digits = 2) {
  if (p < SMALLEST) return '< 0.01 %';
  return `${p >= 0.1 && digits === 2 ? (p * 100).toFixed(0) : (p * 100).toPrecision(digits)} %`;
}
// Two probabilities with as many digits as it takes to tell them apart (up to 4).
export function pair(a, b) {
  for (let digits = 2; digits <= 4; digits++) {
    const [x, y] = [a, b].map((p) => pct(p, digits));
    if (x !== y || digits === 4) return [x, y];
  }
  return [pct(a), pct(b)];
}

// A one-logit head (a binary classifier) reads as the sigmoid's probability of the positive class.
function sigmoidText(p) {
  return Number.isFinite(p) ? `P = ${p.toFixed(4)}` : `P = ${p}`;
}

function topList(top, title, head = 'softmax', named = (n) => n) {
  // A one-logit head says the probability of its positive class, whichever way it leans:
  // P(positive) = 0.08, not "positive" as if it were the answer.
  if (head === 'sigmoid') {
    return `<ol class="top5" title="${escapeHtml(title)}">${top.map((t) => `<li>P(${escapeHtml(named(t.name))}) = <b>${sigmoidText(t.probability).replace(/^P = /, '')}</b></li>`).join('')}</ol>`;
  }
  return `<ol class="top5" title="${escapeHtml(title)}">${top.map((t) => `<li><b>${escapeHtml(named(t.name))}</b> ${pct(t.probability)}</li>`).join('')}</ol>`;
}

/** The bundled blocks not in `on`, by their labels, in the network's order. */
export function offLabels(on) {
  return BLOCKS.filter((b) => !on.includes(b.name)).map((b) => b.label);
}

/** What is switched off, in words: "layer4", "every SE block", "layer3.1.se". */
function offWords(off, t) {
  return off.map((w) => (KIND_LABEL[w] ? t('prediction.every', { kind: KIND_LABEL[w] }) : w)).join(', ');
}

/**
 * An opened network's top-5 (HTML): with every block on, and, where blocks are off, with them off
 * beside it and the change in the first class's probability ("without layer4: tabby 62 % → 12 %").
 */
export function networkPredictionLine({ full, prediction, change, off, head, non_finite: nonFinite }, t) {
  // NaN logits (a diverged checkpoint): said, with where the NaN is, instead of a ranking of NaNs.
  if (nonFinite) return `<span class="non-finite" role="status">${escapeHtml(t.message(nonFinite))}</span>`;
  if (!off.length) return `<span>${t('prediction')}</span>${topList(full, t('prediction.on.title'), head, t.named)}`;
  const words = offWords(off, t);
  const [from, to] = head === 'sigmoid' ? [sigmoidText(change.full), sigmoidText(change.off)] : pair(change.full, change.off);
  return `<div class="row"><span class="muted">${t('prediction.on')}</span>${topList(full, t('prediction.on.title'), head, t.named)}</div>`
    + `<div class="row"><span class="muted">${escapeHtml(t('prediction.without', { words }))}</span>${topList(prediction, t('prediction.without.title'), head, t.named)}</div>`
    + `<span class="change">${escapeHtml(t('prediction.change', { words, name: t.named(change.name), from, to }))}</span>`;
}
