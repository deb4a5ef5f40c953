/** The monitor's report: SVG charts in the evaluation plots' style, and one HTML page holding them all. */
import { escapeXml } from '../evaluation/plots.js';
import type { FeatureDrift } from './drift.js';
import type { QualityRow } from './quality.js';

const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
const REF = '#1f77b4';
const CUR = '#ff7f0e';
const GRID = '#e5e5e5';
const WARN = '#d62728';

const n = (x: number) => String(Math.round((Number.isFinite(x) ? x : 0) * 100) / 100);
const t = (x: number, y: number, s: string, attrs = '') =>
  `<text x="${n(x)}" y="${n(y)}" ${attrs}>${escapeXml(s)}</text>\n`;

function open(w: number, h: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(w)}" height="${n(h)}" viewBox="0 0 ${n(w)} ${n(h)}" role="img" ` +
    `font-family="${escapeXml(FONT)}" font-size="12" fill="#222">\n<title>${escapeXml(title)}</title>\n` +
    `<rect x="0" y="0" width="${n(w)}" height="${n(h)}" fill="#fff"/>\n` +
    t(w / 2, 22, title, 'text-anchor="middle" font-size="15" font-weight="600"')
  );
}

/** One bar per feature, PSI, with the watch and drift thresholds as lines. */
export function psiBarsSvg(features: readonly FeatureDrift[], psiDrift: number): string {
  const rowH = 18;
  const top = 40;
  const left = 130;
  const right = 440;
  const h = top + features.length * rowH + 40;
  // Past 1 (or 2.5 times the threshold) bars are cut: a huge PSI would squeeze the thresholds together.
  const max = Math.min(Math.max(1, psiDrift * 2.5), Math.max(psiDrift * 1.5, ...features.map((f) => f.psi)));
  const x = (v: number) => left + (Math.min(v, max) / max) * (right - left);
  let svg = open(480, h, 'Population stability index per feature');
  features.forEach((f, k) => {
    const y = top + k * rowH;
    const color = f.verdict === 'drifted' ? WARN : f.verdict === 'watch' ? CUR : REF;
    svg += t(left - 6, y + 13, f.feature, 'text-anchor="end" font-size="11"');
    svg += `<rect x="${n(left)}" y="${n(y + 3)}" width="${n(x(f.psi) - left)}" height="12" fill="${color}"/>\n`;
    svg += t(x(f.psi) + 4, y + 13, f.psi.toFixed(3), 'font-size="10" fill="#666"');
  });
  const bottom = top + features.length * rowH;
  for (const [v, label] of [
    [psiDrift / 2, 'watch'],
    [psiDrift, 'drift'],
  ] as const) {
    svg += `<line x1="${n(x(v))}" y1="${n(top)}" x2="${n(x(v))}" y2="${n(bottom)}" stroke="${WARN}" stroke-dasharray="4 3"/>\n`;
    svg += t(x(v), label === 'watch' ? top - 4 : bottom + 14, `${label} ${v}`, 'text-anchor="middle" font-size="10"');
  }
  return `${svg}</svg>\n`;
}

