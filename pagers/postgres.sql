-- postgres.sql - the tables of the postgres pager (SPEC §9) on the shared
-- PostgreSQL server.  Embedded at build time; run on first use, inside a
-- transaction holding an advisory lock, so that machines starting at the
-- same moment do not race.  @pages@ and @applied@ stand for the table
-- names (options.table and the same with "_applied"), quoted.

-- One row per page: the authority's copy, as canonical JSON text (not
-- jsonb, which would reorder keys), its §2.2 hash, and a CRC-32 of the
-- whole text ("digest") so that a client can tell "not modified" from a
-- payload-only change, which the hash does not cover.  version counts
-- stored changes.  page is NULL only while a first push holds the row.
CREATE TABLE IF NOT EXISTS @pages@ (
	ns         text NOT NULL,
	key        text NOT NULL,
	page       text,
	hash       text,
	digest     text,
	version    bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (ns, key)
);

-- The change sets already applied, so that a push retried after a lost
-- answer is a no-op.  Rows may be pruned by age once no machine can
-- still be retrying them (e.g. older than 90 days).
CREATE TABLE IF NOT EXISTS @applied@ (
	changes_id text PRIMARY KEY,
	ns         text NOT NULL,
	key        text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
