#!/usr/bin/env bats
# Sync (SPEC 7, 8): the exec pager against examples/dir-authority, a fake
# authority in a folder that can be switched offline, can reject pushes,
# and can change pages on its side.

load helpers

EXAMPLES="$BATS_TEST_DIRNAME/../examples"

setup() {
	: "${FLOKVM:=$BATS_TEST_DIRNAME/../build/cli/flokvm}"
	export FLOKVM
	export HOME="$BATS_TEST_TMPDIR/home" XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/home/.config"
	export XDG_DATA_HOME="$BATS_TEST_TMPDIR/home/.local/share"
	unset FLOKVM_DB FLOKVM_SERVICES
	DB="$BATS_TEST_TMPDIR/pages.db"
	export AUTHORITY_DIR="$BATS_TEST_TMPDIR/authority"
	mkdir -p "$HOME" "$AUTHORITY_DIR"
	cd "$BATS_TEST_TMPDIR" || return 1
	services "{\"pagers\":[{\"name\":\"exec0\",\"namespace\":\"news\",\"options\":{\"type\":\"exec\",\"command\":[\"$EXAMPLES/dir-authority\"],\"timeout_ms\":5000}}]}"
}

# authority KEY: the authority's copy of news/KEY ({} if none).
authority() {
	"$EXAMPLES/dir-authority" read news "$1" <<<'{}'
}

# server_add KEY ID ENTRY-JSON: a change made on the authority's side.
server_add() {
	printf '{"page":{"_uuid":"%s","entries":[]},"changes":[["+",99,%s]],"changes_id":"%s"}' \
		"$1" "$3" "$2" | "$EXAMPLES/dir-authority" sync news "$1" >/dev/null
}

unsynced() { # unsynced KEY: true/false as ls shows it
	fk ls news | grep -F "\"key\":\"$1\"" | sed -E 's/.*"unsynced":(true|false)\}/\1/'
}

@test "sync: a write to an exec namespace is pushed at once" {
	run -0 --separate-stderr fk write --print news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[ "$stderr" = "" ]
	[[ "$(authority k)" == *'"_uuid":"a"'* ]]
	[ "$(unsynced k)" = false ]
	run -0 fk read_sync news k
	[[ "$output" == *'"_uuid":"a"'* ]]
}

@test "sync: an offline write succeeds with a warning; two syncs deliver it" {
	touch "$AUTHORITY_DIR/offline"
	run -0 --separate-stderr fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	[[ "$stderr" == 'flokvm: write: warning: namespace "news" key "k": written locally, not pushed yet: '*'authority offline'* ]]
	[ "$(unsynced k)" = true ]
	rm "$AUTHORITY_DIR/offline"
	run -0 fk sync
	[ "$(unsynced k)" = true ]
	[ "$(authority k)" = '{}' ]
	run -0 fk sync
	[ "$(unsynced k)" = false ]
	[[ "$(authority k)" == *'"_uuid":"a"'* ]]
}

@test "sync --now pushes pages written since the last sync" {
	touch "$AUTHORITY_DIR/offline"
	fk write news k <<<'{"entries":[]}' 2>/dev/null
	rm "$AUTHORITY_DIR/offline"
	run -0 fk sync --now
	[ "$(unsynced k)" = false ]
	[ "$(authority k)" != '{}' ]
}

@test "sync: an offline sync fails per page, keeps the queue, and exits non-zero" {
	touch "$AUTHORITY_DIR/offline"
	fk write news k <<<'{"entries":[]}' 2>/dev/null
	run -1 --separate-stderr fk sync --now
	[[ "$stderr" == *'authority offline'* ]]
	[ "$(unsynced k)" = true ]
}

@test "sync: a server-side change merges with a pending local change" {
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	touch "$AUTHORITY_DIR/offline"
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"local","_timestamp":"2"}]}' 2>/dev/null
	rm "$AUTHORITY_DIR/offline"
	server_add k server-1 '{"_uuid":"server","_timestamp":"3"}'
	run -0 fk sync --now
	run -0 fk read_sync news k
	[[ "$output" == *'"_uuid":"local"'* ]]
	[[ "$output" == *'"_uuid":"server"'* ]]
	[[ "$(authority k)" == *'"_uuid":"local"'* ]]
	[[ "$(authority k)" == *'"_uuid":"server"'* ]]
	[ "$(unsynced k)" = false ]
}

