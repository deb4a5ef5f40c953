import type pg from 'pg';
import { ALIAS_CHANNEL, createPgClient, unreachable } from './connection.js';
import type { Connection } from './connection.js';

/** An alias that moved, as the registry announces it. */
export interface AliasMove {
  model: string;
  alias: string;
  version: number | null;
}

export interface AliasWatchEvents {
  /** An alias moved; null when moves may have been missed (the watch reconnected): look at every alias again. */
  change(move: AliasMove | null): void;
  /** The database became unreachable (with why) or reachable again (null). */
  reachable?(problem: string | null): void;
}

export interface AliasWatchOptions {
  /** First wait before reconnecting; doubled after each failure up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often the connection is asked whether the database still answers: a stalled network closes nothing. */
  pingMs?: number;
  /** How long connecting, LISTEN and each ping may take before the database counts as unreachable. */
  timeoutMs?: number;
}

/** Stops watching and closes the watch's connection. */
export type StopWatching = () => Promise<void>;

function parseMove(payload: string | undefined): AliasMove | null {
  try {
    const m = JSON.parse(payload ?? '') as Partial<AliasMove>;
    if (typeof m.model === 'string' && typeof m.alias === 'string') {
      return { model: m.model, alias: m.alias, version: typeof m.version === 'number' ? m.version : null };
    }
  } catch {
    // Not ours (another tool on the same channel): treat it as "something moved".
  }
  return null;
}

/** `work`, or a rejection once `ms` have passed without an answer. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the database did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Listens for alias moves on a connection of its own (PostgreSQL LISTEN/NOTIFY); when it drops, reconnects
 * with a growing wait and says so through `reachable`. A SQLite registry announces nothing: a no-op.
 */
export async function watchAliases(
  conn: Connection,
  events: AliasWatchEvents,
  opts: AliasWatchOptions = {},
): Promise<StopWatching> {
  const { location } = conn;
  if (location.backend !== 'postgresql') return async () => {};
  const url = location.url;
  const minMs = opts.minBackoffMs ?? 250;
  const maxMs = opts.maxBackoffMs ?? 5000;
  const pingMs = opts.pingMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  let client: pg.Client | null = null;
  let ping: NodeJS.Timeout | null = null;
  let stopped = false;
  let failures = 0;
  let down = false;
  let timer: NodeJS.Timeout | null = null;

  const lost = (c: pg.Client, err: unknown) => {
    if (client !== c) return; // already handled (both 'error' and 'end' come)
    client = null;
    if (ping) clearInterval(ping);
    ping = null;
    // Not end(): on a stalled connection its goodbye would wait as long as the network does.
    c.connection.stream.destroy();
    if (stopped) return;
    if (!down) {
      down = true;
      events.reachable?.(unreachable(url, err).message);
    }
    const wait = Math.min(maxMs, minMs * 2 ** failures);
    failures++;
    timer = setTimeout(() => void connect(), wait);
    timer.unref();
  };

  const connect = async (): Promise<void> => {
    timer = null;
    if (stopped) return;
    const c = createPgClient(url);
    client = c;
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('the connection was closed')));
    c.on('notification', (n) => {
      if (n.channel === ALIAS_CHANNEL) events.change(parseMove(n.payload));
    });
    try {
      await within(c.connect(), timeoutMs);
      await within(c.query(`LISTEN ${ALIAS_CHANNEL}`), timeoutMs);
    } catch (err) {
      lost(c, err);
      return;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    failures = 0;
    let pinging = false;
    ping = setInterval(() => {
      if (pinging) return;
      pinging = true;
      within(c.query('SELECT 1'), timeoutMs)
        .catch((err: unknown) => lost(c, err))
        .finally(() => (pinging = false));
    }, pingMs);
    ping.unref();
    if (down) {
      down = false;
      events.reachable?.(null);
      // Moves made while it was down were announced to nobody.
      events.change(null);
    }
  };

  await connect();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (ping) clearInterval(ping);
    const c = client;
    client = null;
    await c?.end().catch(() => {});
  };
}
