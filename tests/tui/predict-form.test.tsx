import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

// Ink decides at import time whether it runs in CI (then it draws only the last frame); these tests need every frame.
vi.hoisted(() => {
  process.env.CI = 'false';
});
import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup } from 'ink-testing-library';
import { ANSWER_DRY, ANSWER_RAIN } from '../../src/core/bundle/predictor.js';
import type { PredictFeatures } from '../../src/core/dataset/schema.js';
import { EXAMPLE_FEATURES } from '../../src/core/dataset/example.js';
import type { PredictResult } from '../../src/core/predict/scorer.js';
import { PredictForm } from '../../src/core/tui/predict-form.js';
import { runPredictForm } from '../../src/core/tui/run-form.js';

const KEY = {
  tab: '\t',
  shiftTab: '\x1b[Z',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  enter: '\r',
  backspace: '\x7f',
  ctrlS: '\x13',
  ctrlC: '\x03',
  esc: '\x1b',
};

// The example day, with RainToday spelled as a CSV row would.
const EXAMPLE: PredictFeatures = { ...EXAMPLE_FEATURES, RainToday: 'No' };

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries the assertion until the terminal shows what it expects: a loaded machine draws later than an idle one. */
const until = (assertion: () => void) => vi.waitFor(assertion, { timeout: 10_000, interval: 10 });

/** Waits until cond holds: a loaded machine draws later than an idle one. */
async function eventually(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('the terminal never showed what was expected');
    await tick(20);
  }
}

function answerFor(features: PredictFeatures): PredictResult {
  const rain = features.Humidity3pm > 50;
  return {
    prediction_bool: rain ? 1 : 0,
    prediction_str: rain ? ANSWER_RAIN : ANSWER_DRY,
    probability: rain ? 0.734 : 0.12,
    model: { name: 'Rain_dataset_model_prod', version: 7 },
  };
}

/** Gives ink-testing-library's terminal (100 columns, no row count) a size, as a terminal resize does. */
function resize(app: ReturnType<typeof render>, columns: number, rows: number): void {
  Object.defineProperty(app.stdout, 'columns', { value: columns, configurable: true });
  Object.defineProperty(app.stdout, 'rows', { value: rows, configurable: true });
  app.stdout.emit('resize');
}

function setup(predict = vi.fn(async (f: PredictFeatures) => answerFor(f)), size?: { columns: number; rows: number }) {
  const app = render(<PredictForm predict={predict} source="Rain_dataset_model_prod v7" />);
  if (size) resize(app, size.columns, size.rows);
  // Each key is written once the previous one has been drawn (or 200 ms passed, for keys that change nothing).
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      const before = app.frames.length;
      app.stdin.write(k);
      for (let waited = 0; app.frames.length === before && waited < 200; waited += 5) await tick(5);
      await tick(5);
    }
  };
  const frame = () => app.lastFrame() ?? '';
  /** The rendered line of a field, found by its label. */
  const row = (label: string) =>
    frame()
      .split('\n')
      .find((l) => l.includes(label)) ?? '';
  return { app, press, frame, row, predict };
}

afterEach(() => cleanup());

