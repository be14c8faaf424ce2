// The bundled network: our small CNN trained on generated scenes (src/model/), its six blocks,
// their options and the sample photos. An opened network (a timm or torchvision checkpoint) has
// its own blocks, listed by the engine.

// In the order the network runs them: three on the 16 named stem channels (1/4 size), then
// three after the first convolution (32 channels, 1/8 size). See src/model/mod.rs; what each
// does, in words, is i18n.js's `block.<name>`.
export const BLOCKS = [
  { name: 'se', label: 'SE' },
  { name: 'eca', label: 'ECA' },
  { name: 'gc', label: 'GC' },
  { name: 'cbam', label: 'CBAM' },
  { name: 'nonlocal', label: 'Non-local' },
  { name: 'mhsa', label: 'MHSA' },
];
export const BLOCK_LABEL = Object.fromEntries(BLOCKS.map((b) => [b.name, b.label]));
// The network was trained with every block; switching one off shows what it contributes.
export const DEFAULT_BLOCKS = BLOCKS.map((b) => b.name);

// The options a person can change, with the CLI's words (src/blocks/options.rs).
export const OPTIONS = {
  cbam: [{ key: 'spatial_order', values: ['mean-max', 'max-mean'] }],
  nonlocal: [
    // The Gaussian and concatenation forms need other weights than the trained block has.
    { key: 'pairwise', values: ['embedded-gaussian', 'dot-product'] },
    { key: 'subsample', values: [false, true] },
    // The logits' scale: 1/√C (timm), 1/√C′ of the inner width (mmcv's use_scale), or none.
    { key: 'scale', values: ['input', 'inner', 'none'] },
  ],
  eca: [{ key: 'padding', values: ['zero', 'circular'] }],
  // GC's "add" fusion needs an mlp_add the trained network does not have, so GC has no options here.
  // The engine has no default head count, so MHSA's is always sent.
  mhsa: [{ key: 'heads', values: [4, 1, 2, 8], alwaysSent: true }],
};

/** The `options` attribute's words (`nonlocal.pairwise=dot-product mhsa.heads=2`) as
 *  `{ options: { 'nonlocal.pairwise': 'dot-product', ... }, problem }`: `problem` is the first
 *  word that names no option or no value of it (`{ word, list }`, for the element's message). */
export function parseOptions(text) {
  const options = {};
  let problem = null;
  for (const word of (text ?? '').split(/\s+/).filter(Boolean)) {
    const [key, raw] = word.split('=');
    const [block, name] = key.split('.');
    const spec = OPTIONS[block]?.find((o) => o.key === name);
    const value = spec?.values.find((v) => String(v) === raw);
    const list = () => Object.entries(OPTIONS).flatMap(([b, specs]) => specs.map((o) => `${b}.${o.key}=${o.values.join('|')}`)).join(' ');
    if (value === undefined) problem ??= { word, list: list() };
    else options[key] = value;
  }
  return { options, problem };
}

/** The `options` attribute of `options` (`{ 'mhsa.heads': 2 }`), defaults left out. */
export function optionsText(options) {
  return Object.entries(options)
    .filter(([key, value]) => {
      const [block, name] = key.split('.');
      return OPTIONS[block]?.find((o) => o.key === name)?.values[0] !== value;
    })
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

export const SAMPLES = [
  { file: 'cat.jpg', label: 'Cat (CC0)' },
  { file: 'astronaut.jpg', label: 'Astronaut (public domain)' },
  { file: 'rocket.jpg', label: 'Rocket (public domain)' },
];
export const sampleUrl = (file) => new URL(`./samples/${file}`, import.meta.url).href;

// The kinds of block an opened network may have, as the page names them.
export const KIND_LABEL = { se: 'SE', eca: 'ECA', ceca: 'CECA', ese: 'EffectiveSE', cbam: 'CBAM', gc: 'GC', gca: 'GCA', nl: 'Non-local', sk: 'Selective Kernel', splat: 'Split Attention', bot: 'BoT' };

/** A network's block kinds whose attention rows the engine gives (Non-local, BoTNet's
 *  self-attention, which has heads). */
export const ROW_KINDS = ['nl', 'bot'];

/** The heads of a row `{ width, height, heads, data }` (the heads' rows one after another) as
 *  one plane each. */
export function headsOf(row) {
  const size = row.width * row.height;
  return Array.from({ length: row.heads }, (_, h) => ({ width: row.width, height: row.height, data: row.data.subarray(h * size, (h + 1) * size) }));
}

/** `text` (an engine's note or message) with the CLI's flags for `block`'s options in the page's
 *  words: `--scale none` becomes "logit scale: none", the control above the figure (`label(key)`
 *  names it; without `label`, the `options` attribute's `nonlocal.scale=none`). Flags of other
 *  options (`--prefix`) are left as they are. */
export function inPageWords(text, block, label = null) {
  const spec = (flag) => OPTIONS[block]?.find((o) => o.key === flag.replace(/-/g, '_'));
  return text
    .replace(/--([a-z][a-z-]*) ([a-z0-9-]+)/g, (whole, flag, value) => {
      const key = flag.replace(/-/g, '_');
      if (!spec(flag)?.values.map(String).includes(value)) return whole;
      return label ? `${label(key)}: ${value}` : `${block}.${key}=${value}`;
    })
    // A switch given bare (`--subsample`): the checkbox of that name, on.
    .replace(/--([a-z][a-z-]*)(?![a-z-]| [a-z0-9-])/g, (whole, flag) => {
      if (typeof spec(flag)?.values[0] !== 'boolean') return whole;
      const key = flag.replace(/-/g, '_');
      return label ? `${label(key)}: on` : `${block}.${key}=true`;
    });
}
