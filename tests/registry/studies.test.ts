import { expect, it } from 'vitest';
import { describeBackends } from './backends.js';
import { fakeClock, open } from './helpers.js';

const settings = { search: 'random', trials: '3' };
const payloads = ['{"a":0}', '{"a":1}', '{"a":2}'];

describeBackends('studies', (backend) => {
  it('the first worker creates a study with its trials; later ones join it as it is', async () => {
    const file = await backend.fresh();
    const a = await open(file, { hostname: 'host-a' });
    const b = await open(file, { hostname: 'host-b' });
    const ra = await a.startRun({ experiment: 'e', name: 'optimize' });
    const rb = await b.startRun({ experiment: 'e', name: 'optimize' });
    const first = await a.openStudy({ name: 'nightly', settings, payloads, runId: ra.id });
    expect(first.created).toBe(true);
    expect(first.study).toMatchObject({
      name: 'nightly',
      settings,
      trials: 3,
      state: 'OPEN',
      createdByRunId: ra.id,
      counts: { PENDING: 3, RUNNING: 0, DONE: 0, FAILED: 0 },
    });
    const second = await b.openStudy({ name: 'nightly', settings: { search: 'grid' }, payloads: ['{}'], runId: rb.id });
    expect(second.created).toBe(false);
    expect(second.study.settings).toEqual(settings);
    expect(second.study.trials).toBe(3);
    expect(await b.getStudy('other')).toBeNull();
    await a.close();
    await b.close();
  });

  it('hands each trial to one worker, and exactly one worker finishes the study', async () => {
    const file = await backend.fresh();
    const a = await open(file, { hostname: 'host-a' });
    const b = await open(file, { hostname: 'host-b' });
    const ra = await a.startRun({ experiment: 'e', name: 'optimize' });
    const rb = await b.startRun({ experiment: 'e', name: 'optimize' });
    await a.openStudy({ name: 's', settings, payloads, runId: ra.id });
    // claims made at once never share a trial
    const claims = await Promise.all([
      a.claimTrial('s', ra.id),
      b.claimTrial('s', rb.id),
      a.claimTrial('s', ra.id),
      b.claimTrial('s', rb.id),
    ]);
    const got = claims.filter((c) => c !== null);
    expect(got.map((c) => c.index).sort()).toEqual([0, 1, 2]);
    expect(got.map((c) => c.payload).sort()).toEqual(payloads);
    expect(claims.filter((c) => c === null)).toHaveLength(1);
    expect(await a.claimStudyFinish('s', ra.id)).toEqual({ kind: 'wait', reason: '3 of 3 trials have not ended' });

    const trials = await a.listStudyTrials('s');
    for (const t of trials) {
      const [who, run] = t.hostname === 'host-a' ? [a, ra] : [b, rb];
      expect(t).toMatchObject({ state: 'RUNNING', attempts: 1, workerRunId: run.id });
      const trialRun = await who.startRun({ experiment: 'e', name: `trial-${t.index}`, parentRunId: run.id });
      await who.finishRun(trialRun.id, { status: 'FINISHED' });
      expect(
        await who.settleTrial('s', t.index, run.id, { state: 'DONE', runId: trialRun.id, score: t.index / 10 }),
      ).toBe(true);
    }
    // a settled trial cannot be settled again
    expect(await a.settleTrial('s', 0, ra.id, { state: 'FAILED', runId: null, error: 'x' })).toBe(false);
    const finish = await Promise.all([a.claimStudyFinish('s', ra.id), b.claimStudyFinish('s', rb.id)]);
    expect(finish.filter((f) => f.kind === 'mine')).toHaveLength(1);
    expect(finish.filter((f) => f.kind === 'wait')[0]).toMatchObject({
      reason: expect.stringMatching(/finishing the study/),
    });
    const finisher = finish[0]!.kind === 'mine' ? ([a, ra] as const) : ([b, rb] as const);
    const loser = finisher[0] === a ? ([b, rb] as const) : ([a, ra] as const);
    expect(await loser[0].finishStudy('s', loser[1].id, '{}')).toBe(false);
    expect(await finisher[0].finishStudy('s', finisher[1].id, '{"version":1}')).toBe(true);
    expect(await loser[0].claimStudyFinish('s', loser[1].id)).toEqual({ kind: 'done', result: '{"version":1}' });
    const study = await a.getStudy('s');
    expect(study).toMatchObject({ state: 'DONE', result: '{"version":1}', counts: { DONE: 3 } });
    expect((await a.listStudyTrials('s')).map((t) => t.score)).toEqual([0, 0.1, 0.2]);
    await a.close();
    await b.close();
  });

  it('a trial held by a worker whose lease ran out is claimed again, and so is the finishing', async () => {
    const file = await backend.fresh();
    const clock = fakeClock();
    const dead = await open(file, { hostname: 'host-a', now: clock.now, leaseMs: 30_000 });
    const live = await open(file, { hostname: 'host-b', now: clock.now, leaseMs: 30_000 });
    const rd = await dead.startRun({ experiment: 'e', name: 'optimize' });
    const rl = await live.startRun({ experiment: 'e', name: 'optimize' });
    await dead.openStudy({ name: 's', settings, payloads: ['{"a":0}'], runId: rd.id });
    expect(await dead.claimTrial('s', rd.id)).toMatchObject({ index: 0, attempt: 1 });
    // the holder stops renewing (killed); while its lease lasts nobody else gets the trial
    await dead.close();
    expect(await live.claimTrial('s', rl.id)).toBeNull();
    clock.advance(31_000);
    await live.heartbeat();
    expect(await live.claimTrial('s', rl.id)).toMatchObject({ index: 0, attempt: 2 });
    expect((await live.getRun(rd.id)).status).toBe('FAILED');
    // a worker whose run was failed cannot claim anything more
    await expect(live.claimTrial('s', rd.id)).rejects.toThrow(
      new RegExp(`worker run ${rd.id} is FAILED \\(heartbeat stopped .*\\), so it can no longer claim work in a study`),
    );
    // the dead worker's late report is refused
    const late = await open(file, { hostname: 'host-a', now: clock.now });
    expect(await late.settleTrial('s', 0, rd.id, { state: 'DONE', runId: null, score: 1 })).toBe(false);
    expect(await live.settleTrial('s', 0, rl.id, { state: 'DONE', runId: null, score: 0.5 })).toBe(true);

    // a finisher that dies loses the claim too
    const rf = await late.startRun({ experiment: 'e', name: 'optimize' });
    expect(await late.claimStudyFinish('s', rf.id)).toEqual({ kind: 'mine' });
    expect(await live.claimStudyFinish('s', rl.id)).toMatchObject({ kind: 'wait' });
    await late.close();
    clock.advance(31_000);
    await live.heartbeat();
    expect(await live.claimStudyFinish('s', rl.id)).toEqual({ kind: 'mine' });
    expect(await live.finishStudy('s', rl.id, '{}')).toBe(true);
    await live.close();
  });
});
