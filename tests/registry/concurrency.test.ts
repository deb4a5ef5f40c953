import { expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import type { Registry } from '../../src/registry/index.js';
import { SHA_A, open, seedRunAndDataset } from './helpers.js';
import { describeBackends } from './backends.js';

const M = 'Rain_dataset_model_prod';
const ROUNDS = 30;

/** Settled results as [fulfilled values, rejection reasons]. */
async function settle<T>(work: Array<Promise<T>>): Promise<[T[], unknown[]]> {
  const results = await Promise.allSettled(work);
  const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  return [won, lost];
}

// Two registries on one database are two connection pools, as two processes would have: their writes interleave.
describeBackends('concurrent writers', (backend) => {
  it('lose no metric, tag or run and create a new experiment once', async () => {
    const target = await backend.fresh();
    const a = await open(target);
    const b = await open(target);
    const shared = await a.startRun({ experiment: 'shared', name: 'both log here' });
    const work = async (registry: Registry, who: string) => {
      for (let i = 0; i < ROUNDS; i++) {
        const own = await registry.startRun({ experiment: 'fresh', name: `${who}-${i}`, tags: { who } });
        await registry.logMetric(shared.id, `${who}_loss`, 1 / (i + 1), i);
        await registry.logMetrics(shared.id, { [`${who}_f1`]: i / 100, both: i }, i);
        await registry.setTags(shared.id, { [`last_${who}`]: String(i) });
        await registry.logParams(own.id, { who, i });
        await registry.logMetric(own.id, 'f1', i / 100);
        await registry.finishRun(own.id, { status: 'FINISHED' });
      }
    };
    await Promise.all([work(a, 'a'), work(b, 'b')]);

    const fresh = (await a.listExperiments()).filter((e) => e.name === 'fresh');
    expect(fresh).toHaveLength(1);
    expect(fresh[0]?.runCount).toBe(2 * ROUNDS);
    const detail = await b.getRun(shared.id);
    for (const key of ['a_loss', 'b_loss', 'a_f1', 'b_f1']) expect(detail.metricHistory[key]).toHaveLength(ROUNDS);
    expect(detail.metricHistory['both']).toHaveLength(2 * ROUNDS);
    expect(detail.tags).toEqual({ last_a: String(ROUNDS - 1), last_b: String(ROUNDS - 1) });
    const runs = (await a.listRuns({ experiment: 'fresh' })).filter((r) => r.experiment === 'fresh');
    expect(runs).toHaveLength(2 * ROUNDS);
    for (const run of runs) {
      expect(run.status).toBe('FINISHED');
      expect(run.params).toEqual({ who: run.tags.who, i: run.name.split('-')[1] });
      expect(run.metrics.f1).toBe(Number(run.params.i) / 100);
    }
  });

  it('let exactly one of two finish a run', async () => {
    const target = await backend.fresh();
    const a = await open(target);
    const b = await open(target);
    for (let i = 0; i < 10; i++) {
      const run = await a.startRun({ experiment: 'e', name: `r${i}` });
      const [won, lost] = await settle([
        a.finishRun(run.id, { status: 'FINISHED' }),
        b.finishRun(run.id, { status: 'FAILED', error: 'b' }),
      ]);
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(ConflictError);
      expect(String(lost[0])).toMatch(/is already (FINISHED|FAILED).*only a RUNNING run can be finished/);
      const stored = await b.getRun(run.id);
      expect(stored.status).toBe(won[0]?.status);
      expect(stored.error).toBe(won[0]?.error);
      expect(stored.endTime).toBe(won[0]?.endTime);
    }
  });

  it('keep the first of two values logged for one param and refuse the other whole', async () => {
    const target = await backend.fresh();
    const a = await open(target);
    const b = await open(target);
    for (let i = 0; i < 10; i++) {
      const run = await a.startRun({ experiment: 'e', name: `r${i}` });
      // keys given in opposite orders: writers still take the rows in one order, so neither deadlocks
      const [won, lost] = await settle([
        a.logParams(run.id, { depth: 6, eta: 0.3, by: 'a' }).then(() => 'a'),
        b.logParams(run.id, { by: 'b', eta: 0.3, depth: 8 }).then(() => 'b'),
      ]);
      expect(won).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(ConflictError);
      const params = (await a.getRun(run.id)).params;
      expect(params).toEqual(
        won[0] === 'a' ? { by: 'a', depth: '6', eta: '0.3' } : { by: 'b', depth: '8', eta: '0.3' },
      );
    }
  });

  it('never lose an alias move when two move it with compare-and-set', async () => {
    const target = await backend.fresh();
    const a = await open(target);
    const b = await open(target);
    const ids = await seedRunAndDataset(a);
    for (let v = 1; v <= 3; v++) {
      await a.createModelVersion({
        model: M,
        ...ids,
        bundleUri: `file:///m/${v}`,
        bundleSha256: SHA_A,
        engine: 'wasm',
        params: {},
        metrics: {},
      });
    }
    await a.setAlias({ model: M, alias: 'prod_best', version: 1, actor: 'setup', reason: 'start' });
    const mover = async (registry: Registry, actor: string) => {
      let moved = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const seen = await registry.getAlias(M, 'prod_best');
        const next = ((seen ?? 0) % 3) + 1;
        try {
          await registry.setAlias({
            model: M,
            alias: 'prod_best',
            version: next,
            expected: seen,
            actor,
            reason: 'race',
          });
          moved++;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
      return moved;
    };
    const [byA, byB] = await Promise.all([mover(a, 'a'), mover(b, 'b')]);

    const history = (await a.aliasHistory(M, 'prod_best')).slice(1);
    expect(history).toHaveLength(byA + byB);
    expect(history.filter((h) => h.actor === 'a')).toHaveLength(byA);
    let at: number | null = 1;
    for (const move of history) {
      // every move starts where the one before it ended: none was made from a stale view
      expect(move.fromVersion).toBe(at);
      at = move.toVersion;
    }
    expect(await b.getAlias(M, 'prod_best')).toBe(at);
  });
});
