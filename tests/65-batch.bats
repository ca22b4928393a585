#!/usr/bin/env bats
# batch (SPEC 4.3): requests as JSON lines, done acknowledgements only
# after commit, error lines, grouping, --atomic.

load helpers

req() { # req REQ KEY [EXTRA-JSON-MEMBERS]
	printf '{"req":"%s","ns":"user","key":"%s"%s}\n' "$1" "$2" "${3:+,$3}"
}

@test "batch: one done line per request, in order, with status, seq and hash" {
	{
		req write a '"page":{"entries":[]}'
		req write b '"page":{"entries":[{"_uuid":"x","_timestamp":"1"}]}'
		req read_sync a
		req read a
		req invalidate b
		req read_sync b
	} >in.jsonl
	run -0 fk batch <in.jsonl
	[ "${lines[0]}" = '{"event":"done","line":1,"ns":"user","key":"a","status":0,"seq":1,"hash":"3904355907"}' ]
	[[ "${lines[1]}" == '{"event":"done","line":2,"ns":"user","key":"b","status":0,"seq":2,"hash":"'* ]]
	[ "${lines[2]}" = '{"event":"read_res","ns":"user","key":"a","page":{"_uuid":"a","entries":[],"_hash":"3904355907"},"seq":1}' ]
	[ "${lines[3]}" = '{"event":"done","line":3,"ns":"user","key":"a","status":0,"seq":1,"hash":"3904355907"}' ]
	[[ "${lines[4]}" == *'"from":"cache","seq":1}' ]]
	[ "${lines[5]}" = '{"event":"done","line":4,"ns":"user","key":"a","status":0,"seq":1,"hash":"3904355907"}' ]
	[ "${lines[6]}" = '{"event":"done","line":5,"ns":"user","key":"b","status":0,"seq":0,"hash":null}' ]
	[ "${lines[7]}" = '{"event":"read_res","ns":"user","key":"b","page":{},"seq":0}' ]
	[ "${#lines[@]}" -eq 9 ]
	run -0 fk ls user
	[ "${#lines[@]}" -eq 1 ]
}

@test "batch: a bad line is an error event in its turn; the batch goes on; exit 65" {
	{
		req write a '"page":{"entries":[]}'
		echo 'not json'
		echo '{"req":"frob","ns":"user","key":"k"}'
		req write b '"page":{"entries":[]}'
	} >in.jsonl
	run -65 fk batch <in.jsonl
	[[ "${lines[0]}" == '{"event":"done","line":1,'* ]]
	[[ "${lines[1]}" == '{"event":"error","line":2,"status":65,"message":"column 1: '* ]]
	[ "${lines[2]}" = '{"event":"error","line":3,"status":65,"message":"req: expected one of write, read, read_sync, invalidate"}' ]
	[[ "${lines[3]}" == '{"event":"done","line":4,"ns":"user","key":"b","status":0,'* ]]
	[ "$(fk ls user | wc -l)" -eq 2 ]
}

@test "batch: failed requests carry the one-shot status and message; exit is the first" {
	{
		req write a '"page":{"entries":[]}'
		printf '{"req":"write","ns":"news","key":"k","page":{"entries":[]}}\n'
		req write a '"page":{"entries":[]},"if_seq":7'
		req write c '"page":{"_uuid":"zz","entries":[]}'
	} >in.jsonl
	run -69 fk batch <in.jsonl
	[[ "${lines[1]}" == '{"event":"done","line":2,"ns":"news","key":"k","status":69,"seq":0,"hash":null,"message":"no pager serves namespace \"news\"'* ]]
	[[ "${lines[2]}" == *'"status":3,'*'--if-seq 7 failed: the stored page is at revision 1'* ]]
	[[ "${lines[3]}" == *'"status":65,'*'_uuid: \"zz\" differs from the key'* ]]
	[ "$(fk ls user | wc -l)" -eq 1 ]
}

