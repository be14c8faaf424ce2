// What is switched off in an opened network, through its `off` attribute: words that are block
// paths (`layer3.1.se`), path prefixes (`layer4`) or kinds (`se`). The chips, the network view's
// corners and the keyboard switch through here.

/** Whether `word` (a stage, a kind or a path) is switched off by the `off` attribute. */
export function covers(el, word) {
  const blocks = el._network?.description.blocks ?? [];
  const covered = (b) => el.off.some((w) => w === b.kind || w === b.path || b.path.startsWith(`${w}.`));
  const under = blocks.filter((b) => b.kind === word || b.path === word || b.path.startsWith(`${word}.`));
  return under.length > 0 && under.every(covered);
}

/** Switches `word` (a block path, a stage or a kind) off or on, through the `off` attribute. */
export function toggleOff(el, word, off) {
  const blocks = el._network.description.blocks;
  const under = (w) => blocks.filter((b) => b.kind === w || b.path === w || b.path.startsWith(`${w}.`));
  let words = el.off;
  if (off) words = [...words.filter((w) => !under(word).every((b) => under(w).includes(b)) || w === word), word];
  else {
    // On again: drop the words covering it, keeping their other blocks off by path.
    const target = new Set(under(word));
    const next = [];
    for (const w of words) {
      const covered = under(w);
      if (!covered.some((b) => target.has(b))) next.push(w);
      else next.push(...covered.filter((b) => !target.has(b)).map((b) => b.path));
    }
    words = next;
  }
  el.setAttribute('off', [...new Set(words)].join(' '));
}
