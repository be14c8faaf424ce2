// The playground page's state in its address, so that a link opens what was shown: the view,
// the blocks and their options (or, with a network open from a URL, the network and what is
// switched off), the sample photo (a photo of the user's own stays on their machine, so a link
// names none), the clicked query, the backend and the language of the page's
// <attention-playground>, as the fragment `#view=spatial&blocks=se+cbam&image=astronaut.jpg`.
// Used by index.html, not by embeds (a post's element takes its attributes from the post).

// The attributes kept, in the order they are written.
export const KEPT = ['view', 'blocks', 'options', 'image', 'query', 'tokens', 'token-heads', 'off', 'backend', 'lang', 'model', 'arch', 'hub'];
// The attributes that belong to an opened network.
const NETWORK = ['model', 'arch', 'off', 'hub'];

/** The attributes a fragment names (unknown keys are ignored). */
export function fromFragment(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  return Object.fromEntries(KEPT.filter((k) => params.has(k)).map((k) => [k, params.get(k)]));
}

/** The fragment of `el`'s kept attributes. */
export function toFragment(el) {
  const params = new URLSearchParams();
  for (const k of KEPT) if (el.hasAttribute(k) && el.getAttribute(k) !== '') params.set(k, el.getAttribute(k));
  const text = params.toString();
  return text ? `#${text}` : '';
}

/** Applies the address to `el` (the query, `?lang=zh`, then the fragment, which wins), then keeps
 *  the fragment in step with it. */
export function keepInAddress(el) {
  const given = { ...fromFragment(location.search.replace(/^\?/, '')), ...fromFragment(location.hash) };
  // A link to a network without a view opens on the element's default for it (the network view),
  // not on the page's own default view.
  if (given.model && !given.view) el.removeAttribute('view');
  for (const [k, v] of Object.entries(given)) el.setAttribute(k, v);
  const write = () => {
    const fragment = toFragment(el);
    if (fragment !== location.hash) history.replaceState(null, '', fragment || location.pathname + location.search);
  };
  new MutationObserver(write).observe(el, { attributes: true, attributeFilter: KEPT });
  addEventListener('hashchange', () => {
    const named = fromFragment(location.hash);
    // An address that names no network is the bundled one: the network it had is closed.
    for (const k of NETWORK) if (!(k in named) && el.hasAttribute(k)) el.removeAttribute(k);
    for (const [k, v] of Object.entries(named)) if (el.getAttribute(k) !== v) el.setAttribute(k, v);
  });
}
