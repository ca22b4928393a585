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

# --- services files, command lines, diffs and pager output -------------
# Each case: the exit status, the message, and a store unchanged.

# keep_store STATUS MESSAGE CMD...: runs CMD after storing a known page
# and checks status, one-line message and the store byte for byte.
keep_store() {
	local status=$1 message=$2
	shift 2
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	local before
	before=$(snapshot)
	run "-$status" --separate-stderr "$@"
	if [[ "$stderr" != *"$message"* ]]; then
		echo "stderr: $stderr"
		echo "wanted: $message"
		return 1
	fi
	[ "$(snapshot)" = "$before" ]
}

bad_services() { # bad_services TEXT: a services file for --services
	printf '%s\n' "$1" >bad-services.rb
}

@test "bad input: services file with an unterminated string" {
	bad_services 'service_instance :vm, :vm, { :pagers => [ { :name => "mem0 } ] }'
	keep_store 65 'bad-services.rb:1: ' fk --services bad-services.rb write user k <<<'{"entries":[]}'
}

@test "bad input: services file with an unknown pager type" {
	bad_services '{"pagers":[{"name":"x","namespace":"user","options":{"type":"ftp"}}]}'
	keep_store 65 'unknown type "ftp"' fk --services bad-services.rb write user k <<<'{"entries":[]}'
}

@test "bad input: services file with a duplicate namespace" {
	bad_services '{"pagers":[{"name":"mem0","namespace":"user"},{"name":"mem1","namespace":"user"}]}'
	keep_store 65 'duplicate namespace "user"' fk --services bad-services.rb read_sync user k
}

@test "bad input: services file with a pager without a namespace" {
	bad_services '{"pagers":[{"name":"a"}]}'
	keep_store 65 'bad-services.rb:1: pager needs a "namespace"' fk --services bad-services.rb pagers
}

@test "bad input: services file with readonly not a boolean" {
	bad_services '{"pagers":[{"name":"a","namespace":"user","options":{"readonly":"yes"}}]}'
	keep_store 65 'readonly' fk --services bad-services.rb pagers
}

@test "bad input: services file with an unknown setting" {
	bad_services '{"pagers":[{"name":"mem0","namespace":"user"}],"settings":{"colour":"red"}}'
	keep_store 65 "unknown setting 'colour'" fk --services bad-services.rb write user k <<<'{"entries":[]}'
}

@test "bad input: a bad setting in the environment" {
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"}]}'
	before=$(snapshot)
	FLOKVM_BUSY_TIMEOUT_MS=soon run -65 --separate-stderr fk write user k <<<'{"entries":[]}'
	[[ "$stderr" == "flokvm: write: environment FLOKVM_BUSY_TIMEOUT_MS: setting busy_timeout_ms: 'soon' is not an integer"* ]]
	[ "$(snapshot)" = "$before" ]
}

@test "bad input: an unknown command line option" {
	keep_store 2 "unknown option '--frob'" fk write --frob user k <<<'{"entries":[]}'
}

@test "bad input: a missing operand" {
	keep_store 2 'expected a namespace and a key' fk write user <<<'{"entries":[]}'
}

@test "bad input: --if-seq that is not a number" {
	keep_store 2 "--if-seq: 'x' is not a revision" fk write --if-seq x user k <<<'{"entries":[]}'
}

@test "bad input: a namespace with a control character" {
	keep_store 65 'namespace contains a control character' fk write "$(printf 'us\ter')" k <<<'{"entries":[]}'
}

@test "bad input: a diff that is not an array" {
	echo '{"_uuid":"p","entries":[]}' >p.json
	echo '{"steps":[]}' >d.json
	keep_store 65 'd.json: diff: expected an array of steps' fk replay p.json d.json
}

@test "bad input: a diff step with a negative index" {
	echo '{"_uuid":"p","entries":[]}' >p.json
	echo '[["+",-1,{"_uuid":"x","_timestamp":"1"}]]' >d.json
	keep_store 65 'd.json: step 0: ' fk replay p.json d.json
}

@test "bad input: a diff inserting an entry with a bad timestamp" {
	echo '{"_uuid":"p","entries":[]}' >p.json
	echo '[["+",0,{"_uuid":"x","_timestamp":"soon"}]]' >d.json
	keep_store 65 'the replayed page: entries[0]._timestamp: expected a decimal string' fk replay p.json d.json
}

@test "bad input: a pager copy whose _uuid is another page's is never cached" {
	printf '#!/bin/sh\ncat >/dev/null; echo %s\n' "'{\"_uuid\":\"other\",\"entries\":[]}'" >pager
	chmod +x pager
	services "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\"},{\"name\":\"e\",\"namespace\":\"x\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/pager\"]}}]}"
	keep_store 1 'not a valid page' fk read x k
}

@test "bad input: a pager copy with an entry without a timestamp is never cached" {
	printf '#!/bin/sh\ncat >/dev/null; echo %s\n' "'{\"entries\":[{\"_uuid\":\"a\"}]}'" >pager
	chmod +x pager
	services "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\"},{\"name\":\"e\",\"namespace\":\"x\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/pager\"]}}]}"
	keep_store 1 'entries[0]: missing _timestamp' fk read_sync x k
}

@test "bad input: a pager that prints more than the page limit" {
	printf '#!/bin/sh\ncat >/dev/null; head -c 300000 /dev/zero | tr "\\\\0" " "; echo "{}"\n' >pager
	chmod +x pager
	services "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\"},{\"name\":\"e\",\"namespace\":\"x\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/pager\"]}}]}"
	FLOKVM_MAX_PAGE_BYTES=100000 keep_store 1 'more than' fk read_sync x k
}

@test "bad input: a pager that fails says so with its stderr" {
	printf '#!/bin/sh\necho "no route to host" >&2; exit 7\n' >pager
	chmod +x pager
	services "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\"},{\"name\":\"e\",\"namespace\":\"x\",\"options\":{\"type\":\"exec\",\"command\":[\"$PWD/pager\"]}}]}"
	keep_store 1 'exited with status 7: no route to host' fk read_sync x k
}
