/**
 * Standalone SVG charts for evaluation reports: plain strings, no dependencies, valid XML with a
 * viewBox, drawn for 480x360 (the feature chart grows taller with its bars).
 */
import { DataError } from '../errors.js';
import type { ConfusionMatrix, ConfusionMatrixArray, PrPoint, RocPoint } from './metrics.js';

export const PLOT_WIDTH = 480;
export const PLOT_HEIGHT = 360;
/** featureImportanceSvg draws at most this many bars, the largest values. */
export const FEATURE_IMPORTANCE_TOP = 27;

const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
const INK = '#222';
const MUTED = '#666';
const GRID = '#e5e5e5';
const ACCENT = '#1f77b4';

// Characters XML 1.0 does not allow at all (escaping cannot save them).
const INVALID_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text made safe for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate for an attribute: at most 2 decimals; never NaN (that is a bug here, so it throws). */
function n(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal error: non-finite SVG coordinate ${x}`);
  const r = Math.round(x * 100) / 100;
  return String(r === 0 ? 0 : r);
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function svgOpen(width: number, height: number, title: string): string {
  const t = escapeXml(title);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(width)}" height="${n(height)}" viewBox="0 0 ${n(width)} ${n(height)}" ` +
    `role="img" font-family="${escapeXml(FONT)}" font-size="12" fill="${INK}">\n` +
    `<title>${t}</title>\n` +
    `<rect x="0" y="0" width="${n(width)}" height="${n(height)}" fill="#fff"/>\n` +
    `<text x="${n(width / 2)}" y="24" text-anchor="middle" font-size="16" font-weight="600">${t}</text>\n`
  );
}

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>\n`;
}

function line(x1: number, y1: number, x2: number, y2: number, attrs: string): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" ${attrs}/>\n`;
}

function polyline(points: ReadonlyArray<readonly [number, number]>, attrs: string): string {
  return `<polyline points="${points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ')}" fill="none" ${attrs}/>\n`;
}

/** Round tick steps (1, 2 or 5 times a power of ten) covering [lo, hi], and the widened domain. */
export function niceTicks(
  lo: number,
  hi: number,
  target = 5,
): { ticks: number[]; lo: number; hi: number; decimals: number } {
  if (!Number.isFinite(lo) || !Number.isFinite(hi))
    throw new RangeError(`tick range must be finite, not [${lo}, ${hi}]`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    hi = lo === 0 ? 1 : lo + Math.abs(lo);
    if (lo > 0) lo = 0;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const pow10 = 10 ** Math.floor(Math.log10(raw));
  const err = raw / pow10;
  const step = (err >= Math.SQRT2 * 5 ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.SQRT2 ? 2 : 1) * pow10;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(decimals)));
  return { ticks, lo: ticks[0] as number, hi: ticks[ticks.length - 1] as number, decimals };
}

/** A short human number for value labels. */
function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

interface UnitFrame {
  x: (v: number) => number;
  y: (v: number) => number;
  svg: string;
}

/** Axes, grid and tick labels of a unit square plot ([0, 1] on both axes). */
function unitFrame(xLabel: string, yLabel: string): UnitFrame {
  const left = 64;
  const right = PLOT_WIDTH - 24;
  const top = 44;
  const bottom = PLOT_HEIGHT - 52;
  const x = (v: number) => left + clamp01(v) * (right - left);
  const y = (v: number) => bottom - clamp01(v) * (bottom - top);
  let svg = '<g class="axes">\n';
  for (let k = 0; k <= 5; k++) {
    const v = k / 5;
    const label = v.toFixed(1);
    svg += line(x(v), top, x(v), bottom, `stroke="${GRID}"`);
    svg += line(left, y(v), right, y(v), `stroke="${GRID}"`);
    svg += line(x(v), bottom, x(v), bottom + 5, `stroke="${INK}"`);
    svg += line(left - 5, y(v), left, y(v), `stroke="${INK}"`);
    svg += text(x(v), bottom + 18, label, 'text-anchor="middle" font-size="11"');
    svg += text(left - 8, y(v) + 4, label, 'text-anchor="end" font-size="11"');
  }
  svg += `<rect x="${n(left)}" y="${n(top)}" width="${n(right - left)}" height="${n(bottom - top)}" fill="none" stroke="${INK}"/>\n`;
  svg += text((left + right) / 2, PLOT_HEIGHT - 14, xLabel, 'text-anchor="middle" font-size="13"');
  const cy = (top + bottom) / 2;
  svg += text(18, cy, yLabel, `text-anchor="middle" font-size="13" transform="rotate(-90 18 ${n(cy)})"`);
  svg += '</g>\n';
  return { x, y, svg };
}

