import { UsageError } from '../errors.js';

/** A dense row-major matrix of float32 values; NaN marks a missing value. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function createMatrix(data: Float32Array, rows: number, cols: number): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new UsageError(`A matrix needs whole, non-negative dimensions (got ${rows} x ${cols}).`);
  }
  if (data.length !== rows * cols) {
    throw new UsageError(`A ${rows} x ${cols} matrix needs ${rows * cols} values, got ${data.length}.`);
  }
  return { rows, cols, data };
}

/** Builds a matrix from rows of numbers; null, undefined and NaN become missing. */
export function matrixFromRows(rows: readonly ArrayLike<number | null | undefined>[], cols?: number): Matrix {
  const width = cols ?? rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * width);
  rows.forEach((row, i) => {
    if (row.length !== width) {
      throw new UsageError(`Row ${i} has ${row.length} values where ${width} were expected.`);
    }
    for (let j = 0; j < width; j++) {
      const v = row[j];
      data[i * width + j] = v === null || v === undefined ? Number.NaN : v;
    }
  });
  return { rows: rows.length, cols: width, data };
}

/** A view of row i (no copy). */
export function matrixRow(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/** A new matrix holding the given rows, in the order given. */
export function selectRows(m: Matrix, indices: ArrayLike<number>): Matrix {
  const data = new Float32Array(indices.length * m.cols);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (i < 0 || i >= m.rows) throw new UsageError(`Row index ${i} is outside a matrix of ${m.rows} rows.`);
    data.set(m.data.subarray(i * m.cols, (i + 1) * m.cols), k * m.cols);
  }
  return { rows: indices.length, cols: m.cols, data };
}

/** Checks that a labelled training set is usable by a binary classifier. */
export function checkTrainingData(X: Matrix, y: ArrayLike<number>, what = 'training'): void {
  if (X.data.length !== X.rows * X.cols) {
    throw new UsageError(`The ${what} matrix holds ${X.data.length} values, not ${X.rows} x ${X.cols}.`);
  }
  if (X.rows === 0 || X.cols === 0) throw new UsageError(`The ${what} set is empty (${X.rows} x ${X.cols}).`);
  if (y.length !== X.rows) {
    throw new UsageError(`The ${what} set has ${X.rows} rows but ${y.length} labels.`);
  }
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v !== 0 && v !== 1) {
      throw new UsageError(`Label ${i} of the ${what} set is ${String(v)}: labels must be 0 or 1.`);
    }
  }
  for (let i = 0; i < X.data.length; i++) {
    const v = X.data[i] as number;
    if (v === Infinity || v === -Infinity) {
      throw new UsageError(
        `The ${what} matrix holds an infinite value at row ${Math.floor(i / X.cols)}, column ${i % X.cols}.`,
      );
    }
  }
}
