#!/usr/bin/env bats
# The postgres pager (SPEC §9, with §7's pushes and §4.2's watch) against a
# real, private PostgreSQL server started once for this file by
# tests/pg-cluster.sh.  Two or more "machines" are two or more flokvm
# databases ($BATS_TEST_TMPDIR/A.db, B.db, ...) sharing one services file.
# Each test uses its own server table (t<test number>) and NOTIFY channel
# (c<test number>), so no state leaks between tests; the tests that stop
# the server start it again in teardown.
#
# Without PostgreSQL's server programs (pg-cluster.sh exit 69) the tests
# are skipped, except under CI=true where that is a failure.

load helpers

# Keep helpers.bash's setup (HOME, XDG, DB under $BATS_TEST_TMPDIR) as
# helpers_setup and extend it.
eval "helpers_$(declare -f setup)"

PG_CLUSTER="$BATS_TEST_DIRNAME/pg-cluster.sh"

# A safety net: a hung pager call fails its test instead of the whole run.
: "${BATS_TEST_TIMEOUT:=120}"

# Generous bounds for "within a second"-style checks (SPEC §9: a change
# on another machine reaches local watchers within a second).  The
# measured delays are printed as TAP comments.
WATCH_BOUND_S=5      # a write on A shows in B's watch output
RECONNECT_BOUND_S=15 # the watch notices a stopped/started server
TIMEOUT_BOUND_S=10   # a pager call with timeout_ms 1000 gives up

setup_file() {
	# One server for the whole file, stopped and started by some tests:
	# the tests of this file must never run in parallel with each other.
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	export PG_DIR="$BATS_FILE_TMPDIR/pg"
	local rc=0 out
	out=$("$PG_CLUSTER" start "$PG_DIR" 2>"$BATS_FILE_TMPDIR/pg-start.err") || rc=$?
	if [ "$rc" -eq 69 ]; then
		if [ "${CI:-}" = true ]; then
			echo "86-postgres: PostgreSQL's server programs are not installed, and CI=true:" \
				"the postgres pager must be tested in CI (install postgresql)" >&2
			cat "$BATS_FILE_TMPDIR/pg-start.err" >&2
			return 1
		fi
		export PG_SKIP="PostgreSQL's server programs are not installed (pg-cluster.sh exit 69)"
		return 0
	fi
	if [ "$rc" -ne 0 ] || [ -z "$out" ]; then
		echo "86-postgres: pg-cluster.sh start failed (exit $rc):" >&2
		cat "$BATS_FILE_TMPDIR/pg-start.err" >&2
		return 1
	fi
	export PGCONN="$out"
}

teardown_file() {
	if [ -n "${PGCONN:-}" ]; then
		"$PG_CLUSTER" remove "$PG_DIR"
	fi
}

setup() {
	helpers_setup
	[ -z "${PG_SKIP:-}" ] || skip "$PG_SKIP"
	export FLOKVM
	T="t$BATS_TEST_NUMBER"
	CH="c$BATS_TEST_NUMBER"
	BAD_CONNINFO="host=/nonexistent-dir dbname=x"
	BG_PIDS=()
	DB="$BATS_TEST_TMPDIR/A.db" # for snapshot
	services "$(svc_json "$PGCONN")"
	svc_json "$BAD_CONNINFO" >"$BATS_TEST_TMPDIR/bad.json"
}

teardown() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${PGCONN:-}" ] && [ -z "${PG_SKIP:-}" ]; then
		pg_up || pg_start >/dev/null || true
		# the lock holder of the timeout test, if still sleeping
		pgq "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'flokvm-test-lock'" >/dev/null 2>&1 || true
	fi
}

# svc_json CONNINFO [EXTRA-OPTIONS]: the services file of every machine:
# pager pg0 on namespace "shared", this test's table and channel.
svc_json() {
	printf '{"pagers":[{"name":"pg0","namespace":"shared","options":{"type":"postgres","conninfo":"%s","table":"%s","channel":"%s","timeout_ms":5000%s}}]}\n' \
		"$(json_str "$1")" "$(json_str "$T")" "$(json_str "$CH")" "${2:-}"
}