/** A legend box: entries of a line style and a label, anchored at its top-left corner. */
function legend(x0: number, y0: number, entries: Array<{ label: string; stroke: string; dash?: string }>): string {
  const width = 16 + 28 + Math.max(...entries.map((e) => e.label.length)) * 6.6;
  const height = 10 + entries.length * 18;
  let svg = `<g class="legend">\n<rect x="${n(x0)}" y="${n(y0)}" width="${n(width)}" height="${n(height)}" fill="#fff" fill-opacity="0.9" stroke="#ccc"/>\n`;
  entries.forEach((e, k) => {
    const cy = y0 + 14 + k * 18;
    svg += line(
      x0 + 8,
      cy,
      x0 + 32,
      cy,
      `stroke="${e.stroke}" stroke-width="2"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}`,
    );
    svg += text(x0 + 38, cy + 4, e.label, 'font-size="11"');
  });
  return `${svg}</g>\n`;
}

function finitePairs(points: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  return points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b)).map(([a, b]) => [clamp01(a), clamp01(b)]);
}

/** ROC curve with the chance diagonal; `auc` (NaN allowed) is shown in the legend. */
export function rocSvg(curve: readonly RocPoint[], auc: number): string {
  const title = 'ROC curve';
  const f = unitFrame('False positive rate', 'True positive rate');
  const pts = finitePairs(curve.map((pt) => [pt.fpr, pt.tpr] as const));
  let svg = svgOpen(PLOT_WIDTH, PLOT_HEIGHT, title) + f.svg;
  svg += line(f.x(0), f.y(0), f.x(1), f.y(1), `stroke="#999" stroke-width="1.5" stroke-dasharray="5 4"`);
  if (pts.length > 0)
    svg += polyline(
      pts.map(([a, b]) => [f.x(a), f.y(b)] as const),
      `stroke="${ACCENT}" stroke-width="2" stroke-linejoin="round"`,
    );
  const aucText = Number.isFinite(auc) ? auc.toFixed(3) : 'n/a';
  svg += legend(f.x(0.5), f.y(0.3), [
    { label: `Model (AUC = ${aucText})`, stroke: ACCENT },
    { label: 'Chance', stroke: '#999', dash: '5 4' },
  ]);
  return `${svg}</svg>\n`;
}

/**
 * Precision against recall. When the curve ends at recall 1 its last precision is the share of
 * positives, drawn as the no-skill baseline.
 */
export function precisionRecallSvg(curve: readonly PrPoint[]): string {
  const title = 'Precision-recall curve';
  const f = unitFrame('Recall', 'Precision');
  const pts = finitePairs(curve.map((pt) => [pt.recall, pt.precision] as const));
  let svg = svgOpen(PLOT_WIDTH, PLOT_HEIGHT, title) + f.svg;
  const entries: Array<{ label: string; stroke: string; dash?: string }> = [{ label: 'Model', stroke: ACCENT }];
  const end = pts[pts.length - 1];
  if (end && end[0] === 1) {
    const base = end[1];
    svg += line(f.x(0), f.y(base), f.x(1), f.y(base), `stroke="#999" stroke-width="1.5" stroke-dasharray="5 4"`);
    entries.push({ label: `Baseline (positives ${(base * 100).toFixed(1)}%)`, stroke: '#999', dash: '5 4' });
  }
  if (pts.length > 0)
    svg += polyline(
      pts.map(([a, b]) => [f.x(a), f.y(b)] as const),
      `stroke="${ACCENT}" stroke-width="2" stroke-linejoin="round"`,
    );
  svg += legend(f.x(0.42), f.y(0.97), entries);
  return `${svg}</svg>\n`;
}

function matrixCounts(cm: ConfusionMatrix | ConfusionMatrixArray): [[number, number], [number, number]] {
  const rows: [[number, number], [number, number]] = Array.isArray(cm)
    ? [
        [cm[0][0], cm[0][1]],
        [cm[1][0], cm[1][1]],
      ]
    : [
        [(cm as ConfusionMatrix).tn, (cm as ConfusionMatrix).fp],
        [(cm as ConfusionMatrix).fn, (cm as ConfusionMatrix).tp],
      ];
  for (const v of rows.flat()) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new DataError(`confusion matrix counts must be numbers of 0 or more, not ${String(v)}`);
  }
  return rows;
}

