import { DataError } from '../errors.js';
import type { InputsPipeline } from '../features/pipeline.js';
import { N_FEATURES } from '../features/pipeline.js';
import type { Matrix } from '../models/matrix.js';
import type { ArtifactStore } from '../store/types.js';
import { readWeatherCsv } from './read-csv.js';
import type { WeatherRow } from './schema.js';

export interface DatasetMatrices {
  Xtrain: Matrix;
  yTrain: Float32Array;
  Xtest: Matrix;
  yTest: Float32Array;
  pipeline: InputsPipeline;
}

/** Parses a numeric CSV with a header (the final/ files) into a float32 row-major matrix. */
export function parseNumericCsv(text: string, name: string, cols: number): Matrix {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const rows = lines.length - 1;
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const cells = lines[i + 1]!.split(',');
    if (cells.length !== cols)
      throw new DataError(
        `${name} line ${i + 2} has ${cells.length} values where ${cols} were expected; the data set is damaged, run etl again`,
      );
    for (let j = 0; j < cols; j++) data[i * cols + j] = Number(cells[j]);
  }
  return { rows, cols, data };
}

async function text(store: ArtifactStore, key: string): Promise<string> {
  return (await store.get(key)).toString('utf8');
}

/** The model-ready matrices of a data set version and its fitted pipeline. */
export async function loadDatasetMatrices(store: ArtifactStore, datasetId: string): Promise<DatasetMatrices> {
  const base = `datasets/${datasetId}`;
  const [xtr, ytr, xte, yte, pipe] = await Promise.all(
    [
      'final/X_train.csv',
      'final/y_train.csv',
      'final/X_test.csv',
      'final/y_test.csv',
      'pipes/inputs_pipeline.json',
    ].map((f) => text(store, `${base}/${f}`)),
  );
  const Xtrain = parseNumericCsv(xtr!, 'final/X_train.csv', N_FEATURES);
  const Xtest = parseNumericCsv(xte!, 'final/X_test.csv', N_FEATURES);
  return {
    Xtrain,
    yTrain: parseNumericCsv(ytr!, 'final/y_train.csv', 1).data,
    Xtest,
    yTest: parseNumericCsv(yte!, 'final/y_test.csv', 1).data,
    pipeline: JSON.parse(pipe!) as InputsPipeline,
  };
}

/** The raw test rows and labels of a data set, to score any model through its own pipeline. */
export async function loadRawTest(
  store: ArtifactStore,
  datasetId: string,
): Promise<{ rows: WeatherRow[]; y: Float32Array }> {
  const base = `datasets/${datasetId}`;
  const read = await readWeatherCsv(
    { stream: await store.stream(`${base}/preprocessed/X_test.csv`), name: 'preprocessed/X_test.csv' },
    { optionalColumns: ['RainTomorrow'] },
  );
  const y = parseNumericCsv(await text(store, `${base}/final/y_test.csv`), 'final/y_test.csv', 1).data;
  if (read.rejected > 0 || read.rows.length !== y.length) {
    throw new DataError(
      `data set ${datasetId}: preprocessed/X_test.csv has ${read.rows.length} valid rows for ${y.length} labels; run etl again`,
    );
  }
  return { rows: read.rows, y };
}

/** Date|Location of every training row of a data set: the rows a model trained on it has seen. */
export async function trainingKeys(store: ArtifactStore, datasetId: string): Promise<Set<string>> {
  const lines = (await text(store, `datasets/${datasetId}/preprocessed/X_train.csv`)).split('\n');
  const keys = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const first = line.indexOf(',');
    const second = line.indexOf(',', first + 1);
    if (second > 0) keys.add(`${line.slice(0, first)}|${line.slice(first + 1, second)}`);
  }
  return keys;
}
