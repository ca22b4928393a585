-- schema.sql - the one definition of flokvm's database (SPEC §5).
--
-- Compiled into the binary at build time and applied inside BEGIN IMMEDIATE
-- to an empty database.  A later schema bumps user_version and adds a
-- migration step in store/db.c; this file always describes the newest one.

PRAGMA application_id = 1718381430; -- 0x666c6b76, "flkv"
PRAGMA user_version = 1;

-- The cached pages.  A rowid table with a unique index rather than a
-- WITHOUT ROWID table: with ~1 KiB values the latter packs few rows per
-- b-tree page and is several times slower to fill.
CREATE TABLE pages (
	ns      TEXT NOT NULL,
	key     TEXT NOT NULL,
	hash    TEXT NOT NULL,     -- the page's _hash
	seq     INTEGER NOT NULL,  -- revision: the change-log seq of its last change
	entries INTEGER NOT NULL,  -- number of entries, for ls
	page    TEXT NOT NULL,     -- the user-visible page, canonical JSON text
	sync    TEXT,              -- "__" bookkeeping (__changes, __changes_id, __base) or NULL
	auth    INTEGER NOT NULL DEFAULT 0, -- meta.auth_clock when an authority copy was last applied
	UNIQUE (ns, key)
);

-- Counters.  auth_clock orders authority copies: a pager call notes the
-- clock before it starts, and its answer is discarded if the page took
-- another authority copy since (a slow read cannot undo a newer sync).
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
INSERT INTO meta (name, value) VALUES ('auth_clock', 0);

-- The unsynced queue (SPEC §7): pages with local changes not yet pushed.
CREATE TABLE unsynced (
	ns    TEXT NOT NULL,
	key   TEXT NOT NULL,
	phase INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (ns, key)
);

-- The change log.  AUTOINCREMENT keeps sequence numbers from ever being
-- reused, even after the table is trimmed to empty.
CREATE TABLE changes (
	seq  INTEGER PRIMARY KEY AUTOINCREMENT,
	ns   TEXT NOT NULL,
	key  TEXT NOT NULL,
	kind TEXT NOT NULL,  -- 'write', 'pager', 'invalidate'
	hash TEXT            -- the hash after the change, NULL when dropped
);

-- Live watchers.  Liveness is an flock on the file named by lock, never
-- the pid alone (pids are reused and differ between containers).
CREATE TABLE watchers (
	id      INTEGER PRIMARY KEY,
	ns      TEXT NOT NULL,
	key     TEXT,            -- NULL: the whole namespace
	lock    TEXT NOT NULL,   -- the watcher's lock file beside the database
	pid     INTEGER NOT NULL,
	started INTEGER NOT NULL -- epoch milliseconds
);
CREATE INDEX watchers_by_page ON watchers (ns, key);
