import type { Db } from '../db.js';

/**
 * Version 2: leases. A RUNNING run and a lock are held only while their holder renews `lease_expires_at`
 * (a heartbeat); once it lapses, any process on any host may fail the run or take the lock.
 * Never edit once released; add 003_... instead.
 */
export const sql = `
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at TEXT;
ALTER TABLE locks ADD COLUMN heartbeat_at TEXT;
ALTER TABLE locks ADD COLUMN lease_expires_at TEXT;

-- holders written by an older rainops never renew: they keep their run and lock for one hour from the upgrade
UPDATE runs SET heartbeat_at = start_time, lease_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour')
WHERE status = 'RUNNING';
UPDATE locks SET heartbeat_at = acquired_at, lease_expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+1 hour');
`;

/** Number 2 was held by an empty placeholder for a while: a database may be past it without these columns. */
export function present(db: Db): boolean {
  const columns = db.pragma('table_info(runs)') as Array<{ name: string }>;
  return columns.some((c) => c.name === 'lease_expires_at');
}