describe('PredictForm', () => {
  it('opens prefilled with the example day, units and bounds in the labels', async () => {
    // tall enough for every field at once
    const { frame, row } = setup(undefined, { columns: 100, rows: 40 });
    // The last field shows once the resize has been drawn.
    await until(() => expect(row('RainToday (yes/no)')).toMatch(/\sNo\b/));
    expect(row('Date (YYYY-MM-DD)')).toContain('2024-08-26');
    expect(row('Date (YYYY-MM-DD)')).toContain('›');
    expect(row('Location')).toContain('Adelaide');
    for (const [label, value] of [
      ['MinTemp (°C, -10 to 50)', '9.8'],
      ['MaxTemp (°C, -20 to 70)', '18.2'],
      ['Rainfall (mm, ≥ 0)', '0.2'],
      ['Evaporation (mm, ≥ 0)', '1.4'],
      ['Sunshine (h, 0 to 24)', '0'],
      ['WindGustDir', 'ESE'],
      ['WindGustSpeed (km/h, ≥ 0)', '39'],
      ['WindDir9am', 'NW'],
      ['WindDir3pm', 'W'],
      ['WindSpeed9am (km/h, ≥ 0)', '17'],
      ['WindSpeed3pm (km/h, ≥ 0)', '11'],
      ['Humidity9am (%, 0 to 100)', '91'],
      ['Humidity3pm (%, 0 to 100)', '95'],
      ['Pressure9am (hPa)', '1020.3'],
      ['Pressure3pm (hPa)', '1016.4'],
      ['Cloud9am (oktas, 0 to 9)', '7'],
      ['Cloud3pm (oktas, 0 to 9)', '8'],
      ['Temp9am (°C)', '12.7'],
      ['Temp3pm (°C)', '14.6'],
      ['RainToday (yes/no)', 'No'],
    ] as const) {
      expect(row(label), label).toMatch(new RegExp(`\\s${value.replace('.', '\\.')}\\b`));
    }
    expect(frame()).toContain('[ Predict ]');
    expect(frame()).not.toContain('✖');
  });

  it('moves with Tab, Shift+Tab and the arrows, wrapping around', async () => {
    const { press, row } = setup();
    await press(KEY.tab);
    expect(row('Location')).toContain('›');
    expect(row('Date (YYYY-MM-DD)')).not.toContain('›');
    await press(KEY.down, KEY.down);
    expect(row('MaxTemp')).toContain('›');
    await press(KEY.shiftTab);
    expect(row('MinTemp')).toContain('›');
    await press(KEY.up, KEY.up, KEY.up);
    expect(row('[ Predict ]')).toContain('›');
    await press(KEY.up);
    expect(row('RainToday')).toContain('›');
  });

  it('takes Tab, Enter, Backspace, Ctrl+U and Ctrl+S that arrive together with typed text, in order', async () => {
    const { press, row, predict, frame } = setup();
    await press('\t\t\x7f\x7f\x7f-2\r\x15\x0117\x13');
    await until(() => expect(frame()).toContain(ANSWER_RAIN));
    expect(row('MinTemp')).toMatch(/MinTemp \(°C, -10 to 50\)\s+-2\s*$/);
    expect(row('MaxTemp')).toMatch(/› MaxTemp \(°C, -20 to 70\)\s+17▏/);
    expect(predict).toHaveBeenCalledWith({ ...EXAMPLE, MinTemp: -2, MaxTemp: 17 });
    expect(frame()).toContain(ANSWER_RAIN);
  });

  it('filters a select as the user types and steps through the matches with the arrows', async () => {
    const { press, row } = setup();
    await press(KEY.tab, 's', 'y', 'd');
    expect(row('Location')).toContain('‹ Sydney ›');
    expect(row('Location')).toContain('filter "syd": Sydney SydneyAirport');
    await press(KEY.right);
    expect(row('Location')).toContain('‹ SydneyAirport ›');
    await press(KEY.right);
    expect(row('Location')).toContain('‹ Sydney ›');
    await press('q');
    expect(row('Location')).toContain('✖ nothing matches "sydq"');
    await press(KEY.backspace);
    expect(row('Location')).not.toContain('✖');
    await press(KEY.tab);
    expect(row('Location')).toMatch(/Location\s+Sydney/);
    // Wind directions: the exact name wins over longer ones that start with it.
    await press(KEY.tab, KEY.tab, KEY.tab, KEY.tab, KEY.tab, 'n');
    expect(row('WindGustDir')).toContain('‹ N ›');
  });

  it("types into a number field and shows a wrong value's message beside it", async () => {
    const { press, row, predict, frame } = setup();
    await press(KEY.down, KEY.down, KEY.backspace, KEY.backspace, KEY.backspace);
    expect(row('MinTemp')).toContain('✖ required');
    await press('6', '0');
    expect(row('MinTemp')).toMatch(/60.*✖ Too big: expected number to be <=50/);
    await press('\x7f\x7f-3.5');
    expect(row('MinTemp')).toContain('-3.5');
    expect(row('MinTemp')).not.toContain('✖');
    await press('x');
    expect(row('MinTemp')).toContain('✖ expected a number');
    await press(KEY.tab, KEY.tab, KEY.ctrlS);
    expect(predict).not.toHaveBeenCalled();
    expect(row('MinTemp')).toContain('›');
    expect(frame()).toContain('1 field needs a valid value');
  });

  it('validates the date', async () => {
    const { press, row } = setup();
    await press(KEY.backspace, KEY.backspace, '3', '1');
    expect(row('Date')).toContain('2024-08-31');
    await press(KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, '2', '-', '3', '0');
    expect(row('Date')).toContain('✖ expected a real calendar day as YYYY-MM-DD');
  });

  it('submits with Ctrl+S and shows the answer, the probability as a bar and the version', async () => {
    const { press, frame, predict } = setup();
    await press(KEY.ctrlS);
    await until(() => expect(frame()).toContain(ANSWER_RAIN));
    expect(predict).toHaveBeenCalledTimes(1);
    expect(predict).toHaveBeenCalledWith(EXAMPLE);
    expect(frame()).toContain(ANSWER_RAIN);
    expect(frame()).toMatch(/█{22}░{8} 73\.4%/);
    expect(frame()).toContain('model Rain_dataset_model_prod v7');
  });

  it('lets the user edit and submit again, from the Predict button with Enter', async () => {
    const { press, frame, predict, row } = setup();
    await press(KEY.ctrlS);
    // Humidity3pm is the 15th field.
    for (let i = 0; i < 14; i++) await press(KEY.tab);
    await press(KEY.backspace, KEY.backspace, '2', '0');
    expect(row('Humidity3pm')).toContain('20');
    expect(frame()).toContain('values changed since');
    await press(KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.down, KEY.right);
    expect(row('RainToday')).toContain('‹ Yes ›');
    await press(KEY.down, KEY.enter);
    await until(() => expect(frame()).toContain(ANSWER_DRY));
    expect(predict).toHaveBeenCalledTimes(2);
    expect(predict.mock.calls[1]![0]).toEqual({ ...EXAMPLE, Humidity3pm: 20, RainToday: 'Yes' });
    expect(frame()).toContain(ANSWER_DRY);
    expect(frame()).toContain('12.0%');
    expect(frame()).not.toContain('values changed since');
  });

  it('shows a failed prediction and keeps the form', async () => {
    const predict = vi.fn(async (): Promise<PredictResult> => {
      throw new Error('predict: cannot reach rainops serve at http://127.0.0.1:9 (ECONNREFUSED)');
    });
    const { press, frame } = setup(predict);
    await press(KEY.ctrlS);
    await until(() => expect(frame()).toContain('✖ predict: cannot reach rainops serve'));
    expect(frame()).toContain('✖ predict: cannot reach rainops serve');
    expect(frame()).toContain('2024-08-26');
  });
});

