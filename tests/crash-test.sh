#!/bin/sh
# crash-test.sh - SPEC §5's guarantee under SIGKILL: "a command that exits
# 0 after a write has committed it; a process killed at any moment leaves
# the database consistent and loses no committed page".
#
# Round after round, one-shot `flokvm write --print`s and `flokvm batch`es
# of many writes run against one database (created by the first round's
# racing writers) and are killed with SIGKILL after a random delay in the
# range of their own run time, measured at the start.  Every key is written
# once, so what each writer was told is final: a one-shot write that exited
# 0 (the hash its --print showed), or a batch's "done" line with status 0,
# whatever happened to the batch afterwards.  At the end `flokvm check`
# must pass and every acknowledged key must be stored with that hash.
#
# usage: tests/crash-test.sh        (prints TAP; exits non-zero on failure)
#
# FLOKVM is the binary (default build/cli/flokvm); CRASH_KILLS the kills to
# reach (300), CRASH_SECONDS the time allowed for them (60), CRASH_SEED
# the random seed (printed, to repeat a run), CRASH_KEEP=1 keeps the work
# folder.
set -u

here=$(cd "$(dirname "$0")" && pwd)
FLOKVM=${FLOKVM:-$here/../build/cli/flokvm}
case $FLOKVM in
/*) ;;
*) FLOKVM=$(pwd)/$FLOKVM ;;
esac
kills_wanted=${CRASH_KILLS:-300}
seconds=${CRASH_SECONDS:-60}
seed=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}

if [ ! -x "$FLOKVM" ]; then
	echo "1..0 # SKIP no flokvm binary at $FLOKVM"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flokvm-crash.XXXXXX")
cleanup() {
	if [ "${CRASH_KEEP:-0}" = 1 ]; then
		echo "# work folder kept: $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# As tests/helpers.bash: nothing of the user's environment leaks in.
export HOME="$tmp/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share"
unset FLOKVM_DB FLOKVM_SERVICES FLOKVM_MAX_PAGE_BYTES FLOKVM_MAX_DEPTH \
	FLOKVM_MAX_KEY_BYTES FLOKVM_BUSY_TIMEOUT_MS FLOKVM_SYNCHRONOUS \
	FLOKVM_LOG_MAX_ROWS FLOKVM_BATCH_GROUP
mkdir -p "$HOME"
DB=$tmp/pages.db
acks=$tmp/acks # "key hash" per acknowledged write
: >"$acks"

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# Random numbers 0..999, one a line, read through descriptor 3.
awk -v seed="$seed" 'BEGIN { srand(seed); for (i = 0; i < 200000; i++) print int(rand() * 1000) }' \
	>"$tmp/random"
exec 3<"$tmp/random"
rnd() {
	read -r r <&3
}

# Pages: a small one, and a large one (about 300 KiB, 3000 entries) whose
# commit takes long enough to be killed in the middle of.
small='{"entries":[{"_uuid":"e1","v":"small"}],"note":"crash test"}'
awk 'BEGIN {
	printf "{\"entries\":["
	for (i = 0; i < 3000; i++)
		printf "%s{\"_uuid\":\"e%d\",\"text\":\"%s\"}", i ? "," : "", i,
			"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod"
	printf "],\"note\":\"large\"}\n"
}' >"$tmp/large.json"
printf '%s\n' "$small" >"$tmp/small.json"

# batch_input FILE PREFIX N: N write requests of distinct keys PREFIX-I,
# every tenth page large.
batch_input() {
	awk -v prefix="$2" -v n="$3" -v small="$small" -v file="$tmp/large.json" 'BEGIN {
		getline large <file
		for (i = 0; i < n; i++)
			printf "{\"req\":\"write\",\"ns\":\"user\",\"key\":\"%s-%d\",\"page\":%s}\n",
				prefix, i, i % 10 == 9 ? large : small
	}' >"$1"
}

# One-shot: start_write KEY SIZE; batch: start_batch PREFIX N GROUP.  Each
# runs in the background with its output in $tmp/out.KEY (PREFIX), its
# errors in $tmp/err.KEY, and adds "PID:KIND:KEY" to $pids.
start_write() {
	"$FLOKVM" --db "$DB" write --print user "$1" <"$tmp/$2.json" \
		>"$tmp/out.$1" 2>"$tmp/err.$1" &
	pids="$pids $!:w:$1"
}
start_batch() {
	batch_input "$tmp/in.$1" "$1" "$2"
	FLOKVM_BATCH_GROUP=$3 "$FLOKVM" --db "$DB" batch <"$tmp/in.$1" \
		>"$tmp/out.$1" 2>"$tmp/err.$1" &
	pids="$pids $!:b:$1"
}

# The complete lines of a file (a killed writer may leave half of one).
complete_lines() {
	if [ -s "$1" ] && [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" != '\n' ]; then
		sed '$d' "$1"
	else
		cat "$1"
	fi
}

# Calibration on a scratch database: how long a write and a batch take.
t0=$(now_ms)
bail() {
	echo "Bail out! $*"
	exit 1
}
for i in 1 2 3 4 5; do
	"$FLOKVM" --db "$tmp/scratch.db" write user "c$i" <"$tmp/small.json" ||
		bail "a write fails even without kills"
	"$FLOKVM" --db "$tmp/scratch.db" write user "C$i" <"$tmp/large.json" ||
		bail "a write fails even without kills"
done
t_write=$((($(now_ms) - t0) / 10 + 1))
batch_input "$tmp/in.scratch" scratch 100
t0=$(now_ms)
FLOKVM_BATCH_GROUP=5 "$FLOKVM" --db "$tmp/scratch.db" batch <"$tmp/in.scratch" >/dev/null ||
	bail "a batch fails even without kills"
t_batch=$(($(now_ms) - t0 + 1))
echo "# seed $seed; a write takes about ${t_write} ms, a batch of 100 ${t_batch} ms"

start=$(now_ms)
round=0
kills=0
kills_write=0
kills_batch=0
runs=0
odd=0
while [ "$kills" -lt "$kills_wanted" ]; do
	if [ $(($(now_ms) - start)) -gt $((seconds * 1000)) ]; then
		break
	fi
	round=$((round + 1))
	pids=
	# Odd rounds: four one-shot writes; even rounds: two batches and two
	# writes.  The kill lands within 1.3 times the run time of the
	# longest, so most are killed, at every stage of their run.
	if [ $((round % 2)) = 1 ]; then
		span=$t_write
		for i in 1 2 3 4; do
			rnd
			size=small
			[ "$r" -lt 300 ] && size=large
			start_write "w$round-$i" "$size"
		done
	else
		span=$t_batch
		for i in 1 2; do
			rnd
			start_batch "b$round-$i" 100 $((r % 20 + 1))
		done
		for i in 1 2; do
			start_write "w$round-$i" small
		done
	fi
	rnd
	delay=$((r * span * 13 / 10000))
	sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	for p in $pids; do
		# Not reaped yet, so the pid cannot have been reused.
		kill -KILL "${p%%:*}" 2>/dev/null
	done
	for p in $pids; do
		pid=${p%%:*}
		kind=${p#*:}
		name=${kind#*:}
		kind=${kind%%:*}
		wait "$pid" 2>/dev/null # no "Killed" notices
		st=$?
		runs=$((runs + 1))
		if [ "$st" = 137 ]; then
			kills=$((kills + 1))
			if [ "$kind" = w ]; then
				kills_write=$((kills_write + 1))
			else
				kills_batch=$((kills_batch + 1))
			fi
		elif [ "$st" != 0 ]; then
			# Not killed, yet failed: a lock timeout would be 75, and
			# nothing here holds a lock for 5 s.
			odd=$((odd + 1))
			echo "# $name exited $st: $(head -c 300 "$tmp/err.$name")"
		fi
		if [ "$kind" = w ]; then
			[ "$st" = 0 ] && sed -n 's/.*"key":"\([^"]*\)".*"_hash":"\([0-9]*\)"},"seq":[0-9]*}$/\1 \2/p' \
				"$tmp/out.$name" >>"$acks"
		else
			complete_lines "$tmp/out.$name" |
				sed -n 's/^{"event":"done","line":[0-9]*,"ns":"user","key":"\([^"]*\)","status":0,"seq":[0-9]*,"hash":"\([0-9]*\)"}$/\1 \2/p' \
					>>"$acks"
		fi
		rm -f "$tmp/out.$name" "$tmp/err.$name" "$tmp/in.$name"
	done
done
elapsed=$(($(now_ms) - start))
nacks=$(wc -l <"$acks" | tr -d ' ')

n=0
failed=0
result() { # result OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}

[ "$kills" -ge "$kills_wanted" ]
result $? "$kills SIGKILLs of running writers ($kills_write writes, $kills_batch batches) in $round rounds, ${elapsed} ms"
[ "$odd" = 0 ]
result $? "no writer failed other than by the kill ($runs runs)"

"$FLOKVM" --db "$DB" check >"$tmp/check.out" 2>&1
st=$?
[ "$st" = 0 ] && [ ! -s "$tmp/check.out" ]
result $? "flokvm check passes (exit $st)"
[ "$st" = 0 ] || sed 's/^/# /' "$tmp/check.out" | head -n 20

# Every acknowledged key, stored with the acknowledged hash.
"$FLOKVM" --db "$DB" ls user |
	sed -n 's/^{"ns":"user","key":"\([^"]*\)","hash":"\([0-9]*\)".*/\1 \2/p' |
	sort >"$tmp/stored"
sort "$acks" >"$tmp/acks.sorted"
comm -23 "$tmp/acks.sorted" "$tmp/stored" >"$tmp/lost"
[ "$nacks" -gt 0 ] && [ ! -s "$tmp/lost" ]
result $? "all $nacks acknowledged writes are stored with their hash ($(wc -l <"$tmp/stored" | tr -d ' ') pages stored)"
if [ -s "$tmp/lost" ]; then
	echo "# lost or changed (key acknowledged-hash):"
	head -n 20 "$tmp/lost" | sed 's/^/#   /'
fi

printf '%s\n' "$small" | "$FLOKVM" --db "$DB" write user after-the-crashes
result $? "the database still takes writes"

echo "1..$n"
[ "$failed" = 0 ]