json_str() { # json_str TEXT: TEXT with " and \ escaped for a JSON string
	local s=${1//\\/\\\\}
	printf '%s' "${s//\"/\\\"}"
}

# on M ARGS...: flokvm on machine M (database M.db), default services.
on() {
	local m=$1
	shift
	"$FLOKVM" --db "$BATS_TEST_TMPDIR/$m.db" "$@"
}

# on_t M ARGS...: `on` under timeout(1), for calls that could hang.
on_t() {
	local m=$1
	shift
	timeout 60 "$FLOKVM" --db "$BATS_TEST_TMPDIR/$m.db" "$@"
}

# on_bad M ARGS...: flokvm on machine M with a conninfo that cannot connect.
on_bad() {
	local m=$1
	shift
	"$FLOKVM" --db "$BATS_TEST_TMPDIR/$m.db" --services "$BATS_TEST_TMPDIR/bad.json" "$@"
}

# pgq SQL [NAME=VALUE...]: one query on the server, unaligned, tuples only.
# Values are psql variables, to be used as :'NAME' (quoted by psql).
pgq() {
	local sql=$1 a args=()
	shift
	for a in "$@"; do args+=(-v "$a"); done
	psql "$PGCONN" -X -Atq -v ON_ERROR_STOP=1 "${args[@]}" <<<"$sql"
}

pg_up() {
	psql "$PGCONN" -X -Atqc 'SELECT 1' >/dev/null 2>&1
}

pg_stop() {
	"$PG_CLUSTER" stop "$PG_DIR"
	! pg_up
}

# pg_start: start the stopped server again; it must keep its conninfo.
pg_start() {
	local out
	out=$("$PG_CLUSTER" start "$PG_DIR") || return 1
	[ "$out" = "$PGCONN" ] || { echo "restart changed the conninfo: $out" >&2; return 1; }
}

# srv_uuids KEY [NS]: the server copy's entry _uuids, sorted, comma-separated.
srv_uuids() {
	pgq "SELECT coalesce(string_agg(e->>'_uuid', ',' ORDER BY e->>'_uuid'), '')
	     FROM $T, jsonb_array_elements(page::jsonb->'entries') AS e
	     WHERE ns = :'ns' AND key = :'k'" "k=$1" "ns=${2:-shared}"
}

# srv_col KEY COLUMN [NS]: one column of the server row ("" if no row).
srv_col() {
	pgq "SELECT $2 FROM $T WHERE ns = :'ns' AND key = :'k'" "k=$1" "ns=${3:-shared}"
}

# srv_entry KEY UUID FIELD: one field of one entry of the server copy.
srv_entry() {
	pgq "SELECT e->>:'f' FROM $T, jsonb_array_elements(page::jsonb->'entries') AS e
	     WHERE ns = 'shared' AND key = :'k' AND e->>'_uuid' = :'u'" "k=$1" "u=$2" "f=$3"
}

srv_rows() { # number of rows of this test's table (0 if not created yet)
	if [ "$(pgq "SELECT to_regclass('$T') IS NULL")" = t ]; then
		echo 0
	else
		pgq "SELECT count(*) FROM $T"
	fi
}

# page_of M KEY [NS]: machine M's page of KEY, as read_sync prints it.
# A failure or a missing page prints a message naming M, so that two
# failures never compare equal.
page_of() {
	local line re='^\{"event":"read_res","ns":"([^"\\]|\\.)*","key":"([^"\\]|\\.)*","page":(.*),"seq":[0-9]+\}$'
	line=$(on "$1" read_sync "${3:-shared}" "$2") || { echo "page_of: read_sync on $1 failed"; return 1; }
	[[ $line =~ $re ]] || { echo "page_of: unexpected line on $1: $line"; return 1; }
	[ "${BASH_REMATCH[3]}" != '{}' ] || { echo "page_of: $1 has no page $2"; return 1; }
	printf '%s\n' "${BASH_REMATCH[3]}"
}

# uuids: the sorted entry _uuids of the page JSON (or read_res line) on stdin.
uuids() {
	python3 -c 'import json, sys
v = json.loads(sys.stdin.readline())
p = v.get("page", v) if "event" in v else v
print(",".join(sorted(e["_uuid"] for e in p.get("entries", []))))'
}

# entry_field FIELD UUID: one field of one entry of the page JSON on stdin.
entry_field() {
	python3 -c 'import json, sys
p = json.loads(sys.stdin.readline())
print([e for e in p["entries"] if e["_uuid"] == sys.argv[2]][0][sys.argv[1]])' "$1" "$2"
}

# ls_field M KEY FIELD: hash / unsynced / seq / entries of KEY as M's ls shows it.
# A key M does not have prints a message naming M, never "".
ls_field() {
	local line
	line=$(on "$1" ls shared | grep -F "\"key\":\"$2\"") || { echo "ls_field: no key $2 on $1"; return 1; }
	sed -E "s/.*\"$3\":(\"([^\"]*)\"|([a-z0-9]+))[,}].*/\\2\\3/" <<<"$line"
}

# wait_up_to SECONDS COMMAND...: polls COMMAND every 10 ms (SECONDS may
# be a decimal).
wait_up_to() {
	local end=$(($(date +%s%N) + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1e9 }')))
	shift
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.01
	done
	"$@" && return 0
	echo "timed out waiting for: $*" >&2
	return 1
}

has_line() { # has_line FILE SUBSTRING
	grep -qF -- "$2" "$1" 2>/dev/null
}

ms_since() { # ms_since START_NS
	echo $((($(date +%s%N) - $1) / 1000000))
}

# watch_b OUT ERR ARGS...: starts `watch ARGS` on machine B in the background.
watch_b() {
	local out=$1 err=$2
	shift 2
	"$FLOKVM" --db "$BATS_TEST_TMPDIR/B.db" watch --timeout 120 "$@" >"$out" 2>"$err" 3>&- &
	WPID=$!
	BG_PIDS+=("$WPID")
}

# warm_up OUT: writes page "probe" on A until B's namespace watch (output
# OUT) shows it, so the watch is known to be LISTENing before the
# measured writes.
warm_up() {
	local i
	for i in $(seq 1 50); do
		on A write shared probe <<<"{\"entries\":[],\"n\":$i}"
		if wait_up_to 0.2 has_line "$1" '"key":"probe"'; then
			return 0
		fi
	done 2>/dev/null
	echo "B's watch never showed A's probe writes" >&2
	return 1
}

# --- configuration -----------------------------------------------------

@test "postgres: pagers lists type postgres; a name postgres0 means type postgres" {
	run -0 on A pagers
	[ "$output" = '{"name":"pg0","namespace":"shared","type":"postgres","readonly":false}' ]
	services '{"pagers":[{"name":"postgres0","namespace":"shared","options":{}}]}'
	run -0 on A pagers
	[ "$output" = '{"name":"postgres0","namespace":"shared","type":"postgres","readonly":false}' ]
	[ ! -e "$BATS_TEST_TMPDIR/A.db" ]
}

@test "postgres: bad options exit 65 naming the option, and store nothing" {
	services "$(svc_json "$PGCONN" | sed 's/"timeout_ms":5000/"timeout_ms":"x"/')"
	run -65 --separate-stderr on A read_sync shared k
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *timeout_ms* ]]
	run -65 --separate-stderr on A write shared k <<<'{"entries":[]}'
	[[ "$stderr" == *timeout_ms* ]]
	services "$(svc_json "$PGCONN" | sed "s/\"table\":\"$T\"/\"table\":\"\"/")"
	run -65 --separate-stderr on A read_sync shared k
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *table* ]]
	# "_applied" must still fit in PostgreSQL's 63-byte names (man page:
	# 1 to 55 bytes)
	long=$(printf 'x%.0s' $(seq 1 56))
	services "$(svc_json "$PGCONN" | sed "s/\"table\":\"$T\"/\"table\":\"$long\"/")"
	run -65 --separate-stderr on A read_sync shared k
	[[ "$stderr" == *table* ]]
	[ ! -e "$BATS_TEST_TMPDIR/A.db" ]
	[ "$(pgq "SELECT count(*) FROM pg_class WHERE relname IN ('$T', '${T}_applied')")" = 0 ]
}

