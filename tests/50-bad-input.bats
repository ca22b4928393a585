#!/usr/bin/env bats
# The bad-input catalogue: each case asserts the exit status, the message
# and that the stored page is byte-for-byte unchanged.

load helpers


# Stores a known page, then runs `write user k` with the given input and
# checks status, message and the unchanged store.
reject() {
	local status=$1 message=$2 input=$3
	shift 3
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1","t":"x"}]}'
	local before
	before=$(snapshot)
	run "-$status" --separate-stderr fk write "$@" user k <<<"$input"
	if [[ "$stderr" != *"$message"* ]]; then
		echo "stderr: $stderr"
		echo "wanted: $message"
		return 1
	fi
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[ "$(snapshot)" = "$before" ]
}

@test "bad input: malformed JSON" {
	reject 65 'flokvm: write: namespace "user" key "k": line 1, column 13: ' '{"entries":[}'
}

@test "bad input: trailing garbage" {
	reject 65 'trailing garbage' '{"entries":[]} x'
}

@test "bad input: empty input" {
	reject 65 'empty input' ''
}

@test "bad input: not an object" {
	reject 65 'expected a JSON object' '[1,2]'
}

@test "bad input: a page without entries" {
	reject 65 'entries: missing' '{"title":"x"}'
}

@test "bad input: entries of the wrong type" {
	reject 65 'entries: expected an array' '{"entries":"x"}'
}

@test "bad input: an entry that is not an object" {
	reject 65 'entries[1]: expected an object' '{"entries":[{},3]}'
}

@test "bad input: a _uuid that differs from the key" {
	reject 65 '_uuid: "other" differs from the key' '{"_uuid":"other","entries":[]}'
}

@test "bad input: duplicate entry uuids" {
	reject 65 'entries[1]._uuid: duplicate entry _uuid (also at entries[0])' \
		'{"entries":[{"_uuid":"a"},{"_uuid":"a"}]}'
}

@test "bad input: duplicate object keys, nested" {
	reject 65 'entries[0].p: duplicate key "q"' '{"entries":[{"p":{"q":1,"q":2}}]}'
}

@test "bad input: invalid UTF-8" {
	reject 65 'invalid UTF-8' "$(printf '{"entries":[],"x":"\xff"}')"
}

@test "bad input: a \\u0000 escape" {
	reject 65 'x: ' '{"entries":[],"x":"a\u0000b"}'
}

@test "bad input: a lone surrogate escape" {
	reject 65 'x: ' '{"entries":[],"x":"\ud800"}'
}

@test "bad input: an integer beyond 2^53" {
	reject 65 'n: integer beyond 2^53' '{"entries":[],"n":9007199254740993}'
}

@test "bad input: a bad timestamp" {
	reject 65 'entries[0]._timestamp: expected a decimal string' '{"entries":[{"_timestamp":"12a"}]}'
}

@test "bad input: a pointer of the wrong type" {
	reject 65 '_next: expected a string or null' '{"entries":[],"_next":1}'
}

@test "bad input: nesting deeper than the limit" {
	deep=$(printf '[%.0s' $(seq 1 70))$(printf ']%.0s' $(seq 1 70))
	reject 65 'nesting deeper than 64' "{\"entries\":[],\"d\":$deep}"
}

@test "bad input: a page over the size limit" {
	export FLOKVM_MAX_PAGE_BYTES=100
	reject 65 'standard input is larger than 100 bytes' \
		"{\"entries\":[],\"x\":\"$(printf 'a%.0s' $(seq 1 200))\"}"
}

@test "bad input: an oversized key" {
	fk write user k <<<'{"entries":[]}'
	before=$(snapshot)
	run -65 --separate-stderr fk write user "$(printf 'k%.0s' $(seq 1 1025))" <<<'{"entries":[]}'
	[[ "$stderr" == *'key is 1025 bytes long (at most 1024)' ]]
	[ "$(snapshot)" = "$before" ]
}

@test "bad input: a key with a control character" {
	fk write user k <<<'{"entries":[]}'
	before=$(snapshot)
	run -65 --separate-stderr fk write user "$(printf 'a\tb')" <<<'{"entries":[]}'
	[[ "$stderr" == *'key contains a control character'* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "bad input: an unknown namespace exits 69 and says how to configure one" {
	fk write user k <<<'{"entries":[]}'
	before=$(snapshot)
	run -69 --separate-stderr fk write news k <<<'{"entries":[]}'
	[[ "$stderr" == 'flokvm: write: no pager serves namespace "news"; '* ]]
	[ "$(snapshot)" = "$before" ]
	run -69 fk read news k
	run -69 fk read_sync news k
}

@test "bad input: the namespace is checked before the page" {
	run -69 fk write news k <<<'not json'
}

@test "bad input: --if-seq mismatch exits 3" {
	reject 3 '--if-seq 5 failed: the stored page is at revision 1 with hash' '{"entries":[]}' --if-seq 5
}

@test "bad input: --if-hash mismatch exits 3" {
	reject 3 '--if-hash 12 failed' '{"entries":[]}' --if-hash 12
}

@test "bad input: input is checked before the precondition" {
	reject 65 'entries: missing' '{}' --if-seq 5
}

@test "bad input: a foreign SQLite file given as --db" {
	sqlite3 other.db 'CREATE TABLE t (x)'
	sum=$(sha256sum other.db)
	run -1 --separate-stderr "$FLOKVM" --db other.db write user k <<<'{"entries":[]}'
	[[ "$stderr" == *"is not a flokvm database"* ]]
	[ "$(sha256sum other.db)" = "$sum" ]
}