describe('PredictForm in an 80x24 terminal', () => {
  const SIZE = { columns: 80, rows: 24 };
  /** The frame fits: below the terminal's height (a full frame would scroll), no line wider than it, title and keys on top. */
  const fits = (text: string) => {
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^rainops predict · answers from Rain_dataset_model_prod v7/);
    expect(lines[1]).toContain('Ctrl+S predict · Esc quit');
    expect(text).toContain('[ Predict ]');
    return lines;
  };
  const focusedLabel = (text: string) =>
    text
      .split('\n')
      .find((l) => l.startsWith('› '))
      ?.slice(2, 28)
      .trim();

  it('keeps the header, the focused field and the Predict button on screen wherever the focus is', async () => {
    const { press, frame } = setup(undefined, SIZE);
    await until(() => expect(focusedLabel(frame())).toBe('Date (YYYY-MM-DD)'));
    const labels = ['Date (YYYY-MM-DD)', 'Location', 'MinTemp (°C, -10 to 50)'];
    for (let i = 0; i < 23; i++) {
      const lines = fits(frame());
      if (i < labels.length) expect(focusedLabel(frame())).toBe(labels[i]);
      if (i === 22) expect(lines.find((l) => l.startsWith('› '))).toContain('[ Predict ]');
      else expect(focusedLabel(frame()), `focus ${i}`).toBeTruthy();
      await press(KEY.tab);
    }
    expect(focusedLabel(frame())).toBe('Date (YYYY-MM-DD)');
  });

  it('scrolls the field list inside a window and says how many fields it hides', async () => {
    const { press, frame, row } = setup(undefined, SIZE);
    await until(() => expect(frame()).toMatch(/\n {2}↓ 4 more\n/));
    expect(frame().split('\n')[2]).toBe('');
    expect(frame()).toMatch(/\n {2}↓ 4 more\n/);
    expect(row('RainToday')).toBe('');
    await press(KEY.up, KEY.up);
    expect(focusedLabel(frame())).toBe('RainToday (yes/no)');
    expect(frame().split('\n')[2]).toBe('  ↑ 4 more');
    expect(row('Date (YYYY-MM-DD)')).toBe('');
    await press(
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
      KEY.down,
    );
    // the focused field sits in the middle of the window of 18 fields, which shows fields 3 to 20
    expect(focusedLabel(frame())).toBe('WindDir3pm (compass)');
    const lines = frame().split('\n');
    expect(lines.findIndex((l) => l.startsWith('› '))).toBe(3 + 8);
    expect(lines[2]).toBe('  ↑ 2 more');
    expect(lines[3 + 18]).toBe('  ↓ 2 more');
  });

  it('shows the answer under the Predict button, and a long message on a line of its own', async () => {
    const { press, frame, row } = setup(undefined, SIZE);
    for (let i = 0; i < 14; i++) await press(KEY.tab);
    await press(KEY.ctrlS);
    await until(() => expect(frame()).toContain(ANSWER_RAIN));
    const lines = fits(frame());
    expect(focusedLabel(frame())).toBe('Humidity3pm (%, 0 to 100)');
    expect(frame()).toContain(ANSWER_RAIN);
    expect(frame()).toMatch(/█{22}░{8} 73\.4%/);
    expect(lines.at(-2)).toContain('model Rain_dataset_model_prod v7');
    await press('0');
    fits(frame());
    expect(row('Humidity3pm')).toContain('950▏');
    const below =
      frame().split('\n')[
        frame()
          .split('\n')
          .findIndex((l) => l.startsWith('› ')) + 1
      ]!;
    expect(below).toMatch(/^ {29}✖ Too big: expected number to be <=100$/);
    expect(frame()).toContain('values changed since: Ctrl+S again');
    expect(frame()).toContain('1 field needs a valid value before predicting');
  });

  it('fits a failed prediction too, and redraws for a taller terminal', async () => {
    const predict = vi.fn(async (): Promise<PredictResult> => {
      throw new Error(
        'predict: cannot reach rainops serve at http://127.0.0.1:9 (ECONNREFUSED); start it with rainops serve or check --url',
      );
    });
    const { app, press, frame, row } = setup(predict, SIZE);
    await press(KEY.ctrlS);
    await until(() => expect(frame()).toContain('✖ predict: cannot reach rainops serve'));
    fits(frame());
    expect(frame()).toContain('✖ predict: cannot reach rainops serve');
    expect(row('RainToday')).toBe('');
    resize(app, 100, 40);
    await eventually(() => row('RainToday').includes('No'));
    expect(frame()).not.toContain('more');
  });
});