@test "postgres: defaults: empty conninfo uses PG* variables, table flokvm_pages" {
	services '{"pagers":[{"name":"postgres0","namespace":"shared","options":{}}]}'
	[[ "$PGCONN" =~ host=([^ ]+) ]]
	export PGHOST="${BASH_REMATCH[1]}" PGUSER=postgres PGDATABASE=postgres
	run -0 --separate-stderr on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "$stderr" = "" ]
	[ "$(pgq "SELECT count(*) FROM flokvm_pages WHERE ns = 'shared' AND key = 'k'")" = 1 ]
	[ "$(ls_field A k unsynced)" = false ]
}

@test "postgres: readonly: true refuses writes (69), reads still work" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	services "$(svc_json "$PGCONN" ',"readonly":true')"
	run -69 --separate-stderr on B write shared k <<<'{"entries":[]}'
	[[ "$stderr" == *shared* ]]
	[ "$(srv_uuids k)" = a ]
	[ "$(srv_col k version)" = 1 ]
	run -0 on B read_sync shared k
	[[ "$output" == *'"_uuid":"a"'* ]]
}

# --- tables, write, read --------------------------------------------------

@test "postgres: first use creates the table and the _applied table" {
	[ "$(pgq "SELECT count(*) FROM pg_class WHERE relname IN ('$T', '${T}_applied')")" = 0 ]
	run -0 on A read_sync shared k
	[ "$output" = '{"event":"read_res","ns":"shared","key":"k","page":{},"seq":0}' ]
	[ "$(pgq "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns
	          WHERE table_name = '$T' AND column_name IN ('ns','key','hash','version','page','updated_at')")" = \
		'hash,key,ns,page,updated_at,version' ]
	[ "$(pgq "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns
	          WHERE table_name = '${T}_applied' AND column_name IN ('changes_id','ns','key','applied_at')")" = \
		'applied_at,changes_id,key,ns' ]
	# primary keys: (ns, key) and changes_id
	[ "$(pgq "SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i
	          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
	          WHERE i.indrelid = '$T'::regclass AND i.indisprimary")" = 'key,ns' ]
	[ "$(pgq "SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i
	          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
	          WHERE i.indrelid = '${T}_applied'::regclass AND i.indisprimary")" = 'changes_id' ]
}

@test "postgres: a write is pushed at once: row, hash, version 1, one applied id" {
	run -0 --separate-stderr on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"x"}]}'
	[ "$stderr" = "" ]
	[ "$(srv_uuids k)" = a ]
	[ "$(srv_entry k a v)" = x ]
	[ "$(srv_col k version)" = 1 ]
	[ "$(srv_col k hash)" = "$(ls_field A k hash)" ]
	[ "$(srv_col k 'updated_at IS NOT NULL')" = t ]
	[ "$(ls_field A k unsynced)" = false ]
	id=$(sqlite3 "$BATS_TEST_TMPDIR/A.db" "SELECT json_extract(sync, '\$.__changes_id') FROM pages WHERE key = 'k'")
	[ "$id" = "" ] # acknowledged: no bookkeeping left
	[ "$(pgq "SELECT count(*) FROM ${T}_applied WHERE ns = 'shared' AND key = 'k'")" = 1 ]
}

@test "postgres: version grows by one per stored change, not on an identical write" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "$(srv_col k version)" = 1 ]
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "$(srv_col k version)" = 1 ]
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"b","_timestamp":"2"}]}'
	[ "$(srv_col k version)" = 2 ]
	[ "$(srv_uuids k)" = a,b ]
	on B read_sync shared k >/dev/null
	on B write shared k <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	[ "$(srv_col k version)" = 3 ]
	[ "$(srv_uuids k)" = b ]
	[ "$(srv_col k hash)" = "$(ls_field B k hash)" ]
}

@test "postgres: read prints the cache, then the server's copy only if it changed" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = '{"event":"read_res","ns":"shared","key":"k","page":{},"from":"cache","seq":0}' ]
	[[ "${lines[1]}" == '{"event":"read_res","ns":"shared","key":"k","page":{"_uuid":"k","entries":[{"_uuid":"a","_timestamp":"1"}],"_hash":"'*'"},"from":"pager","seq":1}' ]]
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *'"from":"cache","seq":1}' ]]
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"b","_timestamp":"2"}]}'
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *'"entries":[{"_uuid":"a","_timestamp":"1"}]'*'"from":"cache","seq":1}' ]]
	[[ "${lines[1]}" == *'{"_uuid":"b","_timestamp":"2"}]'*'"from":"pager","seq":2}' ]]
	[ "$(ls_field B k hash)" = "$(ls_field A k hash)" ]
	[ "$(ls_field B k unsynced)" = false ]
}

@test "postgres: read_sync answers from the cache, else from the server" {
	run -0 on B read_sync shared k
	[ "$output" = '{"event":"read_res","ns":"shared","key":"k","page":{},"seq":0}' ]
	[ ! -e "$BATS_TEST_TMPDIR/B.db" ] || [ "$(on B ls shared)" = "" ]
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	run -0 on B read_sync shared k
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *'"entries":[{"_uuid":"a","_timestamp":"1"}]'* ]]
	on A write shared k <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	run -0 on B read_sync shared k
	[[ "$output" == *'"entries":[{"_uuid":"a","_timestamp":"1"}]'* ]] # the cached copy
}

@test "postgres: read drops a cached page the server no longer has" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	on B read_sync shared k >/dev/null
	pgq "DELETE FROM $T WHERE ns = 'shared' AND key = 'k'"
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[1]}" = '{"event":"read_res","ns":"shared","key":"k","page":{},"from":"pager","seq":2}' ]
	[ "$(on B ls shared)" = "" ]
}

