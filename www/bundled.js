// The bundled network: our small CNN trained on generated scenes (src/model/), its six blocks,
// their options and the sample photos. An opened network (a timm or torchvision checkpoint) has
// its own blocks, listed by the engine.

// In the order the network runs them: three on the 16 named stem channels (1/4 size), then
// three after the first convolution (32 channels, 1/8 size). See src/model/mod.rs.
export const BLOCKS = [
  { name: 'se', label: 'SE', title: 'Squeeze-and-Excitation: one gate per channel from the global average (on the 16 named channels)' },
  { name: 'eca', label: 'ECA', title: 'Efficient Channel Attention: a 1-D conv across channels (on the 16 named channels)' },
  { name: 'gc', label: 'GC', title: 'Global Context: one attention-pooled context, then a channel transform (on the 16 named channels)' },
  { name: 'cbam', label: 'CBAM', title: 'CBAM: a channel gate, then a spatial gate from a 7x7 conv (after the first convolution)' },
  { name: 'nonlocal', label: 'Non-local', title: 'Non-local block: every position attends to every other (after the first convolution)' },
  { name: 'mhsa', label: 'MHSA', title: 'Multi-head self-attention over the positions, as x + MHSA(x) (after the first convolution)' },
];
export const BLOCK_LABEL = Object.fromEntries(BLOCKS.map((b) => [b.name, b.label]));
// The network was trained with every block; switching one off shows what it contributes.
export const DEFAULT_BLOCKS = BLOCKS.map((b) => b.name);

// The options a person can change, with the CLI's words (src/blocks/options.rs).
export const OPTIONS = {
  cbam: [{ key: 'spatial_order', label: 'pooling order', values: ['mean-max', 'max-mean'] }],
  nonlocal: [
    // The Gaussian and concatenation forms need other weights than the trained block has.
    { key: 'pairwise', label: 'pairwise', values: ['embedded-gaussian', 'dot-product'] },
    { key: 'subsample', label: 'subsample keys', values: [false, true] },
  ],
  eca: [{ key: 'padding', label: 'padding', values: ['zero', 'circular'] }],
  // GC's "add" fusion needs an mlp_add the trained network does not have, so GC has no options here.
  // The engine has no default head count, so MHSA's is always sent.
  mhsa: [{ key: 'heads', label: 'heads', values: [4, 1, 2, 8], alwaysSent: true }],
};

export const SAMPLES = [
  { file: 'cat.jpg', label: 'Cat (CC0)' },
  { file: 'astronaut.jpg', label: 'Astronaut (public domain)' },
  { file: 'rocket.jpg', label: 'Rocket (public domain)' },
];
export const sampleUrl = (file) => new URL(`./samples/${file}`, import.meta.url).href;

// The kinds of block an opened network may have, as the page names them.
export const KIND_LABEL = { se: 'SE', eca: 'ECA', ceca: 'CECA', ese: 'EffectiveSE', cbam: 'CBAM', gc: 'GC', gca: 'GCA', nl: 'Non-local' };
