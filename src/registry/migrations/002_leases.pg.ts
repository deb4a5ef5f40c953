/** Version 2 on PostgreSQL: the lease columns of 002_leases.ts (no older holders to backfill there). Never edit once released. */
export const postgres = `
ALTER TABLE runs ADD COLUMN heartbeat_at text COLLATE "C";
ALTER TABLE runs ADD COLUMN lease_expires_at text COLLATE "C";
ALTER TABLE locks ADD COLUMN heartbeat_at text COLLATE "C";
ALTER TABLE locks ADD COLUMN lease_expires_at text COLLATE "C";
`;
