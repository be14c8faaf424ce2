// The branches view: a branch attention's weights (SKNet's Selective Kernel, ResNeSt's Split
// Attention). For every channel, the share of each branch it keeps: a softmax across the
// branches, so each column sums to 1 (a sigmoid per channel where a Split Attention has one
// branch). Drawn as a channel-by-branch heat map on a fixed 0..1 scale, each branch's mean share
// beside its row, and what switching the block off does.
import { INK, LINE, format, note, paragraph, smallWidth, title } from '../drawing.js';
import { viridis } from '../colormap.js';
import { say } from './say.js';

const ROW = 28;
const GAP = 6;

/** Each branch's mean share over the channels of a `branch` map `{ width: C, height: R, data }`. */
export function branchMeans(map) {
  const out = [];
  for (let r = 0; r < map.height; r++) {
    let sum = 0;
    for (let c = 0; c < map.width; c++) sum += map.data[r * map.width + c];
    out.push(sum / map.width);
  }
  return out;
}

/** Branch `r` (from 0) of a block of `kind` in words: SK's paths by their dilation (timm's default
 *  kernel sizes 3, 5, ... as 3 x 3 of dilation 1, 2, ...), Split Attention's radix groups. */
export function branchName(t, kind, r) {
  return kind === 'sk' ? t('branches.dilated', { r: r + 1, d: r + 1 }) : t('branches.group', { r: r + 1 });
}

export default {
  name: 'branches',
  bundledBlocks: [],
  bundled: false,
  fits: (entry) => Boolean(entry.branch),
  controls: ['sorted'],
  draw(ctx, width, { entry, label, state, t }) {
    if (!entry) return say(ctx, t('say.branches.network'));
    const map = entry.branch;
    if (!map) return say(ctx, t('say.branches.none', { label }));
    const branches = map.height;
    const channels = map.width;
    let y = 4 + title(ctx, t('branches.heading', { label, r: branches, c: channels }), 0, 4);
    const how = entry.kind === 'sk' ? 'branches.sk' : branches > 1 ? 'branches.splat' : 'branches.sigmoid';
    y += paragraph(ctx, t(how), 0, y) + 8;
    // The channels in order, or by the first branch's share (then the rows read as a trade-off).
    const order = [...Array(channels).keys()];
    if (state.sorted) order.sort((a, b) => map.data[b] - map.data[a]);
    const average = branchMeans(map);
    const names = average.map((_, r) => branchName(t, entry.kind, r));
    const shares = average.map((m) => t('branches.mean', { m: format(m) }));
    // Row labels beside the rows where they fit in a third of the width, else above each row.
    const labelW = Math.ceil(Math.max(...names.map((n) => smallWidth(ctx, n)), ...shares.map((s) => smallWidth(ctx, s)))) + 10;
    const beside = labelW <= width / 3;
    const left = beside ? labelW : 0;
    const cellW = (width - left - 4) / channels;
    const cells = [];
    for (let r = 0; r < branches; r++) {
      if (beside) {
        note(ctx, names[r], 0, y + 1, INK);
        note(ctx, shares[r], 0, y + 14);
      } else {
        note(ctx, `${names[r]} · ${shares[r]}`, 0, y, INK);
        y += 16;
      }
      order.forEach((c, i) => {
        const v = map.data[r * channels + c];
        const [red, green, blue] = viridis(Math.max(0, Math.min(1, v)));
        ctx.fillStyle = `rgb(${red},${green},${blue})`;
        const x = left + i * cellW;
        ctx.fillRect(x, y, Math.max(cellW, 0.6), ROW);
        cells.push({ x, y, width: cellW, height: ROW, index: c });
      });
      ctx.strokeStyle = LINE;
      ctx.strokeRect(left + 0.5, y + 0.5, width - left - 5, ROW - 1);
      y += ROW + GAP;
    }
    y += paragraph(ctx, t(state.sorted ? 'branches.sorted' : 'branches.order'), left, y, width - left - 4);
    // The colour scale, 0 to 1, its label above it.
    y += 6;
    note(ctx, t('branches.legend'), 0, y, INK);
    y += 18;
    const barW = Math.min(220, width - 8);
    for (let i = 0; i < barW; i++) {
      const [red, green, blue] = viridis(i / (barW - 1));
      ctx.fillStyle = `rgb(${red},${green},${blue})`;
      ctx.fillRect(i, y, 1, 10);
    }
    note(ctx, '0', 0, y + 13);
    note(ctx, '1', barW - smallWidth(ctx, '1'), y + 13);
    y += 34;
    y += paragraph(ctx, t('branches.off', { share: format(1 / branches) }), 0, y);
    return { height: y + 8, bars: cells };
  },
};