/** Blend from near-white to dark blue by `t` in [0, 1]. */
function shade(t: number): string {
  const from = [247, 251, 255];
  const to = [8, 48, 107];
  const c = from.map((a, k) => Math.round(a + ((to[k] as number) - a) * clamp01(t)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** A 2x2 grid (rows: actual class, columns: predicted class) shaded by count, with counts and shares of all rows. */
export function confusionMatrixSvg(
  cm: ConfusionMatrix | ConfusionMatrixArray,
  labels: readonly [string, string] = ['No rain', 'Rain'],
): string {
  const counts = matrixCounts(cm);
  const total = counts.flat().reduce((a, b) => a + b, 0);
  const max = Math.max(...counts.flat());
  const cellW = 130;
  const cellH = 105;
  const left = 150;
  const top = 80;
  let svg = svgOpen(PLOT_WIDTH, PLOT_HEIGHT, 'Confusion matrix');
  svg += text(left + cellW, top - 34, 'Predicted', 'text-anchor="middle" font-size="13" font-weight="600"');
  const cy = top + cellH;
  svg += text(
    40,
    cy,
    'Actual',
    `text-anchor="middle" font-size="13" font-weight="600" transform="rotate(-90 40 ${n(cy)})"`,
  );
  for (let c = 0; c < 2; c++)
    svg += text(left + cellW * (c + 0.5), top - 12, labels[c] ?? '', 'text-anchor="middle" font-size="12"');
  for (let r = 0; r < 2; r++)
    svg += text(left - 10, top + cellH * (r + 0.5) + 4, labels[r] ?? '', 'text-anchor="end" font-size="12"');
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 2; c++) {
      const v = counts[r]?.[c] ?? 0;
      const t = max > 0 ? v / max : 0;
      const x = left + c * cellW;
      const y = top + r * cellH;
      const ink = t > 0.5 ? '#fff' : INK;
      const share = total > 0 ? `${((100 * v) / total).toFixed(1)}%` : '–';
      svg += `<rect x="${n(x)}" y="${n(y)}" width="${n(cellW)}" height="${n(cellH)}" fill="${shade(t)}" stroke="#fff" stroke-width="2"/>\n`;
      svg += text(
        x + cellW / 2,
        y + cellH / 2 - 2,
        v.toLocaleString('en-US'),
        `text-anchor="middle" font-size="20" font-weight="600" fill="${ink}"`,
      );
      svg += text(x + cellW / 2, y + cellH / 2 + 20, share, `text-anchor="middle" font-size="12" fill="${ink}"`);
    }
  }
  svg += `<rect x="${n(left)}" y="${n(top)}" width="${n(2 * cellW)}" height="${n(2 * cellH)}" fill="none" stroke="${INK}"/>\n`;
  svg += text(
    left + cellW,
    top + 2 * cellH + 26,
    `${total.toLocaleString('en-US')} rows; shares of all rows`,
    `text-anchor="middle" font-size="11" fill="${MUTED}"`,
  );
  return `${svg}</svg>\n`;
}

function truncate(name: string, max: number): string {
  const chars = Array.from(name);
  return chars.length <= max ? name : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Horizontal bars for the top 27 features by value (largest first; entries with a non-finite value
 * are left out). Negative values (permutation importance can go below 0) extend left of the zero line.
 */
export function featureImportanceSvg(
  entries: ReadonlyArray<{ name: string; value: number }>,
  title = 'Feature importance',
): string {
  const sorted = entries
    .filter((e) => Number.isFinite(e.value))
    .slice()
    .sort((a, b) => b.value - a.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, FEATURE_IMPORTANCE_TOP);
  const top = 48;
  const bottomMargin = 46;
  // Rows share the 360 px height, 16 px each at least (the chart grows taller past 16 bars).
  const rowH = Math.max(16, (PLOT_HEIGHT - top - bottomMargin) / Math.max(1, sorted.length));
  const barH = Math.min(rowH - 4, 22);
  const height = Math.max(PLOT_HEIGHT, top + sorted.length * rowH + bottomMargin);
  const left = 160;
  const right = PLOT_WIDTH - 56;
  let svg = svgOpen(PLOT_WIDTH, height, title);
  if (sorted.length === 0) {
    svg += text(PLOT_WIDTH / 2, height / 2, 'No feature importances to show', `text-anchor="middle" fill="${MUTED}"`);
    return `${svg}</svg>\n`;
  }
  const values = sorted.map((e) => e.value);
  const scale = niceTicks(Math.min(0, ...values), Math.max(0, ...values), 4);
  const x = (v: number) => left + ((v - scale.lo) / (scale.hi - scale.lo)) * (right - left);
  const bottom = top + sorted.length * rowH;
  svg += '<g class="axes">\n';
  for (const t of scale.ticks) {
    svg += line(x(t), top, x(t), bottom, `stroke="${GRID}"`);
    svg += line(x(t), bottom, x(t), bottom + 5, `stroke="${INK}"`);
    svg += text(x(t), bottom + 18, t.toFixed(scale.decimals), 'text-anchor="middle" font-size="11"');
  }
  svg += line(left, bottom, right, bottom, `stroke="${INK}"`);
  svg += line(x(0), top, x(0), bottom, `stroke="${INK}"`);
  svg += text((left + right) / 2, bottom + 36, 'Importance', 'text-anchor="middle" font-size="13"');
  svg += '</g>\n<g class="bars">\n';
  sorted.forEach((e, k) => {
    const y = top + k * rowH;
    const x0 = x(Math.min(0, e.value));
    const x1 = x(Math.max(0, e.value));
    svg += `<g><title>${escapeXml(`${e.name}: ${e.value}`)}</title>\n`;
    svg += text(left - 6, y + rowH / 2 + 4, truncate(e.name, 24), 'text-anchor="end" font-size="11"');
    svg += `<rect x="${n(x0)}" y="${n(y + (rowH - barH) / 2)}" width="${n(Math.max(0, x1 - x0))}" height="${n(barH)}" fill="${ACCENT}"/>\n`;
    // Right of the bar's outer end, or of the zero line for a negative bar (names sit on the left).
    svg += text(x1 + 4, y + rowH / 2 + 4, formatValue(e.value), `font-size="10" fill="${MUTED}"`);
    svg += '</g>\n';
  });
  svg += '</g>\n';
  return `${svg}</svg>\n`;
}