@test "postgres: namespaces sharing one table stay apart" {
	services "{\"pagers\":[{\"name\":\"pg0\",\"namespace\":\"shared\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}},
		{\"name\":\"pg1\",\"namespace\":\"other\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}}]}"
	on A write shared k <<<'{"entries":[{"_uuid":"s","_timestamp":"1"}]}'
	on A write other k <<<'{"entries":[{"_uuid":"o","_timestamp":"1"}]}'
	[ "$(srv_uuids k shared)" = s ]
	[ "$(srv_uuids k other)" = o ]
	[ "$(srv_rows)" = 2 ]
	[ "$(on B read_sync other k | uuids)" = o ]
	[ "$(on B read_sync shared k | uuids)" = s ]
}

@test "postgres: a payload-only change (same _hash) still reaches B" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}],"title":"one"}'
	on A write shared j <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}],"title":"one"}'
	on B read_sync shared k >/dev/null
	on B read_sync shared j >/dev/null
	h=$(ls_field A k hash)
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}],"title":"two"}'
	on A write shared j <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}],"title":"two"}'
	[ "$(ls_field A k hash)" = "$h" ] # the hash does not cover the payload
	[ "$(srv_col k version)" = 2 ]
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *'"title":"two"'*'"from":"pager"'* ]]
	run -0 on B sync
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *'"key":"j",'*'"title":"two"'* ]]
}

# --- sync, merge, retried pushes -------------------------------------------

@test "postgres: an offline write is pushed by the 2nd sync, or the 1st sync --now" {
	run -0 --separate-stderr on_bad A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "k": written locally, not pushed yet: '?* ]]
	[ "$(ls_field A k unsynced)" = true ]
	[ "$(srv_rows)" = 0 ]
	run -0 on A sync
	[ "$(ls_field A k unsynced)" = true ]
	[ "$(srv_rows)" = 0 ]
	run -0 on A sync
	[ "$(ls_field A k unsynced)" = false ]
	[ "$(srv_uuids k)" = a ]
	[ "$(srv_col k hash)" = "$(ls_field A k hash)" ]

	on_bad A write shared j <<<'{"entries":[{"_uuid":"b","_timestamp":"1"}]}' 2>/dev/null
	[ "$(ls_field A j unsynced)" = true ]
	run -0 on A sync --now
	[ "$(ls_field A j unsynced)" = false ]
	[ "$(srv_uuids j)" = b ]
}

@test "postgres: server down: writes queue with a warning, sync fails, then delivers" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	on B read_sync shared k >/dev/null
	pg_stop
	run -0 --separate-stderr on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"x","_timestamp":"2"}]}'
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "k": written locally, not pushed yet: '?* ]]
	run -0 --separate-stderr on A write shared new <<<'{"entries":[{"_uuid":"n","_timestamp":"1"}]}'
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "new": written locally, not pushed yet: '?* ]]
	[ "$(ls_field A k unsynced)" = true ]
	[ "$(ls_field A new unsynced)" = true ]
	run -1 --separate-stderr on A sync --now
	[[ "$stderr" == *pg0* ]]
	run -1 --separate-stderr on A sync
	[[ "$stderr" == *pg0* ]]
	[ "$(ls_field A k unsynced)" = true ]
	# the local caches are intact and readable while the server is down
	[ "$(page_of A k | uuids)" = a,x ]
	[ "$(page_of B k | uuids)" = a ]
	pg_start
	run -0 on A sync
	run -0 on A sync
	[ "$(ls_field A k unsynced)" = false ]
	[ "$(ls_field A new unsynced)" = false ]
	[ "$(srv_uuids k)" = a,x ]
	[ "$(srv_uuids new)" = n ]
	run -0 on B read shared k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *'"from":"pager"'* ]]
	[ "$(page_of B k)" = "$(page_of A k)" ]
	[ "$(page_of B new | uuids)" = n ]
}

@test "postgres: sync refreshes every cached page in a batch and prints each change" {
	# a database of its own that logs every statement, to count them
	db="d$BATS_TEST_NUMBER"
	pgq "CREATE DATABASE $db"
	pgq "ALTER DATABASE $db SET log_statement = 'all'"
	conn="${PGCONN/dbname=postgres/dbname=$db}"
	[ "$conn" != "$PGCONN" ]
	services "$(svc_json "$conn")"
	for i in $(seq -w 1 30); do
		on A write shared "k$i" <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
		on B read_sync shared "k$i" >/dev/null
	done
	on A write shared k03 <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	on A write shared k17 <<<'{"entries":[{"_uuid":"c","_timestamp":"3"}]}'
	log="$PG_DIR/server.log"
	[ ! -f "$PG_DIR/where" ] || log="$(cat "$PG_DIR/where")/server.log"
	before=$(wc -l <"$log")
	run -0 on B sync
	after=$(wc -l <"$log")
	[ "${#lines[@]}" -eq 2 ]
	[[ "$output" == *'{"event":"read_res","ns":"shared","key":"k03","page":{"_uuid":"k03","entries":[{"_uuid":"b","_timestamp":"2"}],'* ]]
	[[ "$output" == *'{"event":"read_res","ns":"shared","key":"k17","page":{"_uuid":"k17","entries":[{"_uuid":"c","_timestamp":"3"}],'* ]]
	statements=$(sed -n "$((before + 1)),${after}p" "$log" | grep -cE 'LOG:  (statement|execute [^:]*):' || true)
	echo "# sync of 30 cached pages (2 changed): $statements statements logged" >&3
	[ "$statements" -ge 1 ]  # the log does show the pager's statements
	[ "$statements" -lt 10 ] # not one query per cached page
	for i in $(seq -w 1 30); do
		[ "$(ls_field B "k$i" hash)" = "$(ls_field A "k$i" hash)" ]
	done
	run -0 on B sync
	[ "$output" = "" ]
}

@test "postgres: A and B edit different entries of one page: both edits kept" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	on B read_sync shared k >/dev/null
	run -0 --separate-stderr on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"x","_timestamp":"2"}]}'
	[ "$stderr" = "" ]
	run -0 --separate-stderr on B write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"y","_timestamp":"3"}]}'
	[ "$stderr" = "" ]
	[ "$(srv_uuids k)" = a,x,y ]
	run -0 on A sync
	run -0 on B sync
	[ "$(page_of A k | uuids)" = a,x,y ]
	[ "$(page_of A k)" = "$(page_of B k)" ]
	[ "$(ls_field A k hash)" = "$(srv_col k hash)" ]
	[ "$(ls_field A k unsynced)" = false ]
	[ "$(ls_field B k unsynced)" = false ]
}

