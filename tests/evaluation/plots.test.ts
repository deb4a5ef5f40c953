import { describe, expect, it } from 'vitest';
import { classificationMetrics, precisionRecallCurve, rocAuc, rocCurve } from '../../src/core/evaluation/metrics.js';
import {
  confusionMatrixSvg,
  escapeXml,
  FEATURE_IMPORTANCE_TOP,
  featureImportanceSvg,
  niceTicks,
  precisionRecallSvg,
  rocSvg,
} from '../../src/core/evaluation/plots.js';

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

/** Every '&' starts a known entity and no '<' appears. */
function checkText(s: string, where: string): void {
  expect(s.includes('<'), `raw '<' in ${where}: ${s}`).toBe(false);
  for (let i = s.indexOf('&'); i >= 0; i = s.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    expect(ENTITY.test(s), `bare '&' in ${where}: ${s.slice(i, i + 12)}`).toBe(true);
  }
}

/**
 * A small well-formedness check: one root, tags nest and close, attributes are quoted, unique and
 * escaped, text is escaped. Returns the attribute values seen, for further checks.
 */
function checkXml(svg: string): string[] {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const stack: string[] = [];
  const values: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>/y;
  const attr = /\s+([\w:.-]+)\s*=\s*"([^"]*)"/g;
  let i = 0;
  let roots = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const chunk = lt < 0 ? svg.slice(i) : svg.slice(i, lt);
    checkText(chunk, 'text');
    if (stack.length === 0) expect(chunk.trim()).toBe('');
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    expect(m, `malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`).not.toBeNull();
    const [whole, closing, name, attrs, selfClosing] = m!;
    if (closing) {
      expect(attrs).toBe('');
      expect(stack.pop(), `</${name}> closes the wrong element`).toBe(name);
    } else {
      if (stack.length === 0) roots++;
      const names = new Set<string>();
      for (const a of attrs!.matchAll(attr)) {
        expect(names.has(a[1]!), `duplicate attribute ${a[1]}`).toBe(false);
        names.add(a[1]!);
        checkText(a[2]!, `attribute ${a[1]}`);
        values.push(a[2]!);
      }
      if (!selfClosing) stack.push(name!);
    }
    i = lt + whole.length;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  for (const v of values) expect(v).not.toMatch(/NaN|undefined|Infinity|null/);
  return values;
}

function textContent(svg: string): string {
  return svg.replace(/<[^>]*>/g, ' ');
}

const y = [0, 0, 1, 1, 0, 1, 0, 0, 1, 0];
const p = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.55, 0.05, 0.6, 0.3];

describe('escapeXml', () => {
  it('escapes markup characters and replaces characters XML forbids', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
    expect(escapeXml('bell\u0007')).toBe('bell\uFFFD');
    expect(escapeXml('Wind → 10 km/h 🌧')).toBe('Wind → 10 km/h 🌧');
  });
});

describe('niceTicks', () => {
  it('picks round steps covering the range', () => {
    expect(niceTicks(0, 1, 5).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0.137, 4)).toMatchObject({ ticks: [0, 0.05, 0.1, 0.15], lo: 0, hi: 0.15 });
    expect(niceTicks(-0.02, 0.3, 4).lo).toBeLessThanOrEqual(-0.02);
    expect(niceTicks(0, 0, 4).hi).toBeGreaterThan(0);
  });
});

describe('rocSvg and precisionRecallSvg', () => {
  it('draws a well-formed ROC chart with axes, ticks, title and AUC', () => {
    const svg = rocSvg(rocCurve(y, p), rocAuc(y, p));
    checkXml(svg);
    expect(svg).toContain('viewBox="0 0 480 360"');
    const t = textContent(svg);
    for (const label of [
      'ROC curve',
      'False positive rate',
      'True positive rate',
      '0.0',
      '0.2',
      '1.0',
      `AUC = ${rocAuc(y, p).toFixed(3)}`,
    ])
      expect(t).toContain(label);
    expect(svg).toContain('<polyline');
  });

  it('shows n/a for an undefined AUC and survives odd points', () => {
    const svg = rocSvg(
      [
        { fpr: 0, tpr: 0, threshold: 1 },
        { fpr: Number.NaN, tpr: 0.5, threshold: 0.5 },
        { fpr: 2, tpr: -1, threshold: 0 },
      ],
      Number.NaN,
    );
    checkXml(svg);
    expect(textContent(svg)).toContain('AUC = n/a');
    checkXml(rocSvg([], 0.5));
  });

  it('draws a well-formed precision-recall chart with a prevalence baseline', () => {
    const svg = precisionRecallSvg(precisionRecallCurve(y, p));
    checkXml(svg);
    expect(svg).toContain('viewBox="0 0 480 360"');
    const t = textContent(svg);
    for (const label of ['Precision-recall curve', 'Recall', 'Precision', 'Baseline (positives 40.0%)', '0.6'])
      expect(t).toContain(label);
  });

  it('handles a large thinned curve', () => {
    const n = 10_000;
    const yy = Array.from({ length: n }, (_, i) => ((i * 7919) % 3 === 0 ? 1 : 0));
    const pp = Array.from({ length: n }, (_, i) => ((i * 104729) % 9973) / 9973);
    checkXml(rocSvg(rocCurve(yy, pp), rocAuc(yy, pp)));
    checkXml(precisionRecallSvg(precisionRecallCurve(yy, pp)));
  });
});

