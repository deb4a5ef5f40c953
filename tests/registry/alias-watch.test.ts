import { expect, it, onTestFinished } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import type { AliasMove, Registry } from '../../src/registry/index.js';
import { stallProxy } from '../helpers/stall-proxy.js';
import { describeBackends } from './backends.js';
import { SHA_A, open, seedRunAndDataset } from './helpers.js';

const M = 'Rain_dataset_model_prod';
const who = { actor: 'test', reason: 'watch test' };

async function withVersions(registry: Registry, count: number): Promise<void> {
  const ids = await seedRunAndDataset(registry);
  for (let i = 0; i < count; i++) {
    await registry.createModelVersion({
      model: M,
      ...ids,
      bundleUri: `file:///m/${i + 1}`,
      bundleSha256: SHA_A,
      engine: 'wasm',
      params: {},
      metrics: {},
    });
  }
}

async function until(probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describeBackends('alias watch', (backend) => {
  it('hears every committed move from another connection (PostgreSQL), and nothing on SQLite', async () => {
    const target = await backend.fresh();
    const writer = await open(target);
    const watcher = await open(target);
    await withVersions(writer, 2);
    const moves: Array<AliasMove | null> = [];
    const stop = await watcher.watchAliases!({ change: (m) => moves.push(m) });
    try {
      await writer.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
      // A move refused by the compare-and-set rolls back, and announces nothing.
      await expect(writer.setAlias({ model: M, alias: 'prod_best', version: 2, expected: 2, ...who })).rejects.toThrow(
        ConflictError,
      );
      // Unchanged: nothing to announce either.
      await writer.setAlias({ model: M, alias: 'prod_best', version: 1, ...who });
      await writer.setAlias({ model: M, alias: 'prod_best', version: 2, ...who });
      await writer.deleteAlias({ model: M, alias: 'prod_best', ...who });
      if (backend.name === 'postgresql') {
        await until(() => moves.length >= 3);
        expect(moves).toEqual([
          { model: M, alias: 'prod_best', version: 1 },
          { model: M, alias: 'prod_best', version: 2 },
          { model: M, alias: 'prod_best', version: null },
        ]);
      } else {
        // A round trip through the registry after the moves: any announcement would have come by now.
        await watcher.getAlias(M, 'prod_best');
        await new Promise((r) => setImmediate(r));
        expect(moves).toEqual([]);
      }
    } finally {
      await stop();
    }
  });

  // Only PostgreSQL has a connection to lose: not a test to show as skipped on SQLite.
  if (backend.name === 'postgresql')
    it('reconnects after its connection is terminated, saying so, and hears moves again', async () => {
      const target = await backend.fresh();
      const writer = await open(target);
      const watcher = await open(target);
      await withVersions(writer, 2);
      const moves: Array<AliasMove | null> = [];
      const states: Array<string | null> = [];
      const stop = await watcher.watchAliases!(
        { change: (m) => moves.push(m), reachable: (p) => states.push(p) },
        { minBackoffMs: 20, maxBackoffMs: 200 },
      );
      try {
        const listeners = () =>
          backend.exec(
            target,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN rainops_alias'",
          );
        const [before] = await listeners();
        expect(before).toBeDefined();
        await backend.exec(target, 'SELECT pg_terminate_backend(?)', [before!.pid]);
        await until(() => states.length >= 2);
        expect(states[0]).toMatch(/^cannot use the registry database .*; check that PostgreSQL is running/);
        expect(states[1]).toBeNull();
        // Moves made while it was down reached nobody: it asks for a look at everything.
        expect(moves).toEqual([null]);
        const [after] = await listeners();
        expect(after?.pid).not.toBe(before!.pid);
        await writer.setAlias({ model: M, alias: 'prod_best', version: 2, ...who });
        await until(() => moves.length >= 2);
        expect(moves[1]).toEqual({ model: M, alias: 'prod_best', version: 2 });
      } finally {
        await stop();
      }
    });

  if (backend.name === 'postgresql')
    it('counts a database that stops answering as unreachable though no connection closed, and hears moves once it answers', async () => {
      const target = await backend.fresh();
      const writer = await open(target);
      await withVersions(writer, 2);
      const proxy = await stallProxy(target);
      onTestFinished(() => proxy.close());
      const watcher = await open(proxy.url);
      const moves: Array<AliasMove | null> = [];
      const states: Array<string | null> = [];
      const stop = await watcher.watchAliases!(
        { change: (m) => moves.push(m), reachable: (p) => states.push(p) },
        { minBackoffMs: 20, maxBackoffMs: 100, pingMs: 50, timeoutMs: 200 },
      );
      try {
        proxy.stall();
        await until(() => states.length >= 1);
        expect(states[0]).toMatch(/^cannot use the registry database .*: the database did not answer within 200 ms;/);
        // Reconnecting meanwhile: a connection that gets no answer is given up too, and another tried.
        await until(() => proxy.held() >= 2);
        expect(states).toHaveLength(1);
        proxy.resume();
        await until(() => states.length >= 2);
        expect(states[1]).toBeNull();
        expect(moves).toEqual([null]);
        await writer.setAlias({ model: M, alias: 'prod_best', version: 2, ...who });
        await until(() => moves.length >= 2);
        expect(moves[1]).toEqual({ model: M, alias: 'prod_best', version: 2 });
      } finally {
        await stop();
      }
    });
});