@test "postgres: offline edits of different entries on A and B merge on sync" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	on B read_sync shared k >/dev/null
	on_bad A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"x","_timestamp":"2"}]}' 2>/dev/null
	on_bad B write shared k <<<'{"entries":[{"_uuid":"y","_timestamp":"3"},{"_uuid":"a","_timestamp":"1"}]}' 2>/dev/null
	[ "$(srv_uuids k)" = a ]
	run -0 on A sync --now
	run -0 on B sync --now
	[ "$(srv_uuids k)" = a,x,y ]
	[ "$(srv_col k version)" = 3 ]
	run -0 on A sync
	run -0 on B sync
	[ "$(page_of A k | uuids)" = a,x,y ]
	[ "$(page_of A k)" = "$(page_of B k)" ]
	[ "$(ls_field B k hash)" = "$(srv_col k hash)" ]
}

@test "postgres: edits of the same entry: the later push wins, both converge" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"0"}]}'
	on B read_sync shared k >/dev/null
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"A"}]}'
	[ "$(srv_entry k a v)" = A ]
	on B write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"B"}]}'
	[ "$(srv_entry k a v)" = B ]
	run -0 on A sync
	run -0 on B sync
	[ "$(page_of A k | entry_field v a)" = B ]
	[ "$(page_of A k)" = "$(page_of B k)" ]
	[ "$(ls_field A k hash)" = "$(srv_col k hash)" ]
}

@test "postgres: a retried push (same changes_id) is not applied twice" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"0"}]}'
	on B read_sync shared k >/dev/null
	on_bad A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"A"}]}' 2>/dev/null
	[ "$(ls_field A k unsynced)" = true ]
	id=$(sqlite3 "$BATS_TEST_TMPDIR/A.db" "SELECT json_extract(sync, '\$.__changes_id') FROM pages WHERE key = 'k'")
	[ -n "$id" ]
	sqlite3 "$BATS_TEST_TMPDIR/A.db" ".backup '$BATS_TEST_TMPDIR/A.bak'"
	run -0 on A sync --now # the push lands ...
	[ "$(srv_entry k a v)" = A ]
	[ "$(srv_col k version)" = 2 ]
	[ "$(pgq "SELECT count(*) FROM ${T}_applied WHERE changes_id = :'id'" "id=$id")" = 1 ]
	on B write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","v":"B"}]}'
	[ "$(srv_entry k a v)" = B ]
	[ "$(srv_col k version)" = 3 ]
	# ... but A never saw the answer: A's database as it was before the push
	rm -f "$BATS_TEST_TMPDIR/A.db-wal" "$BATS_TEST_TMPDIR/A.db-shm"
	cp "$BATS_TEST_TMPDIR/A.bak" "$BATS_TEST_TMPDIR/A.db"
	[ "$(ls_field A k unsynced)" = true ]
	[ "$(page_of A k | entry_field v a)" = A ]
	run -0 on A sync --now # the same changes_id again
	[ "$(srv_col k version)" = 3 ]
	[ "$(srv_entry k a v)" = B ]
	[ "$(pgq "SELECT count(*) FROM ${T}_applied WHERE changes_id = :'id'" "id=$id")" = 1 ]
	[ "$(pgq "SELECT count(*) FROM ${T}_applied WHERE ns = 'shared' AND key = 'k'")" = 3 ]
	run -0 on A sync
	[ "$(ls_field A k unsynced)" = false ]
	[ "$(page_of A k | entry_field v a)" = B ]
	[ "$(page_of A k)" = "$(page_of B k)" ]
	[ "$(ls_field A k hash)" = "$(srv_col k hash)" ]
}

@test "postgres: eight machines pushing at once lose no edit" {
	on A write shared k <<<'{"entries":[]}'
	for m in 1 2 3 4 5 6 7 8; do
		on "M$m" read_sync shared k >/dev/null
	done
	pids=()
	for m in 1 2 3 4 5 6 7 8; do
		# an existing page, and a page none of them has yet
		(on "M$m" write shared k <<<"{\"entries\":[{\"_uuid\":\"m$m\",\"_timestamp\":\"$m\"}]}" &&
			on "M$m" write shared fresh <<<"{\"entries\":[{\"_uuid\":\"m$m\",\"_timestamp\":\"$m\"}]}") \
			2>"$BATS_TEST_TMPDIR/err$m" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	for m in 1 2 3 4 5 6 7 8; do
		[ ! -s "$BATS_TEST_TMPDIR/err$m" ] || { cat "$BATS_TEST_TMPDIR/err$m"; false; }
	done
	[ "$(srv_uuids k)" = m1,m2,m3,m4,m5,m6,m7,m8 ]
	[ "$(srv_uuids fresh)" = m1,m2,m3,m4,m5,m6,m7,m8 ]
	[ "$(srv_col k version)" = 9 ]
	[ "$(srv_col fresh version)" = 8 ]
	for m in 1 2 3 4 5 6 7 8; do
		run -0 on "M$m" sync
		[ "$(ls_field "M$m" k hash)" = "$(srv_col k hash)" ]
		[ "$(ls_field "M$m" fresh hash)" = "$(srv_col fresh hash)" ]
	done
}

@test "postgres: batch pushes its writes; batch --atomic is refused (2)" {
	run -0 on A batch <<'EOF2'
{"req":"write","ns":"shared","key":"b1","page":{"entries":[{"_uuid":"a","_timestamp":"1"}]}}
{"req":"write","ns":"shared","key":"b2","page":{"entries":[{"_uuid":"b","_timestamp":"2"}]}}
EOF2
	[ "$(grep -c '"event":"done".*"status":0' <<<"$output")" = 2 ]
	[ "$(srv_uuids b1)" = a ]
	[ "$(srv_uuids b2)" = b ]
	[ "$(ls_field A b1 unsynced)" = false ]
	[ "$(ls_field A b2 unsynced)" = false ]
	run -2 on A batch --atomic <<<'{"req":"write","ns":"shared","key":"b3","page":{"entries":[]}}'
	[ "$(srv_col b3 version)" = "" ]
}

