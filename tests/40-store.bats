#!/usr/bin/env bats
# The SQLite store: schema, foreign files, locking, check.

load helpers

@test "store: the schema carries flokvm's application id and version" {
	fk write user k <<<'{"entries":[]}'
	[ "$(sqlite3 "$DB" 'PRAGMA application_id')" = 1718381430 ]
	[ "$(sqlite3 "$DB" 'PRAGMA user_version')" = 1 ]
}

@test "store: a foreign SQLite file is refused with 1 and left untouched" {
	sqlite3 "$DB" 'CREATE TABLE mine (x); INSERT INTO mine VALUES (42);'
	sum=$(sha256sum "$DB")
	run -1 --separate-stderr fk write user k <<<'{"entries":[]}'
	[[ "$stderr" == "flokvm: write: "*"'$DB' is not a flokvm database (application_id 0); refusing to touch it" ]]
	run -1 fk read_sync user k
	run -1 fk ls user
	[ "$(sha256sum "$DB")" = "$sum" ]
	[ ! -e "$DB-wal" ]
}

@test "store: a file that is not SQLite is refused with 1 and left untouched" {
	echo "just some text, long enough to look like a file header....................." >"$DB"
	sum=$(sha256sum "$DB")
	run -1 --separate-stderr fk write user k <<<'{"entries":[]}'
	[[ "$stderr" == *"is not a flokvm database (not an SQLite file)"* ]]
	[ "$(sha256sum "$DB")" = "$sum" ]
}

@test "store: a newer schema version is refused with 1" {
	fk write user k <<<'{"entries":[]}'
	sqlite3 "$DB" 'PRAGMA user_version = 99'
	run -1 --separate-stderr fk read_sync user k
	[[ "$stderr" == *"has schema version 99, newer than this flokvm's 1"* ]]
}

@test "store: a database locked past the busy timeout exits 75 and loses nothing" {
	fk write user k <<<'{"entries":[],"v":1}'
	before=$(snapshot)
	# Another process holds the write lock for two seconds.
	sqlite3 "$DB" 'BEGIN IMMEDIATE; UPDATE pages SET seq = seq; SELECT 1;' \
		'.shell sleep 2' 'COMMIT;' >/dev/null &
	sleep 0.5
	FLOKVM_BUSY_TIMEOUT_MS=100 run -75 --separate-stderr fk write user k <<<'{"entries":[],"v":2}'
	[[ "$stderr" == *"database '$DB' is locked by another process (waited 100 ms); try again" ]]
	wait
	[ "$(snapshot)" = "$before" ]
	run -0 fk write user k <<<'{"entries":[],"v":2}'
}

@test "store: readers are not blocked by a writer holding the lock" {
	fk write user k <<<'{"entries":[]}'
	sqlite3 "$DB" 'BEGIN IMMEDIATE; UPDATE pages SET seq = seq; SELECT 1;' \
		'.shell sleep 1' 'COMMIT;' >/dev/null &
	sleep 0.3
	FLOKVM_BUSY_TIMEOUT_MS=100 run -0 fk read_sync user k
	wait
}

@test "check: a healthy database passes; missing database is fine" {
	run -0 fk check
	[ "$output" = "" ]
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	run -0 fk check
	[ "$output" = "" ]
}

@test "check: a tampered page and hash are reported, exit 1" {
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	fk write user j <<<'{"entries":[]}'
	sqlite3 "$DB" "UPDATE pages SET hash = '5' WHERE key = 'k'; UPDATE pages SET page = '{\"_uuid\":' WHERE key = 'j'"
	run -1 --separate-stderr fk check
	[[ "${lines[0]}" == '{"ns":"user","key":"j","problem":"stored page is not valid JSON: '* ]]
	[ "${lines[1]}" = '{"ns":"user","key":"k","problem":"stored hash 5 differs from the computed hash 2517541033"}' ]
	[ "$stderr" = "flokvm: check: 2 problems found in '$DB'" ]
}

@test "store: the change log keeps sequence numbers unique after trimming" {
	export FLOKVM_LOG_MAX_ROWS=2
	for i in 1 2 3 4 5; do fk write user k <<<"{\"entries\":[],\"v\":$i}"; done
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM changes')" = 2 ]
	sqlite3 "$DB" 'DELETE FROM changes'
	run -0 fk write --print user k <<<'{"entries":[],"v":6}'
	[[ "$output" == *'"seq":6}' ]]
}