/** A terminal's streams as ink uses them, for runPredictForm. */
function fakeTerminal() {
  let data: string | null = null;
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
    read: () => {
      const d = data;
      data = null;
      return d;
    },
    write(d: string) {
      data = d;
      stdin.emit('readable');
    },
  });
  let out = '';
  const stdout = Object.assign(new EventEmitter(), {
    isTTY: true,
    columns: 120,
    rows: 50,
    write: (s: string) => ((out += s), true),
  });
  return { stdin, stdout, output: () => out };
}

describe('runPredictForm', () => {
  for (const [name, key] of [
    ['Esc', KEY.esc],
    ['Ctrl+C', KEY.ctrlC],
  ] as const) {
    it(`ends on ${name}`, async () => {
      const t = fakeTerminal();
      const predict = vi.fn(async (f: PredictFeatures) => answerFor(f));
      // Streams typed as ink expects them; the fakes implement what it calls.
      const streams = {
        stdin: t.stdin as unknown as NodeJS.ReadStream,
        stdout: t.stdout as unknown as NodeJS.WriteStream,
        stderr: t.stdout as unknown as NodeJS.WriteStream,
      };
      let ended = false;
      const done = runPredictForm({ ...streams, predict, source: 'test' }).then(() => (ended = true));
      await eventually(() => t.output().includes('Location'));
      // Ink attaches its input listener after the first draw: repeat the key until the form has taken it.
      await eventually(() => {
        if (!t.output().includes(ANSWER_RAIN)) t.stdin.write(KEY.ctrlS);
        return t.output().includes(ANSWER_RAIN);
      });
      expect(t.output()).toContain(ANSWER_RAIN);
      expect(ended).toBe(false);
      t.stdin.write(key);
      await done;
      expect(ended).toBe(true);
    });
  }
});
