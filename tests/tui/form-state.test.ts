import { describe, expect, it } from 'vitest';
import { EXAMPLE_DAY, FIELDS } from '../../src/core/tui/fields.js';
import { BUTTON, filterOptions, formFeatures, formReducer, initialFormState } from '../../src/core/tui/form-state.js';
import type { FormAction, FormState } from '../../src/core/tui/form-state.js';

const run = (actions: FormAction[], state: FormState = initialFormState()) => actions.reduce(formReducer, state);
const at = (name: string) => FIELDS.findIndex((f) => f.name === name);

describe('form state', () => {
  it('has the 22 inputs of the original form, and the example day is valid', () => {
    expect(FIELDS).toHaveLength(22);
    expect(BUTTON).toBe(22);
    const s = initialFormState();
    expect(s.errors).toEqual({});
    expect(formFeatures(s.values).success).toBe(true);
    expect(FIELDS.find((f) => f.name === 'Location')).toMatchObject({ kind: 'select' });
    expect((FIELDS.find((f) => f.name === 'Location') as { options: readonly string[] }).options).toHaveLength(49);
    expect((FIELDS.find((f) => f.name === 'WindDir3pm') as { options: readonly string[] }).options).toHaveLength(16);
  });

  it('ranks filter matches: exact, then prefix, then substring, ignoring case', () => {
    expect(filterOptions(['NNE', 'NE', 'N', 'ENE', 'E'], 'n')).toEqual(['N', 'NNE', 'NE', 'ENE']);
    expect(filterOptions(['Albury', 'Sydney', 'SydneyAirport', 'NorahHead'], 'ney')).toEqual([
      'Sydney',
      'SydneyAirport',
    ]);
    expect(filterOptions(['A', 'B'], '')).toEqual(['A', 'B']);
  });

  it('toggles RainToday with y, n, space and the arrows', () => {
    const base = { ...initialFormState(), focus: at('RainToday') };
    expect(run([{ type: 'type', text: 'y' }], base).values.RainToday).toBe('Yes');
    expect(
      run(
        [
          { type: 'type', text: 'y' },
          { type: 'type', text: 'N' },
        ],
        base,
      ).values.RainToday,
    ).toBe('No');
    expect(run([{ type: 'type', text: ' ' }], base).values.RainToday).toBe('Yes');
    expect(
      run(
        [
          { type: 'cycle', by: -1 },
          { type: 'cycle', by: 1 },
        ],
        base,
      ).values.RainToday,
    ).toBe('No');
  });

  it('wraps a select when stepping past its ends', () => {
    const base = { ...initialFormState(), focus: at('WindDir3pm'), values: { ...EXAMPLE_DAY, WindDir3pm: 'E' } };
    expect(run([{ type: 'cycle', by: -1 }], base).values.WindDir3pm).toBe('ESE');
    expect(run([{ type: 'cycle', by: 1 }], base).values.WindDir3pm).toBe('ENE');
  });

  it('submits only valid values, and ignores an answer to a superseded submission', () => {
    const s1 = run([{ type: 'submit' }]);
    expect(s1.pending).toMatchObject({ id: 1, features: { Location: 'Adelaide', MinTemp: 9.8, RainToday: 'No' } });
    const s2 = run([{ type: 'submit' }], s1);
    const model = { name: 'm', version: 1 };
    const late = formReducer(s2, {
      type: 'answered',
      id: 1,
      result: { prediction_bool: 0, prediction_str: 'x', probability: 0.1, model },
    });
    expect(late.result).toBeNull();
    const fresh = formReducer(s2, {
      type: 'answered',
      id: 2,
      result: { prediction_bool: 1, prediction_str: 'y', probability: 0.9, model },
    });
    expect(fresh).toMatchObject({ pending: null, result: { probability: 0.9 }, stale: false });
    const invalid = run([
      { type: 'move', by: 1 },
      { type: 'move', by: 1 },
      { type: 'clear' },
      { type: 'move', by: 1 },
      { type: 'submit' },
    ]);
    expect(invalid.pending).toBeNull();
    expect(invalid.focus).toBe(at('MinTemp'));
    expect(invalid.errors.MinTemp).toBe('required');
  });
});
