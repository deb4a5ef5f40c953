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
  let client: pg.Client | null = null;
  let stopped = false;
  let failures = 0;
  let down = false;
  let timer: NodeJS.Timeout | null = null;

  const lost = (c: pg.Client, err: unknown) => {
    if (client !== c) return; // already handled (both 'error' and 'end' come)
    client = null;
    void c.end().catch(() => {});
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
      await c.connect();
      await c.query(`LISTEN ${ALIAS_CHANNEL}`);
    } catch (err) {
      lost(c, err);
      return;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    failures = 0;
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
    const c = client;
    client = null;
    await c?.end().catch(() => {});
  };
}