@test "sync: a refresh keeps a pending local change (rebase)" {
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	touch "$AUTHORITY_DIR/reject"
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"local","_timestamp":"2"}]}' 2>/dev/null || true
	rm -f "$AUTHORITY_DIR/reject"
	touch "$AUTHORITY_DIR/offline"
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"local2","_timestamp":"4"}]}' 2>/dev/null
	rm "$AUTHORITY_DIR/offline"
	server_add k server-1 '{"_uuid":"server","_timestamp":"3"}'
	run -0 fk read news k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *'"_uuid":"local2"'*'"from":"pager"'* ]]
	[[ "${lines[1]}" == *'"_uuid":"server"'* ]]
	[ "$(unsynced k)" = true ]
}

@test "sync: the guessed-right write shows exactly one event to a watcher" {
	fk watch --timeout 3 news k >out &
	wait_for has_watchers 1
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}],"not_synced":false}'
	[ "$(unsynced k)" = false ]
	run -0 fk sync --now
	[ "$output" = "" ]
	wait
	run -0 cat out
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *'"_uuid":"a"'* ]]
}

@test "sync: prints a read_res for each page it changed" {
	fk write news k <<<'{"entries":[]}'
	fk write news j <<<'{"entries":[]}'
	server_add j server-1 '{"_uuid":"s","_timestamp":"3"}'
	run -0 fk sync
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == '{"event":"read_res","ns":"news","key":"j","page":{"_uuid":"j","entries":[{"_uuid":"s","_timestamp":"3"}],'* ]]
}

@test "sync: rejected changes are dropped with a warning and the page re-read" {
	fk write news k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	touch "$AUTHORITY_DIR/reject"
	run -0 --separate-stderr fk write news k <<<'{"entries":[{"_uuid":"b","_timestamp":"2"}]}'
	[[ "$stderr" == *'the authority rejected changes'* ]]
	[ "$(unsynced k)" = false ]
	run -0 fk read_sync news k
	[[ "$output" == *'"_uuid":"a"'* ]]
	[[ "$output" != *'"_uuid":"b"'* ]]
}

@test "sync: a second sync exits 75 at once" {
	fk write news k <<<'{"entries":[]}'
	flock "$DB-sync.lock" sleep 3 &
	sleep 0.3
	start=$(date +%s)
	run -75 --separate-stderr fk sync
	[[ "$stderr" == *'another flokvm sync is running'* ]]
	[ $(( $(date +%s) - start )) -lt 2 ]
	wait
}

@test "sync: keys with spaces, quotes, ; and \$(...) reach the pager verbatim" {
	key='a b"c;$(touch pwned)`touch pwned2`'
	run -0 fk write news "$key" <<<'{"entries":[]}'
	[[ "$(authority "$key")" == *'"entries":[]'* ]]
	[ ! -e pwned ] && [ ! -e pwned2 ] && [ ! -e "$AUTHORITY_DIR/pwned" ]
}

@test "sync: the authority's {} drops a cached page without local changes" {
	fk write news k <<<'{"entries":[]}'
	rm -rf "$AUTHORITY_DIR/pages"
	run -0 fk read news k
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == '{"event":"read_res","ns":"news","key":"k","page":{},"from":"pager","seq":2}' ]]
	run -0 fk ls news
	[ "$output" = "" ]
}

@test "sync: invalidate refuses unsynced changes (69) unless --discard" {
	touch "$AUTHORITY_DIR/offline"
	fk write news k <<<'{"entries":[]}' 2>/dev/null
	run -69 fk invalidate news k
	run -0 fk invalidate --discard news k
	[ "$(fk ls news)" = "" ]
}

@test "exec: a pager that hangs is killed at its timeout" {
	printf '#!/bin/sh\nsleep 30\n' >hang
	chmod +x hang
	services "{\"pagers\":[{\"name\":\"exec0\",\"namespace\":\"h\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/hang\"],\"timeout_ms\":300}}]}"
	start=$(date +%s%N)
	run -1 --separate-stderr fk read_sync h k
	[[ "$stderr" == *'timed out after 300 ms'* ]]
	[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]
	[ ! -e "$DB" ]
}