describe('confusionMatrixSvg', () => {
  it('draws 4 shaded cells with counts, shares and class labels', () => {
    const m = classificationMetrics(y, p, 0.5);
    const svg = confusionMatrixSvg(m.confusion_matrix);
    checkXml(svg);
    const t = textContent(svg);
    for (const label of ['Confusion matrix', 'Predicted', 'Actual', 'No rain', 'Rain', '50.0%', '10 rows'])
      expect(t).toContain(label);
    const [[tn, fp], [fn, tp]] = m.confusion_matrix;
    for (const v of [tn, fp, fn, tp]) expect(t).toContain(` ${v} `);
    expect(svg.match(/<rect [^>]*fill="#[0-9a-f]{6}" stroke="#fff"/g)).toHaveLength(4);
  });

  it('accepts the object form, escapes labels and copes with an empty matrix', () => {
    const svg = confusionMatrixSvg({ tn: 12_345, fp: 0, fn: 7, tp: 3 }, ['<dry> & sunny', 'wet']);
    checkXml(svg);
    expect(svg).toContain('&lt;dry&gt; &amp; sunny');
    expect(svg).not.toContain('<dry>');
    expect(textContent(svg)).toContain('12,345');
    checkXml(confusionMatrixSvg({ tn: 0, fp: 0, fn: 0, tp: 0 }));
    expect(() => confusionMatrixSvg({ tn: -1, fp: 0, fn: 0, tp: 0 })).toThrow(/0 or more/);
  });
});

describe('featureImportanceSvg', () => {
  it('draws the top 27 bars sorted by value', () => {
    const entries = Array.from({ length: 40 }, (_, i) => ({
      name: `feature_${String(i).padStart(2, '0')}`,
      value: ((i * 17) % 40) / 100,
    }));
    const svg = featureImportanceSvg(entries, 'Gain importance');
    checkXml(svg);
    const t = textContent(svg);
    expect(t).toContain('Gain importance');
    expect(t).toContain('Importance');
    const shown = [...svg.matchAll(/<g><title>(feature_\d+):/g)].map((m) => m[1]!);
    expect(shown).toHaveLength(FEATURE_IMPORTANCE_TOP);
    const expected = [...entries]
      .sort((a, b) => b.value - a.value)
      .slice(0, FEATURE_IMPORTANCE_TOP)
      .map((e) => e.name);
    expect(shown).toEqual(expected);
    const viewBox = /viewBox="0 0 480 (\d+(?:\.\d+)?)"/.exec(svg);
    expect(Number(viewBox![1])).toBeGreaterThanOrEqual(360);
  });

  it('escapes names and titles, truncates long names, handles negatives and empty input', () => {
    const svg = featureImportanceSvg(
      [
        { name: 'Rain<Today> & "wind"', value: 0.4 },
        { name: 'a_really_long_feature_name_that_goes_on_and_on', value: -0.05 },
        { name: 'broken', value: Number.NaN },
        { name: 'zero', value: 0 },
      ],
      'Top <features> & more',
    );
    checkXml(svg);
    expect(svg).toContain('Rain&lt;Today&gt; &amp; &quot;wind&quot;');
    expect(svg).toContain('Top &lt;features&gt; &amp; more');
    expect(svg).not.toContain('broken');
    expect(svg).toContain('a_really_long_feature_n…');
    expect(textContent(svg)).toContain('-0.05');
    checkXml(featureImportanceSvg([], 'Nothing'));
    checkXml(featureImportanceSvg([{ name: 'x', value: 0 }]));
    checkXml(
      featureImportanceSvg([
        { name: 'x', value: 1e9 },
        { name: 'y', value: 3e-7 },
      ]),
    );
  });
});
