#!/usr/bin/env bats
# watch: cached copies, changes from other processes, resume, signals,
# pager watch/unwatch and the reaping of dead watchers.

load helpers

# seqs FILE: the "seq" of every line, in order.
seqs() {
	sed -E 's/.*"seq":([0-9]+)\}$/\1/' "$1" | tr '\n' ' '
}

@test "watch: cached copy first, then each change by other processes, in order" {
	fk write user k <<<'{"entries":[],"v":0}'
	fk watch --count 4 --timeout 20 user k >out &
	wait_for has_watchers 1
	fk write user k <<<'{"entries":[],"v":1}'
	fk write user k <<<'{"entries":[],"v":2}'
	fk invalidate user k
	wait
	run cat out
	[ "${#lines[@]}" -eq 4 ]
	[ "${lines[0]}" = '{"event":"read_res","ns":"user","key":"k","page":{"_uuid":"k","entries":[],"v":0,"_hash":"140662621"},"from":"cache","seq":1}' ]
	# coalescing may merge v=1 into v=2 if the watcher was slow; it is not:
	# it wakes per commit.  Each change appears once, in order.
	[[ "${lines[1]}" == *'"v":1,'*'"seq":2}' ]]
	[[ "${lines[2]}" == *'"v":2,'*'"seq":3}' ]]
	[ "${lines[3]}" = '{"event":"invalidated","ns":"user","key":"k","seq":4}' ]
	[ "$(watchers)" = 0 ]
}

@test "watch: a missing page prints nothing cached and shows its creation" {
	fk watch --count 1 --timeout 20 user new >out &
	wait_for has_watchers 1
	fk write user new <<<'{"entries":[]}'
	wait
	run -0 cat out
	[[ "$output" == '{"event":"read_res","ns":"user","key":"new","page":{"_uuid":"new",'*'"seq":1}' ]]
}

@test "watch: an identical rewrite and other keys produce no event" {
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"5"}]}'
	fk watch --timeout 1.5 user k >out &
	wait_for has_watchers 1
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"5"}]}'
	fk write user k <<<'{"entries":[{"_uuid":"a"}]}'
	fk write user other <<<'{"entries":[]}'
	wait
	run -0 cat out
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *'"from":"cache","seq":1}' ]]
}

@test "watch: a namespace watch sees every key of the namespace, not others" {
	services '{"pagers":[{"name":"mem0","namespace":"user"},{"name":"mem1","namespace":"other"}]}'
	fk write user a <<<'{"entries":[]}'
	fk watch --count 3 --timeout 20 user >out &
	wait_for has_watchers 1
	fk write other x <<<'{"entries":[]}'
	fk write user b <<<'{"entries":[]}'
	fk write user c <<<'{"entries":[]}'
	wait
	run -0 cat out
	[[ "${lines[0]}" == *'"key":"a",'*'"from":"cache","seq":1}' ]]
	[[ "${lines[1]}" == *'"key":"b",'*'"seq":3}' ]]
	[[ "${lines[2]}" == *'"key":"c",'*'"seq":4}' ]]
}

@test "watch: several writers, each change once, sequence numbers increasing" {
	fk write user seed <<<'{"entries":[]}'
	fk watch --count 61 --timeout 60 user >out &
	wait_for has_watchers 1
	for w in 1 2 3; do
		(for n in $(seq 1 20); do fk write user "w$w-$n" <<<'{"entries":[]}'; done) &
	done
	wait
	run -0 cat out
	[ "${#lines[@]}" -eq 61 ]
	prev=0
	for s in $(seqs out); do
		[ "$s" -gt "$prev" ]
		prev=$s
	done
	[ "$prev" -eq 61 ]
	[ "$(grep -c '"key":"w' out)" -eq 60 ]
}

@test "watch --since: replays exactly the missed changes, newest copy per key" {
	fk write user k <<<'{"entries":[],"v":1}'
	fk write user j <<<'{"entries":[],"v":1}'
	fk write user k <<<'{"entries":[],"v":2}'
	fk write user k <<<'{"entries":[],"v":3}'
	run -0 fk watch --since 1 --timeout 0.5 user
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *'"key":"j",'*'"seq":2}' ]]
	[[ "${lines[1]}" == *'"key":"k",'*'"v":3,'*'"seq":4}' ]]
	run -0 fk watch --since 4 --timeout 0.3 user
	[ "$output" = "" ]
	run -0 fk watch --since 0 --timeout 0.3 user k
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" != *'"from"'* ]]
}

