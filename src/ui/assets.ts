/**
 * The pages' stylesheet and script, served by rainops itself at /assets/ (no CDN; the CSP allows only 'self').
 * Kept as strings in a module so `tsc` carries them into dist/ with everything else.
 */

export const UI_CSS = `
:root { --ink: #1d2330; --muted: #5b6474; --line: #dde2ea; --bg: #f6f7f9; --accent: #1f77b4; --bad: #b42318; --ok: #1a7f37; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: var(--bg); }
header.top { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #14213d; color: #fff; }
header.top a { color: #dfe7f5; text-decoration: none; }
header.top a.brand { font-weight: 700; color: #fff; }
header.top nav { display: flex; gap: 1rem; }
main { padding: 1rem 1.2rem 3rem; max-width: 1800px; }
h1 { font-size: 1.35rem; margin: .2rem 0 .8rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
a { color: var(--accent); }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { padding: .3rem .55rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
th a { color: inherit; text-decoration: none; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.trial td { background: #fafbfc; }
td.time { white-space: nowrap; }
.scroll { overflow-x: auto; max-width: 100%; }
#runs { font-size: 13px; }
tr.trial td.name { padding-left: 1.6rem; }
.status { font-weight: 600; font-size: .8rem; padding: .05rem .4rem; border-radius: .6rem; border: 1px solid; }
.status-FINISHED { color: var(--ok); }
.status-FAILED { color: var(--bad); }
.status-RUNNING { color: var(--warn); }
.muted { color: var(--muted); }
.error { color: var(--bad); }
.notice { background: #fff; border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: .6rem .8rem; margin: .6rem 0; }
.notice.bad { border-left-color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid var(--line); padding: .7rem .9rem; }
.card h3 { margin: 0 0 .4rem; font-size: 1rem; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); padding: .4rem; }
figure img, figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .85rem; color: var(--muted); }
form.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: .85rem; gap: .15rem; }
input, select, textarea, button { font: inherit; }
input[type=text], input[type=number], input[type=password], select, textarea { padding: .25rem .4rem; border: 1px solid #b9c1cd; border-radius: 3px; background: #fff; }
button { padding: .3rem .8rem; border: 1px solid #14213d; background: #14213d; color: #fff; border-radius: 3px; cursor: pointer; }
button.secondary { background: #fff; color: #14213d; }
.predict-form { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: .6rem 1rem; max-width: 1000px; }
.predict-form label { display: flex; flex-direction: column; font-size: .85rem; gap: .15rem; }
.predict-form .actions { grid-column: 1 / -1; }
.answer { font-size: 1.1rem; background: #fff; border: 1px solid var(--line); padding: .8rem 1rem; margin: 1rem 0; max-width: 1000px; }
.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
.timeline li { position: relative; padding: .2rem 0 .6rem 1rem; }
.timeline li::before { content: ""; position: absolute; left: -8px; top: .55rem; width: 11px; height: 11px; border-radius: 50%; background: var(--accent); }
pre.preview { background: #fff; border: 1px solid var(--line); padding: .6rem; max-height: 320px; overflow: auto; font-size: .8rem; }
.pager { margin: .6rem 0; display: flex; gap: 1rem; }
.delta-pos { color: var(--ok); }
.delta-neg { color: var(--bad); }
tr.same { display: table-row; }
body.only-changed tr.same { display: none; }
.kv th { width: 14rem; }
.verdict { font-weight: 600; }
.verdict.drifted { color: var(--bad); }
.verdict.ok { color: var(--ok); }
tr.drifted td { background: #fdecea; }
tr.watch td { background: #fff6e0; }
tr.selected td { background: #e7eefb; }
.chips span { display: inline-block; background: #e7eefb; border-radius: .7rem; padding: 0 .5rem; margin-right: .3rem; }
`;

/**
 * Progressive enhancement only: every page works without it (forms are plain GET/POST).
 * - `data-autosubmit` controls submit their form when changed;
 * - `data-toggle-class` checkboxes toggle a class on <body> (the compare page's only-changed switch) without a reload;
 * - `data-check-all` selects every run checkbox of the table.
 */
export const UI_JS = `
(function () {
  'use strict';
  document.querySelectorAll('[data-autosubmit]').forEach(function (el) {
    el.addEventListener('change', function () { if (el.form) el.form.submit(); });
  });
  document.querySelectorAll('[data-toggle-class]').forEach(function (el) {
    var apply = function () { document.body.classList.toggle(el.getAttribute('data-toggle-class'), el.checked); };
    el.addEventListener('change', function (e) { e.stopPropagation(); apply(); });
    apply();
  });
  document.querySelectorAll('[data-check-all]').forEach(function (el) {
    el.addEventListener('change', function () {
      document.querySelectorAll('input[name=runs]').forEach(function (box) { box.checked = el.checked; });
    });
  });
})();
`;