@test "postgres: invalidate drops the local copy only; unsynced changes need --discard" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	run -0 on A invalidate shared k
	[ "$(on A ls shared)" = "" ]
	[ "$(srv_uuids k)" = a ]
	run -0 on A read shared k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *'"_uuid":"a"'*'"from":"pager"'* ]]
	on_bad A write shared k <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}' 2>/dev/null
	run -69 on A invalidate shared k
	[ "$(ls_field A k unsynced)" = true ]
	run -0 on A invalidate --discard shared k
	[ "$(on A ls shared)" = "" ]
	[ "$(srv_uuids k)" = a ]
}

# --- bad servers -------------------------------------------------------------

@test "postgres: a wrong conninfo: read_sync exits 1 with one line, store unchanged" {
	services "$(svc_json "$BAD_CONNINFO")"
	run -1 --separate-stderr on A read_sync shared k
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == 'flokvm: read_sync: '*'pager "pg0"'* ]]
	[[ "$stderr" == *'namespace "shared"'* ]]
	[ ! -e "$DB" ]
	run -0 --separate-stderr on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "k": written locally, not pushed yet: '?* ]]
	[ "$(ls_field A k unsynced)" = true ]
	before=$(snapshot)
	run -1 --separate-stderr on A read_sync shared other
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *'pager "pg0"'* && "$stderr" == *'namespace "shared"'* ]]
	[ "$(snapshot)" = "$before" ]
	run -1 --separate-stderr on A read shared k
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *'"from":"cache"'* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$(snapshot)" = "$before" ]
}

@test "postgres: a server that never answers: calls give up after timeout_ms" {
	# a Unix socket that accepts connections and never says a word
	mkdir "$BATS_TEST_TMPDIR/mute"
	python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])' "$BATS_TEST_TMPDIR/mute/.s.PGSQL.5432" 3>&- &
	BG_PIDS+=($!)
	wait_up_to 5 test -S "$BATS_TEST_TMPDIR/mute/.s.PGSQL.5432"
	services "$(svc_json "host=$BATS_TEST_TMPDIR/mute user=postgres dbname=postgres" | sed 's/"timeout_ms":5000/"timeout_ms":1000/')"
	start=$(date +%s%N)
	run -1 --separate-stderr on_t A read_sync shared k
	ms=$(ms_since "$start")
	echo "# read_sync against a mute server gave up after $ms ms (timeout_ms 1000)" >&3
	[ "$ms" -lt $((TIMEOUT_BOUND_S * 1000)) ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *'pager "pg0"'* ]]
	start=$(date +%s%N)
	run -0 --separate-stderr on_t A write shared k <<<'{"entries":[]}'
	ms=$(ms_since "$start")
	[ "$ms" -lt $((TIMEOUT_BOUND_S * 1000)) ]
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "k": written locally, not pushed yet: '?* ]]
	[ "$(ls_field A k unsynced)" = true ]
}

@test "postgres: a sync against a mute server does not wait once per page" {
	mkdir "$BATS_TEST_TMPDIR/mute"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])' "$BATS_TEST_TMPDIR/mute/.s.PGSQL.5432" 3>&- &
	BG_PIDS+=($!)
	wait_up_to 5 test -S "$BATS_TEST_TMPDIR/mute/.s.PGSQL.5432"
	svc_json "host=$BATS_TEST_TMPDIR/mute user=postgres dbname=postgres" |
		sed 's/"timeout_ms":5000/"timeout_ms":1000/' >"$BATS_TEST_TMPDIR/mute.json"
	for i in $(seq -w 1 10); do
		on_bad A write shared "k$i" <<<'{"entries":[]}' 2>/dev/null
	done
	start=$(date +%s%N)
	run -1 --separate-stderr on_t A --services "$BATS_TEST_TMPDIR/mute.json" sync --now
	ms=$(ms_since "$start")
	echo "# sync --now of 10 queued pages against a mute server failed after $ms ms" >&3
	# one connection attempt (2 s at least, see the man page), not ten
	[ "$ms" -lt $((TIMEOUT_BOUND_S * 1000)) ]
	[[ "$stderr" == *'pager "pg0"'* ]]
	[ "$(on A ls shared | grep -c '"unsynced":true}$')" = 10 ]
}

@test "postgres: a query blocked on a locked table gives up after timeout_ms" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	PGAPPNAME=flokvm-test-lock psql "$PGCONN" -X -q -c 'BEGIN' -c "LOCK TABLE $T IN ACCESS EXCLUSIVE MODE" \
		-c 'SELECT pg_sleep(120)' >/dev/null 2>&1 3>&- &
	BG_PIDS+=($!)
	locked() {
		[ "$(pgq "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		          WHERE c.relname = '$T' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
	}
	wait_up_to 10 locked
	services "$(svc_json "$PGCONN" | sed 's/"timeout_ms":5000/"timeout_ms":1000/')"
	start=$(date +%s%N)
	run -1 --separate-stderr on_t B read_sync shared k
	ms=$(ms_since "$start")
	echo "# read_sync blocked by a lock gave up after $ms ms (timeout_ms 1000)" >&3
	[ "$ms" -lt $((TIMEOUT_BOUND_S * 1000)) ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *'pager "pg0"'* ]]
	[ ! -e "$BATS_TEST_TMPDIR/B.db" ] || [ "$(on B ls shared)" = "" ]
	start=$(date +%s%N)
	run -0 --separate-stderr on_t A write shared k <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	[ "$(ms_since "$start")" -lt $((TIMEOUT_BOUND_S * 1000)) ]
	[[ "$stderr" == 'flokvm: write: warning: namespace "shared" key "k": written locally, not pushed yet: '?* ]]
	[ "$(ls_field A k unsynced)" = true ]
}

# --- keys and content ----------------------------------------------------------