@test "watch --since: above the newest exits 65; trimmed exits 3 naming the oldest" {
	export FLOKVM_LOG_MAX_ROWS=2
	for v in 1 2 3 4 5; do fk write user k <<<"{\"entries\":[],\"v\":$v}"; done
	run -65 --separate-stderr fk watch --since 9 user
	[ "$stderr" = 'flokvm: watch: --since 9 is above the newest sequence number 5' ]
	run -3 --separate-stderr fk watch --since 1 user
	[ "$stderr" = 'flokvm: watch: seq 1 no longer in the log (oldest 4); re-read and resume' ]
	run -0 fk watch --since 3 --timeout 0.3 user
	[ "${#lines[@]}" -eq 1 ]
	[ "$(watchers)" = 0 ]
}

@test "watch: a watcher overtaken by trimming exits 3" {
	export FLOKVM_LOG_MAX_ROWS=2
	fk write user k <<<'{"entries":[]}'
	# Hold the watcher's output so that it falls behind: stop it.
	"$FLOKVM" --db "$DB" watch --timeout 20 user >out &
	pid=$!
	wait_for has_watchers 1
	kill -STOP "$pid"
	for v in 1 2 3 4 5; do fk write user k <<<"{\"entries\":[],\"v\":$v}"; done
	kill -CONT "$pid"
	wait "$pid" && st=0 || st=$?
	[ "$st" -eq 3 ]
	[ "$(watchers)" = 0 ]
}

@test "watch: SIGINT exits 130, SIGTERM 143, both unregister" {
	"$FLOKVM" --db "$DB" watch user k >/dev/null &
	pid=$!
	wait_for has_watchers 1
	kill -INT "$pid"
	wait "$pid" && st=0 || st=$?
	[ "$st" -eq 130 ]
	[ "$(watchers)" = 0 ]
	"$FLOKVM" --db "$DB" watch user k >/dev/null &
	pid=$!
	wait_for has_watchers 1
	kill -TERM "$pid"
	wait "$pid" && st=0 || st=$?
	[ "$st" -eq 143 ]
	[ "$(watchers)" = 0 ]
	[ -z "$(ls "$DB-watchers" | grep -v registry.lock)" ]
}

@test "watch: a closed stdout ends it with 0 and unregisters" {
	fk write user k <<<'{"entries":[]}'
	run -0 bash -c "'$FLOKVM' --db '$DB' watch --timeout 20 user k | head -n 1; echo \"status \${PIPESTATUS[0]}\""
	[[ "${lines[0]}" == *'"from":"cache"'* ]]
	[ "${lines[1]}" = "status 0" ]
	[ "$(watchers)" = 0 ]
}

@test "watch --count counts the cached copies; --timeout ends with 0" {
	fk write user a <<<'{"entries":[]}'
	fk write user b <<<'{"entries":[]}'
	run -0 fk watch --count 2 user
	[ "${#lines[@]}" -eq 2 ]
	start=$(date +%s%N)
	run -0 fk watch --timeout 0.4 user nothing
	[ "$output" = "" ]
	[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 400 ]
}

