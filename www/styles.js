// The element's styles, inside its shadow root: nothing leaks into the host page, nothing from it
// leaks in. They are adopted as a constructed stylesheet (one for every element on the page), which
// a strict Content-Security-Policy allows where it blocks an inline <style>.
let sheet = null;
export function stylesheet() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
  }
  return sheet;
}

export const STYLES = `
/* Theming: a post sets these custom properties on the element (or above it); each has a light
   and a dark value, chosen by the page's color-scheme (a dark blog that declares
   color-scheme: dark, or light dark under a dark system setting, gets the dark card), or by the
   element's theme attribute (light, dark). */
:host { display: block; max-width: 980px; min-width: 0; box-sizing: border-box; overflow-wrap: anywhere;
  font: 14px/1.4 var(--ap-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --accent: var(--ap-accent, light-dark(#5b4bdb, #8f83ff));
  --line: var(--ap-line, light-dark(#e3e3e8, #3a3a44));
  --soft: var(--ap-soft, light-dark(#f5f5f8, #2a2a31));
  --paper: var(--ap-background, light-dark(#fff, #1c1c21));
  --ink: var(--ap-color, light-dark(#1d1d1f, #ececf1));
  --muted: var(--ap-muted, light-dark(#6b6b76, #a3a3b0));
  --chip-on: light-dark(#efedff, #312d57);
  color: var(--ink); }
:host([theme="light"]) { color-scheme: light; }
:host([theme="dark"]) { color-scheme: dark; }
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
.card { border: 1px solid var(--line); border-radius: var(--ap-radius, 12px); background: var(--paper); padding: 12px 14px; min-width: 0; container: playground / inline-size; }
/* What an embed hides: hide="prediction badge timings tabs blocks options input status". */
:host([hide~="prediction"]) .prediction, :host([hide~="badge"]) .badge, :host([hide~="timings"]) .timings,
:host([hide~="tabs"]) .tabs, :host([hide~="blocks"]) .blocks, :host([hide~="options"]) .options-box,
:host([hide~="input"]) .input, :host([hide~="status"]) .status { display: none !important; }
/* Below 420 px (a phone column) the card gives its padding to the figure. */
@media (max-width: 420px) { .card { padding: 8px; } }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 10px; }
.bar:empty { display: none; }
button, select, .chip, .tab { font: inherit; font-size: 13px; border: 1px solid var(--line); background: var(--paper); color: inherit;
  border-radius: 999px; padding: 4px 11px; cursor: pointer; }
button:hover, .chip:hover, .tab:hover { border-color: #b9b6e8; }
button:focus-visible, select:focus-visible, .chip:focus-within, .tab:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
select { border-radius: 8px; padding: 3px 6px; max-width: 100%; }
.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.chip { display: inline-flex; align-items: center; gap: 5px; user-select: none; }
.chip input { margin: 0; accent-color: var(--accent); }
.chip.on { background: var(--chip-on); border-color: #c9c3ff; }
.own-mark { font-size: 11px; color: #fff; background: var(--accent); border-radius: 999px; padding: 0 6px; }
.tabs { display: inline-flex; flex-wrap: wrap; max-width: 100%; gap: 4px; background: var(--soft); border-radius: 999px; padding: 3px; }
.tab { border-color: transparent; background: transparent; }
.tab[aria-selected="true"] { background: var(--paper); border-color: var(--line); box-shadow: 0 1px 2px rgba(0,0,0,.06); font-weight: 600; }
.gallery { display: inline-flex; flex-wrap: wrap; gap: 6px; }
.gallery button { padding: 0; border-radius: 8px; overflow: hidden; width: 44px; height: 34px; }
.gallery img { width: 100%; height: 100%; object-fit: cover; display: block; }
.hint, .muted { color: var(--muted); font-size: 12px; }
.options { font-size: 13px; color: var(--muted); }
.options-box { margin-bottom: 10px; }
.options-box > summary { font-size: 13px; color: var(--muted); cursor: pointer; margin-bottom: 6px; width: fit-content; }
.options-box > .bar { margin-bottom: 0; }
.options label { white-space: nowrap; }
.options label { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; }
.options .group { display: inline-flex; flex-wrap: wrap; max-width: 100%; box-sizing: border-box; align-items: center; gap: 6px; padding: 3px 8px; background: var(--soft); border-radius: 8px; }
.stage { position: relative; }
/* Room for the placeholder until the first figure; then the figure's own height. */
.stage.empty { min-height: 200px; }
.stage canvas:focus-visible { outline: 2px solid var(--accent); outline-offset: 4px; border-radius: 2px; }
.view-html { margin: 4px 0 10px; }
.view-html math { font-size: 1.35em; }
.view-html .formula { overflow-x: auto; }
/* The formula in a narrow column: smaller, so that it fits without scrolling. */
@container playground (max-width: 480px) { .view-html math { font-size: 1em; } }
@container playground (max-width: 340px) { .view-html math { font-size: 0.74em; } }
.view-html .terms { font-size: 13px; margin: 6px 0 4px; }
.view-html .muted { font-size: 12px; }
.stage canvas { display: block; width: 100%; touch-action: none; }
.stage.busy::before { content: ""; position: absolute; left: 0; right: 0; top: -6px; height: 3px; border-radius: 2px;
  background: linear-gradient(90deg, transparent, var(--accent), transparent); background-size: 40% 100%;
  background-repeat: no-repeat; animation: slide 1s linear infinite; }
@keyframes slide { from { background-position: -40% 0; } to { background-position: 140% 0; } }
.placeholder { position: absolute; inset: 0; display: grid; place-items: center; color: var(--muted); text-align: center; padding: 20px; }
.placeholder[hidden] { display: none; }
.badge { display: inline-flex; flex-wrap: wrap; max-width: 100%; box-sizing: border-box; align-items: center; gap: 6px; font-size: 12px; padding: 3px 10px; border-radius: 999px;
  background: var(--soft); color: var(--muted); }
.badge b { color: #fff; background: #2f855a; border-radius: 999px; padding: 1px 8px; font-weight: 600; }
.badge b.cpu { background: #6b6b76; }
.status { justify-content: space-between; margin: 10px 0 0; }
.status .right { display: inline-flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.views .right, .prediction .right { margin-left: auto; }
.prediction { gap: 4px; font-size: 14px; }
.prediction b { color: var(--accent); }
.message { margin-top: 8px; padding: 8px 12px; border-radius: 8px; background: #fff4f2; color: #9b1c1c; border: 1px solid #f6cfc8; }
.message[hidden] { display: none; }
.note { margin-top: 8px; padding: 6px 12px; border-radius: 8px; background: var(--soft); color: var(--muted); font-size: 12px; }
.note[hidden] { display: none; }
.drop { outline: 2px dashed var(--accent); outline-offset: 4px; border-radius: 12px; }
input[type=range] { accent-color: var(--accent); width: 110px; vertical-align: middle; }
.network-bar progress { width: 120px; }
.network-bar:not(.active) { display: none; }
/* A phone column: the hint goes (the buttons say it), and the tabs are one row that scrolls
   sideways, so the figure starts higher. */
@container playground (max-width: 420px) { .input .hint { display: none; } }
@container playground (max-width: 480px) {
  .tabs { flex-wrap: nowrap; overflow-x: auto; scrollbar-width: none; }
  .tab { flex: none; white-space: nowrap; }
}
.network-bar [hidden], .tab[hidden] { display: none; }
.hub-panel { padding: 8px 10px; border-radius: 8px; background: var(--soft); }
.hub-panel[hidden], .hub-panel [hidden] { display: none; }
.hub-panel select { max-width: 100%; }
.hub-panel select { flex: 0 1 auto; min-width: 0; }
.hub-field { display: inline-flex; gap: 4px; flex: 1 1 200px; min-width: 0; }
.hub-field input { flex: 1 1 auto; min-width: 7em; }
.hub-panel button { flex: none; white-space: nowrap; }
.hub-cache { flex-basis: 100%; font-size: 12px; overflow-wrap: anywhere; }
.top5 { display: inline-flex; flex-wrap: wrap; gap: 2px 10px; margin: 0 10px 0 0; padding: 0; list-style: none; font-size: 13px; }
.top5 li:first-child { font-size: 14px; }
.prediction .row { flex-basis: 100%; display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; }
.prediction .row > .muted { min-width: 120px; }
.prediction .non-finite { color: #9b1c1c; }
.prediction .change { flex-basis: 100%; color: var(--muted); font-size: 13px; }
`;
