#!/usr/bin/env bats
# Concurrency (SPEC §5: "many processes may read, write, watch and sync at
# once"; a read-modify-write happens in one BEGIN IMMEDIATE): counters
# bumped by racing read-modify-write loops lose no update, mixed traffic
# never shows a torn page, and a lock held too long is exit 75 with a
# clear message, never damage.

load helpers

# bump_seq KEY N: N increments of the page payload "n" of KEY, each a
# read_sync then a `write --if-seq` of the revision read, retried while
# another process got there first (exit 3).  Prints "retries R".
bump_seq() {
	local key=$1 n=$2 i=0 retries=0 out rc
	while [ "$i" -lt "$n" ]; do
		out=$(fk read_sync user "$key") || { echo "read_sync exited $?"; return 1; }
		[[ $out =~ \"n\":([0-9]+),\"_hash\":\"[0-9]+\"\},\"seq\":([0-9]+)\}$ ]] ||
			{ echo "unexpected read_sync output: $out"; return 1; }
		rc=0
		fk write --if-seq "${BASH_REMATCH[2]}" user "$key" \
			<<<"{\"entries\":[],\"n\":$((BASH_REMATCH[1] + 1))}" 2>/dev/null || rc=$?
		case $rc in
		0) i=$((i + 1)) ;;
		3) retries=$((retries + 1)) ;;
		*) echo "write --if-seq exited $rc"; return 1 ;;
		esac
	done
	echo "retries $retries"
}

# bump_hash KEY N: the same with the counter in entry "c" and
# `write --if-hash`.  The entry is written without its _timestamp, so
# normalisation (SPEC §2.1 rules 2 and 3) gives the changed entry a newer
# one and every increment changes the hash that --if-hash compares.
bump_hash() {
	local key=$1 n=$2 i=0 retries=0 out rc
	while [ "$i" -lt "$n" ]; do
		out=$(fk read_sync user "$key") || { echo "read_sync exited $?"; return 1; }
		[[ $out =~ \"n\":([0-9]+)\}\],\"_hash\":\"([0-9]+)\"\} ]] ||
			{ echo "unexpected read_sync output: $out"; return 1; }
		rc=0
		fk write --if-hash "${BASH_REMATCH[2]}" user "$key" \
			<<<"{\"entries\":[{\"_uuid\":\"c\",\"n\":$((BASH_REMATCH[1] + 1))}]}" 2>/dev/null || rc=$?
		case $rc in
		0) i=$((i + 1)) ;;
		3) retries=$((retries + 1)) ;;
		*) echo "write --if-hash exited $rc"; return 1 ;;
		esac
	done
	echo "retries $retries"
}

# race FUNCTION KEY: four processes run FUNCTION KEY 200 at once; fails
# if any of them failed, and reports the retries.  These tests are about
# isolation, not durability (tests/crash-test.sh is): without fsync the
# 800 commits take a few seconds instead of most of a minute.
race() {
	local w pids=() failed=0
	export FLOKVM_SYNCHRONOUS=off
	for w in 1 2 3 4; do
		# Without bats' per-command traps the loops run several times
		# faster; the function reports its own failures.
		(trap - DEBUG ERR; set +eET; "$1" "$2" 200) >"race.$w" 2>&1 &
		pids+=($!)
	done
	for w in 1 2 3 4; do
		wait "${pids[w - 1]}" || { failed=1; echo "# process $w: $(cat "race.$w")" >&3; }
	done
	echo "# $1: $(cat race.1 race.2 race.3 race.4 | tr '\n' ' ')" >&3
	return "$failed"
}

@test "concurrency: 4 x 200 read_sync + write --if-seq increments end at exactly 800" {
	fk write user counter <<<'{"entries":[],"n":0}'
	race bump_seq counter
	run -0 fk read_sync user counter
	# 800 changes after the first write: no update lost, none doubled.
	[[ "$output" == *'"entries":[],"n":800,"_hash":"'*'"seq":801}' ]]
	run -0 fk check
	[ "$output" = "" ]
}

@test "concurrency: 4 x 200 increments of an entry with write --if-hash end at exactly 800" {
	fk write user counter <<<'{"entries":[{"_uuid":"c","n":0}]}'
	race bump_hash counter
	run -0 fk read_sync user counter
	[[ "$output" == *'{"_uuid":"c","_timestamp":"'*'","n":800}],"_hash":"'*'"seq":801}' ]]
	run -0 fk check
	[ "$output" = "" ]
}

