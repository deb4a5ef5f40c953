import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { parseFeatures, parseFeaturesJson } from '../../src/core/predict/features.js';
import { EXAMPLE_FEATURES } from './fixtures.js';

const fail = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseFeatures', () => {
  it('takes the API body or the bare features, RainToday as 0/1 or Yes/No', () => {
    expect(parseFeatures({ features: EXAMPLE_FEATURES })).toEqual(EXAMPLE_FEATURES);
    expect(parseFeatures(EXAMPLE_FEATURES)).toEqual(EXAMPLE_FEATURES);
    expect(parseFeatures({ ...EXAMPLE_FEATURES, RainToday: 'Yes' }).RainToday).toBe('Yes');
  });

  it('names the field of the first problem on one line, zod-prettified', () => {
    const msg = fail(() => parseFeatures({ features: { ...EXAMPLE_FEATURES, MinTemp: 60 } }));
    expect(msg).toBe('predict: invalid features: ✖ Too big: expected number to be <=50 → at MinTemp');
    expect(fail(() => parseFeatures({ ...EXAMPLE_FEATURES, Location: 'Sydnee' }))).toContain(
      'unknown location "Sydnee"; closest: Sydney',
    );
    expect(fail(() => parseFeatures({ ...EXAMPLE_FEATURES, WindDir9am: 'NORTH', Sunshine: 30 }))).toMatch(
      /→ at Sunshine \(and 1 more problem\)$/,
    );
    const missing = fail(() => parseFeatures({ Date: '2024-08-26' }));
    expect(missing).toMatch(/→ at Location \(and 20 more problems\)$/);
    expect(missing).not.toContain('\n');
  });

  it('explains text that is not JSON, or empty', () => {
    expect(fail(() => parseFeaturesJson('{nope', '--features'))).toMatch(
      /^predict: --features is not valid JSON \(.*\); pass one JSON object of features$/,
    );
    expect(fail(() => parseFeaturesJson('  \n', 'standard input'))).toMatch(/^predict: standard input is empty/);
  });
});
