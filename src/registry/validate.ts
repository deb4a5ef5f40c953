import { UsageError } from '../core/errors.js';

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Param, metric and tag keys: no spaces or operators, so that `metrics.KEY>=0.6` filters parse. */
export function checkKey(kind: string, key: string): void {
  if (!KEY.test(key) || key.length > 250) {
    throw new UsageError(
      `${kind} key '${key}' is not valid; use letters, digits and _ . - / (up to 250 characters)`,
    );
  }
}

/** Model and alias names end up in store paths and URLs. */
export function checkName(kind: string, name: string): void {
  if (!NAME.test(name) || name.length > 200) {
    throw new UsageError(
      `${kind} name '${name}' is not valid; start with a letter or digit and use letters, digits and _ . - (up to 200 characters)`,
    );
  }
}

export function checkSha256(what: string, value: string): void {
  if (!SHA256.test(value)) {
    throw new UsageError(`${what} '${value}' is not a sha256; give 64 lowercase hexadecimal digits`);
  }
}

export function checkCount(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError(`${what} must be a whole number of at least 0, not ${value}`);
  }
}

export function checkNonEmpty(what: string, value: string): void {
  if (value.trim() === '') throw new UsageError(`${what} must not be empty`);
}

export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new UsageError(`model version must be a whole number of at least 1, not ${version}`);
  }
}

export function shortList(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).join(', ');
  return ids.length > max ? `${shown}, ...` : shown;
}