# validate FILE...: every line of the files is an event whose page, if
# any, is whole: valid JSON, its _uuid the key, its _hash the SPEC §2.2
# hash of what it holds; watch output (files named watch.*) shows its
# changes in increasing seq order.  Prints one line per problem.
validate() {
	PYTHONDONTWRITEBYTECODE=1 SPEC_HASH_DIR="$BATS_TEST_DIRNAME" python3 - "$@" <<'EOF'
import json, os, sys

sys.path.insert(0, os.environ["SPEC_HASH_DIR"])
from spec_hash import page_hash

problems = 0
def problem(where, msg):
    global problems
    problems += 1
    if problems <= 20:
        print(f"{where}: {msg}")

for name in sys.argv[1:]:
    last = 0
    for n, line in enumerate(open(name, encoding="utf-8"), 1):
        where = f"{name}:{n}"
        try:
            ev = json.loads(line)
        except ValueError as e:
            problem(where, f"not JSON ({e}): {line[:200]!r}")
            continue
        kind = ev.get("event")
        if kind == "read_res":
            p = ev["page"]
            if p:
                if p.get("_uuid") != ev["key"]:
                    problem(where, "page _uuid differs from the key")
                elif p.get("_hash") != page_hash(p):
                    problem(where, f"_hash {p.get('_hash')} is not the page's hash {page_hash(p)}")
        elif kind == "done":
            if ev["status"] not in (0, 3):
                problem(where, f"batch request failed: {line.strip()}")
        elif kind != "invalidated":
            problem(where, f"unexpected event: {line.strip()}")
        if name.split("/")[-1].startswith("watch.") and ev.get("from") != "cache":
            if ev["seq"] <= last:
                problem(where, f"seq {ev['seq']} after seq {last}")
            last = ev["seq"]
print(f"{problems} problems" if problems else "", end="")
EOF
}

# logged NAME COMMAND...: runs COMMAND, appending "STATUS NAME" to
# statuses (any status; the test checks them at the end).
logged() {
	local name=$1 rc=0
	shift
	"$@" || rc=$?
	echo "$rc $name" >>statuses
}

# until_stop COMMAND...: runs COMMAND again and again, without bats'
# per-command traps and exit-on-error, until the file "stop" exists.
until_stop() {
	(
		trap - DEBUG ERR
		set +eET
		while [ ! -e stop ]; do
			"$@"
		done
	)
}

# big_page N: a page of N entries with some text each.
big_page() {
	python3 -c 'import json, sys
n = int(sys.argv[1])
print(json.dumps({"entries": [{"_uuid": "e%d" % i, "t": "x" * 40} for i in range(n)], "size": n}))' "$1"
}

# One round of each kind of traffic; until_stop repeats them.
write_round() { # write_round NAME: the shared keys, big and small; its own
	logged write fk write user "s$((RANDOM % 3))" <"page.$((RANDOM % 2))"
	logged write-own fk write --print user "$1-$RANDOM$RANDOM" <page.1 >>"reads.$1"
	logged write-if-seq fk write --if-seq "$((RANDOM % 50))" user s0 <page.1 2>/dev/null
}
read_round() {
	logged read_sync fk read_sync user "s$((RANDOM % 3))" >>reads.r1
	logged read fk read user "s$((RANDOM % 3))" >>reads.r2
}
invalidate_round() {
	logged invalidate fk invalidate user s2
	sleep 0.05
}
sync_round() {
	logged sync fk sync user >>reads.sync
	sleep 0.05
}
batch_round() { # small groups: other writers get the lock in between
	FLOKVM_BATCH_GROUP=10 logged batch fk batch <batch.in >>reads.batch
	sleep 0.2
}

@test "concurrency: writers, readers, watchers, invalidate, sync and batch at once never show a torn page" {
	big_page 2000 >page.0
	big_page 50 >page.1
	fk write user s0 <page.0
	fk watch --timeout 7 user s0 s1 s2 >watch.keys 2>watch.keys.err &
	watch_keys=$!
	fk watch --timeout 7 user >watch.ns 2>watch.ns.err &
	watch_ns=$!
	wait_for has_watchers 4 # a row per key, one for the namespace
	python3 -c 'import json
for i in range(600):
    k = "s%d" % (i % 3)
    r = ("write", "read_sync", "write", "invalidate")[i % 4]
    req = {"req": r, "ns": "user", "key": k}
    if r == "write":
        req["page"] = {"entries": [{"_uuid": "b%d" % j, "n": i} for j in range(i % 7)]}
    print(json.dumps(req))' >batch.in

	until_stop write_round a &
	until_stop write_round b &
	until_stop read_round &
	until_stop invalidate_round &
	until_stop sync_round &
	until_stop batch_round &
	sleep 4
	touch stop
	# The watchers end at their timeout, with status 0; everything else
	# at "stop".
	wait "$watch_keys"
	wait "$watch_ns"
	wait

	echo "# $(wc -l <statuses) commands (count, status, command):" \
		"$(sort statuses | uniq -c | tr -s ' \n' ' ')" >&3
	run -0 awk '$1 != 0 && $1 != 3 && $1 != 75' statuses
	[ "$output" = "" ]
	[ ! -s watch.keys.err ] && [ ! -s watch.ns.err ]
	echo "# watch output: $(wc -l <watch.keys) and $(wc -l <watch.ns) lines" >&3
	[ "$(wc -l <watch.ns)" -gt 10 ]
	run -0 validate reads.* watch.*
	[ "$output" = "" ]
	[ "$(watchers)" = 0 ]
	run -0 fk check
	[ "$output" = "" ]
}

