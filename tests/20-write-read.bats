#!/usr/bin/env bats
# write, read and read_sync on the built-in mem namespace and on spec.

load helpers

P1='{"entries":[{"_uuid":"e1","_timestamp":"1433865600000","title":"hello"}]}'
P1_OUT='{"_uuid":"k","entries":[{"_uuid":"e1","_timestamp":"1433865600000","title":"hello"}],"_hash":"2669614441"}'

@test "read_sync: a miss prints {} with seq 0 and creates no database" {
	run -0 fk read_sync user k
	[ "$output" = '{"event":"read_res","ns":"user","key":"k","page":{},"seq":0}' ]
	[ ! -e "$DB" ]
}

@test "write then read_sync prints the stored page with its revision" {
	run -0 fk write user k <<<"$P1"
	[ "$output" = "" ]
	run -0 fk read_sync user k
	[ "$output" = "{\"event\":\"read_res\",\"ns\":\"user\",\"key\":\"k\",\"page\":$P1_OUT,\"seq\":1}" ]
	run -0 fk read-sync user k
	[ "$output" = "{\"event\":\"read_res\",\"ns\":\"user\",\"key\":\"k\",\"page\":$P1_OUT,\"seq\":1}" ]
}

@test "write: creates the database 0600 in a 0700 folder" {
	export FLOKVM_DB="$BATS_TEST_TMPDIR/new/dir/pages.db"
	run -0 "$FLOKVM" write user k <<<"$P1"
	[ "$(stat -c %a "$FLOKVM_DB")" = 600 ]
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/new/dir")" = 700 ]
	[ "$(sqlite3 "$FLOKVM_DB" 'PRAGMA journal_mode')" = wal ]
}

@test "write: default database is under XDG_DATA_HOME, then ~/.local/share" {
	run -0 "$FLOKVM" write user k <<<"$P1"
	[ -f "$XDG_DATA_HOME/flokvm/pages.db" ]
	unset XDG_DATA_HOME
	run -0 "$FLOKVM" write user k2 <<<'{"entries":[]}'
	[ -f "$HOME/.local/share/flokvm/pages.db" ]
}

@test "read: prints the cached copy from the cache; mem adds nothing" {
	fk write user k <<<"$P1"
	run -0 fk read user k
	[ "$output" = "{\"event\":\"read_res\",\"ns\":\"user\",\"key\":\"k\",\"page\":$P1_OUT,\"from\":\"cache\",\"seq\":1}" ]
	run -0 fk read user other
	[ "$output" = '{"event":"read_res","ns":"user","key":"other","page":{},"from":"cache","seq":0}' ]
}

@test "write --print prints the stored page; revisions increase per change" {
	run -0 fk write --print user k <<<"$P1"
	[ "$output" = "{\"event\":\"read_res\",\"ns\":\"user\",\"key\":\"k\",\"page\":$P1_OUT,\"seq\":1}" ]
	run -0 fk write --print user j <<<'{"entries":[]}'
	[[ "$output" == *'"seq":2}' ]]
	run -0 fk write --print user k <<<'{"entries":[],"note":"x"}'
	[[ "$output" == *'"page":{"_uuid":"k","entries":[],"note":"x","_hash":"'*'"seq":3}' ]]
}

@test "write: an identical rewrite changes nothing, also without timestamps" {
	fk write user k <<<"$P1"
	before=$(snapshot)
	run -0 fk write --print user k <<<"$P1"
	[[ "$output" == *'"seq":1}' ]]
	run -0 fk write user k <<<'{"entries":[{"_uuid":"e1","title":"hello"}]}'
	[ "$(snapshot)" = "$before" ]
	# key order inside an entry is not a change either
	run -0 fk write user k <<<'{"entries":[{"title":"hello","_uuid":"e1","_timestamp":"1433865600000"}]}'
	[ "$(snapshot)" = "$before" ]
}

@test "write: changed content of an entry gets a newer timestamp" {
	fk write user k <<<"$P1"
	run -0 fk write --print user k <<<'{"entries":[{"_uuid":"e1","title":"changed"}]}'
	ts=$(sed -E 's/.*"_timestamp":"([0-9]+)".*/\1/' <<<"$output")
	[ "$ts" -gt 1433865600000 ]
	[[ "$output" == *'"seq":2}' ]]
}

@test "write: a payload-only change is stored and gets a new revision" {
	fk write user k <<<"$P1"
	run -0 fk write --print user k <<<'{"entries":[{"_uuid":"e1","_timestamp":"1433865600000","title":"hello"}],"not_synced":true}'
	[[ "$output" == *'"title":"hello"}],"not_synced":true,"_hash":"2669614441"},"seq":2}' ]]
}

