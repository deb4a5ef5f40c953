import { UsageError } from '../errors.js';

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Param, metric and tag keys: no spaces or operators, so that `metrics.KEY>=0.6` filters parse. */
export function checkKey(kind: string, key: string): void {
  if (!KEY.test(key) || key.length > 250) {
    throw new UsageError(`${kind} key '${key}' is not valid; use letters, digits and _ . - / (up to 250 characters)`);
  }
}

/** Why a model or alias name is refused, or null when it is fine; commands check flags with it before any work. */
export function nameProblem(kind: string, name: string): string | null {
  if (NAME.test(name) && name.length <= 200) return null;
  return `${kind} name '${name}' is not valid; start with a letter or digit and use letters, digits and _ . - (up to 200 characters)`;
}

/** Model and alias names end up in store paths and URLs. */
export function checkName(kind: string, name: string): void {
  const problem = nameProblem(kind, name);
  if (problem) throw new UsageError(problem);
}

/** A model version as typed: digits only, no sign, no leading zero, so '0x2', '1e0', ' 2' or '02' never name v2. */
export const VERSION_TEXT = /^[1-9][0-9]*$/;

/** The version a user typed, or a usage error. */
export function parseVersion(text: string): number {
  const version = Number(text);
  if (!VERSION_TEXT.test(text) || !Number.isSafeInteger(version)) {
    throw new UsageError(`model version '${text}' is not valid; give a whole number from 1, written plainly, e.g. 2`);
  }
  return version;
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