/** The reference's and the current rows' shares per bin (deciles of the reference) or category. */
export function histogramSvg(f: FeatureDrift): string {
  const w = 480;
  const h = 260;
  const left = 48;
  const right = w - 16;
  const top = 48;
  const bottom = h - 56;
  const k = f.bins.labels.length;
  const max = Math.max(0.01, ...f.bins.reference, ...f.bins.current);
  const y = (v: number) => bottom - (v / max) * (bottom - top);
  const slot = (right - left) / Math.max(1, k);
  let svg = open(w, h, `${f.feature}: PSI ${f.psi.toFixed(3)} (${f.verdict})`);
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4;
    svg += `<line x1="${left}" y1="${n(y(v))}" x2="${right}" y2="${n(y(v))}" stroke="${GRID}"/>\n`;
    svg += t(left - 4, y(v) + 4, `${Math.round(v * 100)}%`, 'text-anchor="end" font-size="10"');
  }
  f.bins.labels.forEach((label, i) => {
    const x0 = left + i * slot;
    const bw = Math.max(1, slot / 2 - 2);
    svg += `<rect x="${n(x0 + 1)}" y="${n(y(f.bins.reference[i]!))}" width="${n(bw)}" height="${n(bottom - y(f.bins.reference[i]!))}" fill="${REF}"/>\n`;
    svg += `<rect x="${n(x0 + 1 + bw)}" y="${n(y(f.bins.current[i]!))}" width="${n(bw)}" height="${n(bottom - y(f.bins.current[i]!))}" fill="${CUR}"/>\n`;
    if (k <= 16)
      svg += t(
        x0 + slot / 2,
        bottom + 12,
        label,
        `text-anchor="end" font-size="9" transform="rotate(-40 ${n(x0 + slot / 2)} ${n(bottom + 12)})"`,
      );
  });
  svg += `<rect x="${right - 150}" y="30" width="10" height="10" fill="${REF}"/>${t(right - 136, 39, 'reference', 'font-size="10"')}`;
  svg += `<rect x="${right - 70}" y="30" width="10" height="10" fill="${CUR}"/>${t(right - 56, 39, 'current', 'font-size="10"')}`;
  return `${svg}</svg>\n`;
}

/** F1 (real where labelled, estimated always) per month against the champion's registered test F1. */
export function qualitySvg(months: readonly QualityRow[], testF1: number | null): string {
  const w = 480;
  const h = 320;
  const left = 48;
  const right = w - 16;
  const top = 44;
  const bottom = h - 64;
  const x = (i: number) => left + (months.length <= 1 ? 0.5 : i / (months.length - 1)) * (right - left);
  const y = (v: number) => bottom - Math.min(1, Math.max(0, v)) * (bottom - top);
  let svg = open(w, h, 'F1 by month');
  for (let g = 0; g <= 5; g++) {
    svg += `<line x1="${left}" y1="${n(y(g / 5))}" x2="${right}" y2="${n(y(g / 5))}" stroke="${GRID}"/>\n`;
    svg += t(left - 4, y(g / 5) + 4, (g / 5).toFixed(1), 'text-anchor="end" font-size="10"');
  }
  if (testF1 !== null)
    svg += `<line x1="${left}" y1="${n(y(testF1))}" x2="${right}" y2="${n(y(testF1))}" stroke="#666" stroke-dasharray="5 4"/>\n${t(right, y(testF1) - 4, `registered test F1 ${testF1.toFixed(3)}`, 'text-anchor="end" font-size="10" fill="#666"')}`;
  const line = (values: Array<number | null>, color: string, dash = '') => {
    const pts = values.flatMap((v, i) => (v === null ? [] : [`${n(x(i))},${n(y(v))}`]));
    return pts.length
      ? `<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>\n`
      : '';
  };
  svg += line(
    months.map((m) => m.f1),
    REF,
  );
  svg += line(
    months.map((m) => m.estimatedF1),
    CUR,
    '6 3',
  );
  const every = Math.max(1, Math.ceil(months.length / 12));
  months.forEach((m, i) => {
    if (i % every === 0)
      svg += t(
        x(i),
        bottom + 12,
        m.month,
        `text-anchor="end" font-size="9" transform="rotate(-40 ${n(x(i))} ${n(bottom + 12)})"`,
      );
  });
  svg += `<rect x="${left + 8}" y="30" width="10" height="3" fill="${REF}"/>${t(left + 22, 35, 'F1', 'font-size="10"')}`;
  svg += `<rect x="${left + 48}" y="30" width="10" height="3" fill="${CUR}"/>${t(left + 62, 35, 'estimated F1', 'font-size="10"')}`;
  return `${svg}</svg>\n`;
}

/** One self-contained page: the summary, then every chart inline. */
export function reportHtml(title: string, summary: Array<[string, string]>, charts: readonly string[]): string {
  const rows = summary.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font-family:${FONT};margin:2em;color:#222}th{text-align:left;padding-right:1em}
.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head>
<body><h1>${escapeXml(title)}</h1>
<table>${rows}</table>
<div class="charts">
${charts.join('\n')}
</div></body></html>
`;
}