@test "postgres: odd keys and namespaces round-trip unchanged (bind parameters)" {
	ns2="it's \"q\"; \$(x) é"
	services "{\"pagers\":[{\"name\":\"pg0\",\"namespace\":\"shared\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}},
		{\"name\":\"pg1\",\"namespace\":\"it's \\\"q\\\"; \$(x) é\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}}]}"
	keys=(
		'a b"c;$(touch pwned)`touch pwned2`'
		"x'; DROP TABLE $T; --"
		'back\slash %s $1 :k'
		'café 日本語 ünï ✓'
		"$(printf '日%.0s' $(seq 1 341))" # 1023 bytes
		'NULL' '{a,b}' ' lead "q" \" trail ' # array-literal syntax (revalidate)
	)
	for key in "${keys[@]}"; do
		run -0 --separate-stderr on A write shared "$key" <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
		[ "$stderr" = "" ]
		[ "$(pgq "SELECT count(*) FROM $T WHERE ns = 'shared' AND key = :'k'" "k=$key")" = 1 ]
		[ "$(srv_uuids "$key")" = a ]
		run -0 on B read_sync shared "$key"
		[[ "$output" == *'"entries":[{"_uuid":"a","_timestamp":"1"}]'* ]]
	done
	[ "$(srv_rows)" = "${#keys[@]}" ]
	[ "$(on A ls shared | grep -c '"unsynced":false}$')" = "${#keys[@]}" ]
	[ "$(on B ls shared | wc -l)" = "${#keys[@]}" ]
	[ "$(pgq "SELECT key FROM $T ORDER BY key COLLATE \"C\"")" = "$(printf '%s\n' "${keys[@]}" | LC_ALL=C sort)" ]
	# B revalidates them all in one batched query: each changed one comes back
	for key in "${keys[@]}"; do
		on A write shared "$key" <<<'{"entries":[{"_uuid":"a","_timestamp":"2"}]}'
	done
	run -0 --separate-stderr on B sync
	[ "$stderr" = "" ]
	[ "$(grep -c '"_timestamp":"2"' <<<"$output")" = "${#keys[@]}" ]
	[ "$(on B ls shared | grep -c '"unsynced":false}$')" = "${#keys[@]}" ]
	b_hashes=$(on B ls shared | python3 -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["key"] + "\t" + r["hash"])' | LC_ALL=C sort)
	[ "$b_hashes" = "$(pgq "SELECT key || E'\t' || hash FROM $T WHERE ns = 'shared'" | LC_ALL=C sort)" ]
	run -0 on A write "$ns2" "$key" <<<'{"entries":[{"_uuid":"b","_timestamp":"1"}]}'
	[ "$(pgq "SELECT count(*) FROM $T WHERE ns = :'ns' AND key = :'k'" "ns=$ns2" "k=$key")" = 1 ]
	[ "$(on B read_sync "$ns2" "$key" | uuids)" = b ]
	[ ! -e pwned ] && [ ! -e pwned2 ]
}

@test "postgres: page content (pointers, payload, escapes, unicode, 1 MiB) round-trips" {
	page='{"_uuid":"k","_next":"k-2","_prev":"k-0","entries":[{"_uuid":"e1","_timestamp":"1","t":"quote \" back \\ tab \t nl \n é ✓ 😀","n":1.5,"o":{"z":[1,null,true],"a":"b"}}],"title":"x'"'"'y","meta":{"deep":[[[]]]}}'
	run -0 on A write --print shared k <<<"$page"
	a_line=$output
	run -0 on B read_sync shared k
	[ "${a_line%,\"seq\":*}" = "${output%,\"seq\":*}" ]
	[ "$(srv_col k hash)" = "$(ls_field A k hash)" ]
	# a page of about 1 MiB
	python3 -c 'import json
print(json.dumps({"entries": [{"_uuid": "e%d" % i, "_timestamp": str(i), "pad": "p" * 500} for i in range(2000)]}))' >big.json
	run -0 --separate-stderr on A write shared big <big.json
	[ "$stderr" = "" ]
	[ "$(srv_col big "jsonb_array_length(page::jsonb->'entries')")" = 2000 ]
	[ "$(page_of B big)" = "$(page_of A big)" ]
	[ "$(ls_field B big entries)" = 2000 ]
}

# --- watch ---------------------------------------------------------------------

@test "postgres: a write on A reaches B's namespace watch within a second" {
	watch_b out err shared
	warm_up out
	start=$(date +%s%N)
	on A write shared k1 <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"k1"'
	echo "# A's write reached B's watch after $(ms_since "$start") ms (including A's write)" >&3
	on A write shared k2 <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	on A write shared k3 <<<'{"entries":[{"_uuid":"c","_timestamp":"3"}]}'
	on A write shared k1 <<<'{"entries":[{"_uuid":"d","_timestamp":"4"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"k2"'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"k3"'
	wait_up_to "$WATCH_BOUND_S" has_line out '{"_uuid":"d","_timestamp":"4"}'
	grep -qF '"key":"k1","page":{"_uuid":"k1","entries":[{"_uuid":"a","_timestamp":"1"}]' out
	# B's cache holds what its watch printed
	for k in k1 k2 k3 probe; do
		[ "$(ls_field B "$k" hash)" = "$(ls_field A "$k" hash)" ]
	done
	kill -0 "$WPID"
	[ ! -s err ] || { cat err; false; }
}

@test "postgres: a write on A reaches B's keyed watch within a second" {
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	watch_b out err shared k later
	# the watch's first refresh pulls the page (its LISTEN comes before)
	wait_up_to "$WATCH_BOUND_S" has_line out '"entries":[{"_uuid":"a","_timestamp":"1"}]'
	start=$(date +%s%N)
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"b","_timestamp":"2"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '{"_uuid":"b","_timestamp":"2"}'
	echo "# A's write reached B's keyed watch after $(ms_since "$start") ms (including A's write)" >&3
	# a watched page the server did not have yet
	on A write shared later <<<'{"entries":[{"_uuid":"l","_timestamp":"5"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"later","page":{"_uuid":"later","entries":[{"_uuid":"l","_timestamp":"5"}]'
	[ "$(ls_field B k hash)" = "$(ls_field A k hash)" ]
	kill -0 "$WPID"
	[ ! -s err ] || { cat err; false; }
}

@test "postgres: the watch survives a server restart and reconnects" {
	watch_b out err shared
	warm_up out
	pg_stop
	wait_up_to "$RECONNECT_BOUND_S" has_line err reconnect
	[[ "$(cat err)" == *warning* ]]
	kill -0 "$WPID"
	# the local cache is intact and usable meanwhile
	run -0 on B ls shared
	[[ "$output" == *'"key":"probe"'* ]]
	[ "$(ls_field B probe hash)" = "$(ls_field A probe hash)" ]
	run -0 on B read_sync shared probe
	[[ "$output" == '{"event":"read_res","ns":"shared","key":"probe","page":{"_uuid":"probe",'* ]]
	pg_start
	wait_up_to "$RECONNECT_BOUND_S" has_line err reconnected
	kill -0 "$WPID"
	start=$(date +%s%N)
	run -0 --separate-stderr on A write shared after <<<'{"entries":[{"_uuid":"z","_timestamp":"9"}]}'
	[ "$stderr" = "" ]
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"after"'
	echo "# after the restart, A's write reached B's watch after $(ms_since "$start") ms" >&3
	kill -0 "$WPID"
	[ "$(ls_field B after hash)" = "$(ls_field A after hash)" ]
	run -0 on B check
}

@test "postgres: a watch ignores other namespaces on the same channel" {
	services "{\"pagers\":[{\"name\":\"pg0\",\"namespace\":\"shared\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}},
		{\"name\":\"pg1\",\"namespace\":\"other\",\"options\":{\"type\":\"postgres\",\"conninfo\":\"$PGCONN\",\"table\":\"$T\",\"channel\":\"$CH\"}}]}"
	watch_b out err shared
	warm_up out
	on A write other k <<<'{"entries":[{"_uuid":"o","_timestamp":"1"}]}'
	on A write shared k <<<'{"entries":[{"_uuid":"s","_timestamp":"1"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"k"'
	[ "$(grep -cF '"ns":"other"' out)" = 0 ]
	grep -qF '"ns":"shared","key":"k","page":{"_uuid":"k","entries":[{"_uuid":"s","_timestamp":"1"}]' out
	[ "$(on B ls other)" = "" ]
	[ "$(srv_uuids k other)" = o ]
}

@test "postgres: table and channel names are quoted identifiers" {
	T="Pages $BATS_TEST_NUMBER \"q\"; x"
	CH="Chan $BATS_TEST_NUMBER \"q\""
	services "$(svc_json "$PGCONN")"
	grep -qF "\"table\":\"$(json_str "$T")\"" "$XDG_CONFIG_HOME/flokvm/services.rb"
	grep -qF '\"q\"; x"' "$XDG_CONFIG_HOME/flokvm/services.rb"
	watch_b out err shared
	warm_up out
	on A write shared k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"k"'
	[ "$(pgq "SELECT count(*) FROM pg_class WHERE relname IN (:'t', :'t' || '_applied')" "t=$T")" = 2 ]
	[ "$(pgq "SELECT count(*) FROM \"Pages $BATS_TEST_NUMBER \"\"q\"\"; x\" WHERE key = 'k'")" = 1 ]
	[ "$(on B read_sync shared k | uuids)" = a ]
}

@test "postgres: a change made while the watch was disconnected arrives after it reconnects" {
	watch_b out err shared
	warm_up out
	pg_stop
	wait_up_to "$RECONNECT_BOUND_S" has_line err reconnect
	pg_start
	# at once, most likely before B's watch is back: its NOTIFY is lost
	# to B, so only a refresh after reconnecting can bring the change
	on A write shared probe <<<'{"entries":[],"n":"while away"}'
	wait_up_to "$RECONNECT_BOUND_S" has_line err reconnected
	wait_up_to "$WATCH_BOUND_S" has_line out '"n":"while away"'
	[ "$(ls_field B probe hash)" = "$(ls_field A probe hash)" ]
	kill -0 "$WPID"
}

@test "postgres: a merge that would exceed the page limit is rejected; the server keeps its copy" {
	export FLOKVM_MAX_PAGE_BYTES=60000
	pad=$(printf 'x%.0s' $(seq 1 500))
	mk() { # mk PREFIX: a page of 100 entries of ~520 bytes
		local i sep=
		printf '{"entries":['
		for i in $(seq 1 100); do
			printf '%s{"_uuid":"%s%d","_timestamp":"1","t":"%s"}' "$sep" "$1" "$i" "$pad"
			sep=,
		done
		printf ']}'
	}
	mk a | on A write shared k
	[ "$(srv_col k version)" = 1 ]
	# B, never having seen A's page, writes its own 100 entries offline:
	# they fit on their own, not merged with A's
	mk b | on_bad B write shared k 2>/dev/null
	[ "$(ls_field B k unsynced)" = true ]
	run -0 --separate-stderr on B sync --now # a rejection is a warning
	[[ "$stderr" == *'the authority rejected changes'*'the merged page would be '*' bytes, over the limit of 60000'* ]]
	[ "$(srv_col k version)" = 1 ]
	[ "$(ls_field B k unsynced)" = false ]
	[ "$(page_of B k)" = "$(page_of A k)" ]
}

@test "postgres: after its connection is cut, a keyed watch fetches its uncached page changed meanwhile" {
	on A write shared other <<<'{"entries":[]}' # creates the table
	watch_b out err shared fresh
	# B's watch is the only flokvm connection now (A's writes have ended)
	b_connected() {
		[ "$(pgq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'flokvm' AND state = 'idle'")" = 1 ]
	}
	wait_up_to "$WATCH_BOUND_S" b_connected
	# A change B cannot hear of: written straight into the table, no NOTIFY
	page=$(on A hash <<<'{"_uuid":"fresh","entries":[{"_uuid":"e","_timestamp":"5"}]}')
	hash=$(sed -E 's/.*"_hash":"([0-9]+)".*/\1/' <<<"$page")
	pgq "INSERT INTO $T (ns, key, page, hash, version) VALUES ('shared', 'fresh', :'p', :'h', 1)" "p=$page" "h=$hash"
	sleep 0.3
	! has_line out '"key":"fresh"'
	# cut B's connection: it reconnects and refreshes what it may have missed
	[ "$(pgq "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'flokvm'")" = 1 ]
	wait_up_to "$RECONNECT_BOUND_S" has_line err reconnected
	wait_up_to "$WATCH_BOUND_S" has_line out '"key":"fresh"'
	[ "$(ls_field B fresh hash)" = "$hash" ]
	kill -0 "$WPID"
}