@test "batch: an answered request is committed (a co-process waits for each answer)" {
	coproc BATCH { "$FLOKVM" --db "$DB" batch; }
	# bash unsets BATCH_PID once the coprocess has exited: keep it
	local pid=$BATCH_PID
	for k in a b c; do
		req write "$k" '"page":{"entries":[]}' >&"${BATCH[1]}"
		read -r -t 10 answer <&"${BATCH[0]}"
		[[ "$answer" == *"\"key\":\"$k\",\"status\":0"* ]]
		# another connection sees it: it is committed
		[ "$(sqlite3 "$DB" "SELECT count(*) FROM pages WHERE key = '$k'")" = 1 ]
	done
	exec {BATCH[1]}>&-
	wait "$pid"
}

@test "batch: FLOKVM_BATCH_GROUP groups writes; every write lands" {
	export FLOKVM_BATCH_GROUP=3
	for n in $(seq 1 10); do req write "k$n" '"page":{"entries":[]}'; done >in.jsonl
	run -0 fk batch <in.jsonl
	[ "$(grep -c '"status":0' <<<"$output")" -eq 10 ]
	[ "$(fk ls user | wc -l)" -eq 10 ]
	[ "$(sqlite3 "$DB" 'SELECT max(seq) FROM changes')" = 10 ]
	run -0 fk check
}

@test "batch --atomic: all or nothing" {
	{
		req write a '"page":{"entries":[]}'
		req write b '"page":{}'
	} >in.jsonl
	run -65 fk batch --atomic <in.jsonl
	[ "${lines[0]}" = '{"event":"done","line":1,"ns":"user","key":"a","status":1,"seq":0,"hash":null,"message":"rolled back: --atomic and a request failed"}' ]
	[[ "${lines[1]}" == *'"status":65,'* ]]
	[ ! -e "$DB" ] || [ "$(fk ls user)" = "" ]
	# A read of what the rolled-back transaction wrote prints nothing.
	{
		req write a '"page":{"entries":[{"_uuid":"e1","_timestamp":"1"}]}'
		req read a
		req write b '"page":{}'
	} >in.jsonl
	run -65 fk batch --atomic <in.jsonl
	[ "${#lines[@]}" -eq 3 ]
	[[ "$output" != *read_res* ]]
	[[ "${lines[1]}" == '{"event":"done","line":2,"ns":"user","key":"a","status":1,'*'rolled back'* ]]
	{
		req write a '"page":{"entries":[]}'
		req write b '"page":{"entries":[]}'
	} >in.jsonl
	run -0 fk batch --atomic <in.jsonl
	[ "$(fk ls user | wc -l)" -eq 2 ]
}

@test "batch --atomic is refused (2) for a namespace whose pager pushes" {
	services "{\"pagers\":[{\"name\":\"mem0\",\"namespace\":\"user\"},{\"name\":\"exec0\",\"namespace\":\"news\",\"options\":{\"type\":\"exec\",\"command\":[\"/bin/false\"]}}]}"
	{
		req write a '"page":{"entries":[]}'
		printf '{"req":"write","ns":"news","key":"k","page":{"entries":[]}}\n'
	} >in.jsonl
	run -2 fk batch --atomic <in.jsonl
	[[ "${lines[1]}" == *'"status":2,'*'its pager pushes'* ]]
	[ ! -e "$DB" ] || [ "$(fk ls user)" = "" ]
}

@test "batch: a pager is never called inside the group's transaction" {
	services '{"pagers":[{"name":"spec0","namespace":"user","options":{"log":"calls.log"}}]}'
	for n in 1 2 3; do req write "k$n" '"page":{"entries":[]}'; done >in.jsonl
	run -0 fk batch <in.jsonl
	run -0 grep -c '"call":"write"' "$XDG_CONFIG_HOME/flokvm/calls.log"
	[ "$output" = 3 ]
	[ "$(fk ls user | wc -l)" -eq 3 ]
}

@test "batch: usage errors exit 2" {
	run -2 fk batch extra
	run -2 fk batch --frob
}
