import { IntegrityError } from '../errors.js';
import { sha256 } from '../hash.js';
import type { InputsPipeline } from '../features/pipeline.js';
import type { TreeEnsemble } from '../models/trees.js';
import { validateEnsemble } from '../models/trees.js';
import type { ArtifactStore } from '../store/types.js';

export const BUNDLE_FILES = {
  trees: 'trees.json',
  pipeline: 'inputs_pipeline.json',
  metadata: 'metadata.json',
} as const;

/** What a model version records about itself (metadata.json). */
export interface BundleMetadata {
  model: string;
  version: number;
  kind: 'xgboost' | 'cart';
  featureNames: string[];
  threshold: number;
  params: Record<string, unknown>;
  datasetId: string;
  runId: string;
  metrics: Record<string, number>;
  engine: string;
  engineModelFile: string | null;
  libraries: Record<string, string>;
  createdAt: string;
  /** sha256 and size of every other file of the bundle. */
  files: Record<string, { sha256: string; size: number }>;
}

export interface Bundle {
  metadata: BundleMetadata;
  trees: TreeEnsemble;
  pipeline: InputsPipeline;
}

export function bundlePrefix(model: string, version: number): string {
  return `models/${model}/${version}`;
}

/**
 * Writes every file, metadata last (the marker: a bundle without metadata.json is not published);
 * returns the sha256 of metadata.json, which pins all the others.
 */
export async function writeBundle(
  store: ArtifactStore,
  prefix: string,
  parts: {
    trees: TreeEnsemble;
    pipeline: InputsPipeline;
    engineModel: { file: string; bytes: Uint8Array } | null;
    metadata: Omit<BundleMetadata, 'files' | 'engineModelFile'>;
  },
): Promise<{ sha256: string }> {
  const files: BundleMetadata['files'] = {};
  const put = async (name: string, body: string | Uint8Array) => {
    const r = await store.put(`${prefix}/${name}`, body);
    files[name] = { sha256: r.sha256, size: r.size };
  };
  await put(BUNDLE_FILES.trees, JSON.stringify(parts.trees));
  await put(BUNDLE_FILES.pipeline, JSON.stringify(parts.pipeline, null, 1));
  if (parts.engineModel) await put(parts.engineModel.file, parts.engineModel.bytes);
  const metadata: BundleMetadata = { ...parts.metadata, engineModelFile: parts.engineModel?.file ?? null, files };
  const r = await store.put(`${prefix}/${BUNDLE_FILES.metadata}`, `${JSON.stringify(metadata, null, 1)}\n`);
  return { sha256: r.sha256 };
}

/** Reads a bundle and checks every file against the sha256 recorded for it; a changed file is an IntegrityError. */
export async function readBundle(
  store: ArtifactStore,
  prefix: string,
  expectedSha256: string,
  label: string,
): Promise<Bundle> {
  const metaBytes = await store.get(`${prefix}/${BUNDLE_FILES.metadata}`);
  const fix = `the bundle at ${store.url}/${prefix} was changed after registration; restore it, or register a new version and move the alias to it`;
  if (sha256(metaBytes) !== expectedSha256)
    throw new IntegrityError(`${label}: metadata.json does not match its recorded sha256; ${fix}`);
  const metadata = JSON.parse(metaBytes.toString('utf8')) as BundleMetadata;
  const verified = async (name: string) => {
    const bytes = await store.get(`${prefix}/${name}`);
    const want = metadata.files[name];
    if (!want || sha256(bytes) !== want.sha256)
      throw new IntegrityError(`${label}: ${name} does not match its recorded sha256; ${fix}`);
    return bytes;
  };
  const trees = JSON.parse((await verified(BUNDLE_FILES.trees)).toString('utf8')) as unknown;
  const pipeline = JSON.parse((await verified(BUNDLE_FILES.pipeline)).toString('utf8')) as InputsPipeline;
  if (metadata.engineModelFile) await verified(metadata.engineModelFile);
  return { metadata, trees: validateEnsemble(trees), pipeline };
}
