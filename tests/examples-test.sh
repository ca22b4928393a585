#!/bin/sh
#
# examples-test.sh - runs the example exec pagers in examples/ directly, as
# flokvm would (SCRIPT OP NS KEY, SPEC §8), without the flokvm binary.
#
# http-feed is pointed at a `python3 -m http.server` on 127.0.0.1 serving a
# temporary folder; dir-authority at a temporary AUTHORITY_DIR.  Prints TAP
# and exits 1 if any test failed.  Everything it makes lives in one mktemp
# folder, removed on exit, and the server is always stopped (trap).

# dir-authority merges pushes onto its copy with `flokvm replay`: the
# binary under test ($FLOKVM, set by meson), else the build's.
: "${FLOKVM:=$(dirname "$0")/../build/cli/flokvm}"
export FLOKVM

set -u

top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
feed=$top/examples/http-feed
auth=$top/examples/dir-authority
tmp=$(mktemp -d "${TMPDIR:-/tmp}/examples-test.XXXXXX") || exit 1
server=

stop_server() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null
		wait "$server" 2>/dev/null
		server=
	fi
}

trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- TAP ------------------------------------------------------------------

n=0
failed=0

# ok STATUS NAME: a test passed when STATUS is 0.
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# is GOT WANT NAME: string equality, showing both on failure.
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
	fi
}

# run INPUT CMD...: runs CMD with INPUT on stdin, in $tmp/cwd (where a
# command injected through a key would create its files); sets out, err
# and rc.
run() {
	printf '%s' "$1" >"$tmp/in"
	shift
	(cd "$tmp/cwd" && "$@") <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# json VALUE: the JSON string literal of VALUE (python3, so no escaping by
# hand; the value is an argument, never part of the program).
json() {
	python3 -c 'import json, sys; print(json.dumps(sys.argv[1], ensure_ascii=False))' "$1"
}

mkdir "$tmp/cwd" "$tmp/www" "$tmp/www/feeds" "$tmp/authority"

# ---- http-feed ------------------------------------------------------------

# Starts the server on a free port; a port taken between the probe and the
# bind is retried with another.
start_server() {
	tries=0
	while [ "$tries" -lt 5 ]; do
		tries=$((tries + 1))
		port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
		python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" \
			"$port" >"$tmp/server.log" 2>&1 &
		server=$!
		waits=0 # up to 5 s for the server to answer
		while [ "$waits" -lt 20 ]; do
			waits=$((waits + 1))
			if curl -fsS --max-time 1 -o /dev/null \
				"http://127.0.0.1:$port/" 2>/dev/null; then
				return 0
			fi
			kill -0 "$server" 2>/dev/null || break
			sleep 0.25
		done
		stop_server
	done
	return 1
}

cat >"$tmp/www/feeds/news.json" <<'EOF'
[
  {"id": "a1", "title": "hello", "updated": 1433865600000},
  {"id": 2, "title": "no timestamp", "_private": true},
  {"id": "a1", "title": "a repeated id"},
  "not an object",
  {"title": "no id"},
  {"id": "b", "updated": "1433865600001", "tags": ["x", "y"], "n": 1.5}
]
EOF
# Keys become file names on the server: quotes, spaces and $(...) included.
cp "$tmp/www/feeds/news.json" "$tmp/www/feeds/it's \$(touch pwned) news.json"
printf '{"id": "a1"}' >"$tmp/www/feeds/object.json"

news='{"_uuid":"news","entries":[{"_uuid":"a1","_timestamp":"1433865600000","title":"hello"},{"_uuid":"2","_timestamp":"0","title":"no timestamp"},{"_uuid":"b","_timestamp":"1433865600001","tags":["x","y"],"n":1.5}]}'

if start_server; then
	ok 0 "http-feed: a test server runs on 127.0.0.1:$port"
	export FEED_BASE_URL="http://127.0.0.1:$port/feeds/"
	export FEED_SUFFIX=.json

	run '{}' "$feed" read news news
	is "$rc" 0 "http-feed: read exits 0"
	is "$out" "$news" "http-feed: read prints the feed as a page"
	cp "$tmp/out" "$tmp/first"
	run '{}' "$feed" read news news
	cmp -s "$tmp/first" "$tmp/out"
	ok $? "http-feed: the same feed gives byte-identical output"

	run "$news" "$feed" read news news
	cmp -s "$tmp/first" "$tmp/out"
	ok $? "http-feed: the cached page on stdin does not change the output"

	key="it's \$(touch pwned) news"
	run '{}' "$feed" read news "$key"
	is "$rc" 0 "http-feed: a key with a quote, spaces and \$(...) is fetched"
	got=$(printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["_uuid"])')
	is "$got" "$key" "http-feed: ... and is the page's _uuid verbatim"
	[ ! -e "$tmp/cwd/pwned" ] && [ ! -e "$tmp/www/pwned" ]
	ok $? "http-feed: ... and runs nothing"

	run '{}' "$feed" read news missing
	is "$rc" 1 "http-feed: a missing feed (404) exits 1"
	case $err in *"cannot fetch"*) ok 0 "http-feed: ... saying so on stderr" ;;
	*) ok 1 "http-feed: ... saying so on stderr (got: $err)" ;; esac

	run '{}' "$feed" read news object
	is "$rc" 1 "http-feed: a feed that is not an array exits 1"

	run '{"page":{},"changes":[],"changes_id":"c1"}' "$feed" sync news news
	is "$rc" 69 "http-feed: sync is refused with 69"
	case $err in *"read-only feed"*) ok 0 "http-feed: ... as a read-only feed" ;;
	*) ok 1 "http-feed: ... as a read-only feed (got: $err)" ;; esac

	for op in watch unwatch invalidate; do
		run '' "$feed" "$op" news news
		is "$rc:$out" "0:" "http-feed: $op exits 0 and prints nothing"
	done

	stop_server
	run '{}' "$feed" read news news
	is "$rc" 1 "http-feed: with the server down, read exits 1"
	[ -n "$err" ] && [ -z "$out" ]
	ok $? "http-feed: ... with a message on stderr and nothing on stdout"
	unset FEED_BASE_URL FEED_SUFFIX