# hold_lock SECONDS: another process takes the write lock (as
# tests/40-store.bats does) and holds it; returns once it is held, with
# the process in $lock_pid.
hold_lock() {
	sqlite3 "$DB" 'BEGIN IMMEDIATE; UPDATE pages SET seq = seq; SELECT 1;' \
		'.shell touch locked' ".shell sleep $1" 'COMMIT;' >/dev/null &
	lock_pid=$!
	wait_for test -e locked
}

@test "concurrency: a lock held past the busy timeout gives 75 and a clear message, never damage" {
	fk write user k <<<'{"entries":[],"v":1}'
	before=$(snapshot)
	export FLOKVM_BUSY_TIMEOUT_MS=100
	hold_lock 3
	locked="database '$DB' is locked by another process (waited 100 ms); try again"
	run -75 --separate-stderr fk write user k <<<'{"entries":[],"v":2}'
	[ "$stderr" = "flokvm: write: namespace \"user\" key \"k\": $locked" ]
	run -75 --separate-stderr fk invalidate user k
	[ "$stderr" = "flokvm: invalidate: namespace \"user\" key \"k\": $locked" ]
	run -75 --separate-stderr fk batch <<<'{"req":"write","ns":"user","key":"k","page":{"entries":[]}}'
	[[ "$output" == '{"event":"done","line":1,"ns":"user","key":"k","status":75,'*"\"message\":\"namespace \\\"user\\\" key \\\"k\\\": $locked\"}" ]]
	# Several at once, all refused the same way; readers are not blocked.
	pids=()
	for i in 1 2 3 4; do
		fk write user "k$i" <<<'{"entries":[]}' 2>"err.$i" &
		pids+=($!)
	done
	run -0 fk read_sync user k
	run -0 fk check
	[ "$output" = "" ]
	for i in 1 2 3 4; do
		rc=0
		wait "${pids[i - 1]}" || rc=$?
		[ "$rc" = 75 ]
		[ "$(cat "err.$i")" = "flokvm: write: namespace \"user\" key \"k$i\": $locked" ]
	done
	# The lock is still held: every refusal came within the timeout.
	kill -0 "$lock_pid"
	wait
	[ "$(snapshot)" = "$before" ]
	run -0 fk check
	[ "$output" = "" ]
	run -0 fk write user k <<<'{"entries":[],"v":2}'
}

@test "concurrency: a lock released within the busy timeout is waited for" {
	fk write user k <<<'{"entries":[],"v":1}'
	hold_lock 0.5
	run -0 fk write --print user k <<<'{"entries":[],"v":2}'
	[[ "$output" == *'"v":2,'*'"seq":2}' ]]
	wait
}

@test "concurrency: writers racing with a 1 ms busy timeout store exactly what exited 0" {
	export FLOKVM_BUSY_TIMEOUT_MS=1
	fk write user first <<<'{"entries":[]}'
	for w in 1 2 3 4; do
		(
			for i in $(seq 1 40); do
				rc=0
				fk write user "w$w-$i" <<<'{"entries":[{"_uuid":"e"}]}' 2>/dev/null || rc=$?
				echo "$rc w$w-$i"
			done
		) >"st.$w" &
	done
	wait
	cat st.1 st.2 st.3 st.4 >statuses
	echo "# statuses: $(cut -d' ' -f1 statuses | sort | uniq -c | tr -s ' \n' ' ')" >&3
	run -0 awk '$1 != 0 && $1 != 75' statuses
	[ "$output" = "" ]
	# A write that exited 0 is stored; one that exited 75 left no trace.
	unset FLOKVM_BUSY_TIMEOUT_MS
	awk '$1 == 0 { print $2 }' statuses | sort >acked
	fk ls user | sed -E 's/^\{"ns":"user","key":"([^"]*)".*/\1/' | grep -v '^first$' | sort >stored
	diff acked stored
	run -0 fk check
	[ "$output" = "" ]
}