@test "write --if-seq: 0 only if absent, N only at revision N" {
	run -0 fk write --if-seq 0 user k <<<"$P1"
	before=$(snapshot)
	run -3 --separate-stderr fk write --if-seq 0 user k <<<'{"entries":[]}'
	[ "$stderr" = 'flokvm: write: namespace "user" key "k": --if-seq 0 failed: the stored page is at revision 1 with hash 2669614441' ]
	[ "$(snapshot)" = "$before" ]
	run -3 fk write --if-seq 7 user k <<<'{"entries":[]}'
	[ "$(snapshot)" = "$before" ]
	run -0 fk write --if-seq 1 user k <<<'{"entries":[]}'
	run -0 fk read_sync user k
	[[ "$output" == *'"entries":[]'*'"seq":2}' ]]
}

@test "write --if-hash: none only if absent, H only at hash H" {
	run -0 fk write --if-hash none user k <<<"$P1"
	before=$(snapshot)
	run -3 --separate-stderr fk write --if-hash 1 user k <<<'{"entries":[]}'
	[ "$stderr" = 'flokvm: write: namespace "user" key "k": --if-hash 1 failed: the stored page is at revision 1 with hash 2669614441' ]
	[ "$(snapshot)" = "$before" ]
	run -3 fk write --if-hash none user k <<<'{"entries":[]}'
	[ "$(snapshot)" = "$before" ]
	run -0 fk write --if-hash 2669614441 user k <<<'{"entries":[]}'
	[ "$(snapshot)" != "$before" ]
}

@test "write: keys with spaces, quotes, ; and \$(...) are stored verbatim" {
	key='a b"c;$(touch pwned)`x`'
	run -0 fk write --print user "$key" <<<'{"entries":[]}'
	run -0 fk read_sync user "$key"
	[[ "$output" == *'"key":"a b\"c;$(touch pwned)`x`"'* ]]
	[ ! -e pwned ]
	run -0 fk ls user
	[[ "$output" == *'"key":"a b\"c;$(touch pwned)`x`"'* ]]
}

@test "write: -- ends options so keys may start with -" {
	run -0 fk write -- user -k <<<'{"entries":[]}'
	run -0 fk read_sync -- user -k
	[[ "$output" == *'"key":"-k"'* ]]
}

@test "ls: lists pages in key byte order with hash, seq, entries, unsynced" {
	fk write user b <<<'{"entries":[]}'
	fk write user a <<<"$P1"
	fk write user B <<<'{"entries":[]}'
	run -0 fk ls user
	[ "${lines[0]}" = '{"ns":"user","key":"B","hash":"1255198513","seq":3,"entries":0,"unsynced":false}' ]
	[[ "${lines[1]}" == '{"ns":"user","key":"a","hash":'*'"seq":2,"entries":1,"unsynced":false}' ]]
	[[ "${lines[2]}" == '{"ns":"user","key":"b",'* ]]
	[ "${#lines[@]}" -eq 3 ]
}

@test "ls: a missing database lists nothing and creates nothing" {
	run -0 fk ls user
	[ "$output" = "" ]
	[ ! -e "$DB" ]
}

@test "spec pager: logs init once per process, then read and write with the hash before" {
	services '{"pagers":[{"name":"spec0","namespace":"t","options":{"log":"calls.log"}}]}'
	fk write t k <<<'{"entries":[]}'
	fk read t k >/dev/null
	run -0 cat "$XDG_CONFIG_HOME/flokvm/calls.log"
	[ "${lines[0]}" = '{"call":"init","ns":"t","options":{"log":"calls.log"}}' ]
	[ "${lines[1]}" = '{"call":"write","ns":"t","key":"k","hash":null}' ]
	[ "${lines[2]}" = '{"call":"init","ns":"t","options":{"log":"calls.log"}}' ]
	[ "${lines[3]}" = '{"call":"read","ns":"t","key":"k","hash":"140662621"}' ]
	[ "${#lines[@]}" -eq 4 ]
}

@test "spec pager: read_sync calls read only on a miss" {
	services '{"pagers":[{"name":"spec0","namespace":"t","options":{"log":"calls.log"}}]}'
	fk read_sync t k >/dev/null
	fk write t k <<<'{"entries":[]}'
	fk read_sync t k >/dev/null
	run -0 grep -c '"call":"read"' "$XDG_CONFIG_HOME/flokvm/calls.log"
	[ "$output" = 1 ]
}