else
	ok 1 "http-feed: a test server runs on 127.0.0.1"
	sed 's/^/#   /' "$tmp/server.log"
fi

run '{}' "$feed" read news news
is "$rc" 1 "http-feed: without FEED_BASE_URL, read exits 1"
run '' "$feed" read news
is "$rc" 2 "http-feed: two arguments are a usage error"
run '' "$feed" frobnicate news news
is "$rc" 2 "http-feed: an unknown operation is a usage error"

# ---- dir-authority --------------------------------------------------------

export AUTHORITY_DIR="$tmp/authority"

p1='{"_uuid":"k","entries":[{"_uuid":"e1","_timestamp":"1"}],"_hash":"111"}'
p2='{"_uuid":"k","entries":[{"_uuid":"e2","_timestamp":"2"}],"_hash":"252178707"}'
# the changes that turn p1 into p2 (flokvm diff)
d12='[["-","e1"],["+",0,{"_uuid":"e2","_timestamp":"2"}]]'

run '{}' "$auth" read news k
is "$rc:$out" "0:{}" "dir-authority: read of a missing page prints {}"

run "{\"page\":$p1,\"changes\":[],\"changes_id\":\"c1\"}" "$auth" sync news k
is "$rc" 0 "dir-authority: sync exits 0"
is "$out" "{\"page\":$p1,\"changes_id\":\"c1\"}" \
	"dir-authority: sync answers the stored page and the changes_id"

run '{}' "$auth" read news k
is "$out" "$p1" "dir-authority: read prints the stored page"

run "{\"page\":$p2,\"changes\":[],\"changes_id\":\"c1\"}" "$auth" sync news k
is "$rc:$out" "0:{\"page\":$p1,\"changes_id\":\"c1\"}" \
	"dir-authority: a changes_id applied before answers the current page"
run '{}' "$auth" read news k
is "$out" "$p1" "dir-authority: ... and is not applied again"

run "$p1" "$auth" read news k
is "$rc:$out" "0:" "dir-authority: read with the stored _hash prints nothing"
run '{"_uuid":"k","entries":[{"_uuid":"e1","_timestamp":"1"}],"_hash":"999"}' \
	"$auth" read news k
