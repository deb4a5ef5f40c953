/** Version 3 on PostgreSQL: the registry's persistent random id, as 003_registry_id.ts. Never edit once released. */
export const postgres = `
CREATE TABLE registry_meta (
  key text COLLATE "C" PRIMARY KEY,
  value text COLLATE "C" NOT NULL
);
INSERT INTO registry_meta (key, value) VALUES ('registry_id', replace(gen_random_uuid()::text, '-', ''));
`;
