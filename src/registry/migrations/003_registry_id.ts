/**
 * Version 3: a persistent random id for the registry, which a store records as its owner (so a second
 * registry pointed at the same store is noticed). Never edit once released.
 */
export const sql = `
CREATE TABLE registry_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO registry_meta (key, value) VALUES ('registry_id', lower(hex(randomblob(16))));
`;