@test "watch: the spec pager hears watch once per page and unwatch from the last" {
	services '{"pagers":[{"name":"spec0","namespace":"t","options":{"log":"calls.log"}}]}'
	log="$XDG_CONFIG_HOME/flokvm/calls.log"
	"$FLOKVM" --db "$DB" watch t k >/dev/null &
	a=$!
	wait_for has_watchers 1
	"$FLOKVM" --db "$DB" watch t k >/dev/null &
	b=$!
	wait_for has_watchers 2
	"$FLOKVM" --db "$DB" watch t >/dev/null &
	c=$!
	wait_for has_watchers 3
	kill "$a" "$c"
	wait_for has_watchers 1
	kill "$b"
	wait_for has_watchers 0
	wait || true
	run -0 grep -E '"call":"(un)?watch"' "$log"
	[ "${lines[0]}" = '{"call":"watch","ns":"t","key":"k","hash":null}' ]
	[ "${lines[1]}" = '{"call":"watch","ns":"t","key":null,"hash":null}' ]
	[ "${#lines[@]}" -eq 4 ]
	[[ "$output" == *'{"call":"unwatch","ns":"t","key":null,"hash":null}'* ]]
	[ "${lines[3]}" = '{"call":"unwatch","ns":"t","key":"k","hash":null}' ]
	# each key watch refreshed the page with a read
	[ "$(grep -c '"call":"read"' "$log")" -eq 2 ]
}

@test "watch: a killed watcher is reaped by the next watch and its page unwatched" {
	services '{"pagers":[{"name":"spec0","namespace":"t","options":{"log":"calls.log"}}]}'
	log="$XDG_CONFIG_HOME/flokvm/calls.log"
	"$FLOKVM" --db "$DB" watch t k >/dev/null &
	pid=$!
	wait_for has_watchers 1
	kill -KILL "$pid"
	wait "$pid" || true
	[ "$(watchers)" = 1 ]
	run -0 fk watch --timeout 0.2 t other
	[ "$(watchers)" = 0 ]
	run -0 grep -c '"call":"unwatch","ns":"t","key":"k"' "$log"
	[ "$output" = 1 ]
}

@test "watch --diff: entry-level events after each read_res" {
	fk write user k <<<'{"entries":[{"_uuid":"a","_timestamp":"1"},{"_uuid":"b","_timestamp":"2"}],"x":1}'
	fk watch --diff --count 3 --timeout 20 user k >out &
	wait_for has_watchers 1
	fk write user k <<<'{"_next":"n","entries":[{"_uuid":"b","_timestamp":"2"},{"_uuid":"a","_timestamp":"1","t":1},{"_uuid":"c","_timestamp":"3"}]}'
	fk invalidate user k
	wait
	run -0 cat out
	[[ "${lines[0]}" == *'"from":"cache","seq":1}' ]]
	[[ "${lines[1]}" == '{"event":"read_res"'*'"seq":2}' ]]
	[ "${lines[2]}" = '{"event":"next_changed","ns":"user","key":"k","value":"n","seq":2}' ]
	[ "${lines[3]}" = '{"event":"payload_changed","ns":"user","key":"k","name":"x","seq":2}' ]
	[[ "${lines[4]}" == '{"event":"entry_modify","ns":"user","key":"k","entry":{"_uuid":"a","_timestamp":"'*'","t":1},"seq":2}' ]]
	[ "${lines[5]}" = '{"event":"entry_move","ns":"user","key":"k","entry_id":"b","index":0,"seq":2}' ]
	[ "${lines[6]}" = '{"event":"entry_ins","ns":"user","key":"k","index":2,"entry":{"_uuid":"c","_timestamp":"3"},"seq":2}' ]
	[ "${lines[7]}" = '{"event":"invalidated","ns":"user","key":"k","seq":3}' ]
}

@test "watch: several watchers each see every change" {
	fk write user k <<<'{"entries":[]}'
	for n in 1 2 3; do
		fk watch --count 4 --timeout 20 user k >"out$n" &
	done
	wait_for has_watchers 3
	for v in 1 2 3; do fk write user k <<<"{\"entries\":[],\"v\":$v}"; done
	wait
	[ "$(seqs out1)" = "1 2 3 4 " ]
	[ "$(seqs out2)" = "1 2 3 4 " ]
	[ "$(seqs out3)" = "1 2 3 4 " ]
	cmp out1 out2
	cmp out1 out3
}

@test "watch: an unknown namespace exits 69; bad options exit 2" {
	run -69 fk watch news
	run -2 fk watch
	run -2 fk watch --count 0 user
	run -2 fk watch --since x user
	run -2 fk watch --timeout -1 user
}