@test "exec: a pager that prints garbage changes nothing" {
	printf '#!/bin/sh\ncat >/dev/null; echo garbage\n' >garbage
	chmod +x garbage
	services "{\"pagers\":[{\"name\":\"exec0\",\"namespace\":\"g\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/garbage\"]}}]}"
	fk write g k <<<'{"entries":[]}' 2>/dev/null
	before=$(snapshot)
	run -1 --separate-stderr fk read g k
	[ "${#lines[@]}" -eq 1 ]
	[[ "$stderr" == *'output is not JSON'* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "exec: a copy that is not a valid page is never cached" {
	printf '#!/bin/sh\ncat >/dev/null; echo %s\n' "'{\"_uuid\":\"other\",\"entries\":[]}'" >wrong
	chmod +x wrong
	services "{\"pagers\":[{\"name\":\"exec0\",\"namespace\":\"g\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/wrong\"]}}]}"
	run -1 --separate-stderr fk read_sync g k
	[[ "$stderr" == *'not a valid page'*'differs from the key'* ]]
	[ ! -e "$DB" ] || [ "$(fk ls g)" = "" ]
}

@test "net_sim: serves fixture pages after its delay and refuses writes" {
	echo '{"_uuid":"front","entries":[{"_uuid":"n1","_timestamp":"1"}]}' >"$XDG_CONFIG_HOME/flokvm/fixture.jsonl"
	services '{"pagers":[{"name":"net_sim0","namespace":"net","options":{"pages":"fixture.jsonl","delay_ms":200}}]}'
	start=$(date +%s%N)
	run -0 fk read net front
	[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 200 ]
	[ "${lines[0]}" = '{"event":"read_res","ns":"net","key":"front","page":{},"from":"cache","seq":0}' ]
	[[ "${lines[1]}" == *'"_uuid":"n1"'*'"from":"pager","seq":1}' ]]
	run -69 --separate-stderr fk write net front <<<'{"entries":[]}'
	[[ "$stderr" == *'does not accept writes'* ]]
	run -0 fk read net missing
	[ "${#lines[@]}" -eq 1 ]
}

@test "exec: examples/http-feed pulls a feed from a local HTTP server; an unchanged feed is no change" {
	mkdir -p www
	echo '[{"id":"a1","title":"hello","updated":1433865600000},{"id":"a2","title":"world"}]' >www/tech.json
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
	python3 -m http.server --bind 127.0.0.1 --directory www "$port" >/dev/null 2>&1 &
	server=$!
	export FEED_BASE_URL="http://127.0.0.1:$port/" FEED_SUFFIX=.json
	wait_for curl -fsS -o /dev/null "http://127.0.0.1:$port/tech.json"
	services "{\"pagers\":[{\"name\":\"feed\",\"namespace\":\"feeds\",\"options\":{\"type\":\"exec\",\"command\":[\"$EXAMPLES/http-feed\"]}}]}"
	run -0 fk read feeds tech
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *'"entries":[{"_uuid":"a1","_timestamp":"1433865600000","title":"hello"},{"_uuid":"a2",'*'"from":"pager","seq":1}' ]]
	run -0 fk read feeds tech
	[ "${#lines[@]}" -eq 1 ]
	echo '[{"id":"a3","title":"new"}]' >www/tech.json
	run -0 fk sync feeds
	[[ "$output" == *'"_uuid":"a3"'* ]]
	kill "$server"
	run -1 fk read_sync feeds other
}

@test "sync: an offline batch warns once and counts the rest; sync shows 20 failures and counts the rest" {
	touch "$AUTHORITY_DIR/offline"
	for i in $(seq 1 25); do
		printf '{"req":"write","ns":"news","key":"k%02d","page":{"entries":[]}}\n' "$i"
	done >reqs.jsonl
	run -0 --separate-stderr fk batch <reqs.jsonl
	[ "$(grep -c '"status":0' <<<"$output")" = 25 ]
	[ "$(wc -l <<<"$stderr")" = 2 ]
	[[ "$(sed -n 1p <<<"$stderr")" == 'flokvm: batch: warning: namespace "news" key "k01": written locally, not pushed yet: '*'authority offline'* ]]
	[[ "$(sed -n 2p <<<"$stderr")" == 'flokvm: batch: warning: 24 more pages written locally, not pushed yet '* ]]
	[ "$(fk ls news | grep -c '"unsynced":true')" = 25 ]
	# 25 pushes and 25 refreshes fail
	run -1 --separate-stderr fk sync --now
	[ "$(grep -c 'authority offline' <<<"$stderr")" = 20 ]
	[ "$(tail -n 1 <<<"$stderr")" = 'flokvm: sync: 30 more failures not shown (-v shows them all)' ]
	run -1 --separate-stderr fk sync --now -v
	[ "$(grep -c 'authority offline' <<<"$stderr")" = 50 ]
	[[ "$stderr" != *'not shown'* ]]
	rm "$AUTHORITY_DIR/offline"
	run -0 fk sync --now
	[ "$(fk ls news | grep -c '"unsynced":false')" = 25 ]
}