is "$out" "$p1" "dir-authority: read with another _hash prints the page"
run '{"_uuid":"k","entries":[{"_uuid":"e1","_timestamp":"1"}],"_hash":"111","note":1}' \
	"$auth" read news k
is "$out" "$p1" "dir-authority: read with the same _hash but another payload prints the page"

run "{\"page\":$p2,\"changes\":$d12,\"changes_id\":\"c2\"}" "$auth" sync news k
is "$rc:$out" "0:{\"page\":$p2,\"changes_id\":\"c2\"}" \
	"dir-authority: a new changes_id is applied"

run '{}' "$auth" read other k
is "$out" "{}" "dir-authority: namespaces are kept apart"

run '{"page":{"_uuid":"x","entries":[]},"changes":[],"changes_id":"c3"}' \
	"$auth" sync news k
is "$rc" 65 "dir-authority: a pushed page with another _uuid is rejected (65)"
run '{"changes":[]}' "$auth" sync news k
is "$rc" 65 "dir-authority: a push without page and changes_id is rejected (65)"

touch "$AUTHORITY_DIR/reject"
run "{\"page\":$p1,\"changes\":[],\"changes_id\":\"c4\"}" "$auth" sync news k
is "$rc" 65 "dir-authority: with reject, sync exits 65"
run '{}' "$auth" read news k
is "$rc:$out" "0:$p2" "dir-authority: ... stores nothing, and read still works"
rm "$AUTHORITY_DIR/reject"

touch "$AUTHORITY_DIR/offline"
run '{}' "$auth" read news k
is "$rc:$err" "75:dir-authority: authority offline" \
	"dir-authority: offline, read exits 75 saying \"authority offline\""
run "{\"page\":$p1,\"changes\":[],\"changes_id\":\"c5\"}" "$auth" sync news k
is "$rc" 75 "dir-authority: offline, sync exits 75"
run '' "$auth" watch news k
is "$rc" 75 "dir-authority: offline, watch exits 75"
rm "$AUTHORITY_DIR/offline"
run '{}' "$auth" read news k
is "$out" "$p2" "dir-authority: back online, the c5 push was never stored"

rm -f "$AUTHORITY_DIR/calls.log"
for op in watch unwatch invalidate; do
	run '' "$auth" "$op" news k
	is "$rc:$out" "0:" "dir-authority: $op exits 0"
done
run '' "$auth" watch news ''
want='{"op":"watch","ns":"news","key":"k"}
{"op":"unwatch","ns":"news","key":"k"}
{"op":"invalidate","ns":"news","key":"k"}
{"op":"watch","ns":"news","key":""}'
is "$(cat "$AUTHORITY_DIR/calls.log")" "$want" \
	"dir-authority: the notifications are in calls.log"

# Keys a shell would act on, stored and read back verbatim.
i=0
# shellcheck disable=SC2016 # the $(...) and `...` are meant literally
for key in 'a b' "it's" 'say "hi"' '$(touch pwned)' '`touch pwned`' \
	'a; touch pwned' '../../x/y' '-n' 'café ☕'; do
	i=$((i + 1))
	page="{\"_uuid\":$(json "$key"),\"entries\":[]}"
	run "{\"page\":$page,\"changes\":[],\"changes_id\":\"w$i\"}" \
		"$auth" sync news "$key"
	is "$rc:$out" "0:{\"page\":$page,\"changes_id\":\"w$i\"}" \
		"dir-authority: key '$key' is stored"
	run '{}' "$auth" read news "$key"
	is "$out" "$page" "dir-authority: key '$key' reads back verbatim"
done
[ ! -e "$tmp/cwd/pwned" ] && [ ! -e "$AUTHORITY_DIR/pwned" ] &&
	[ ! -e "$top/pwned" ]
ok $? "dir-authority: no key ran a command (no file pwned)"
[ -z "$(find "$tmp" -name pwned)" ] && [ ! -e "$tmp/x" ]
ok $? "dir-authority: ... and none wrote outside AUTHORITY_DIR/pages"

unset AUTHORITY_DIR
run '{}' "$auth" read news k
is "$rc" 1 "dir-authority: without AUTHORITY_DIR, read exits 1"
run '' "$auth" read news
is "$rc" 2 "dir-authority: two arguments are a usage error"

echo "1..$n"
[ "$failed" -eq 0 ]
