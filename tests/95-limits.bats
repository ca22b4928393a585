#!/usr/bin/env bats
# Resource limits (SPEC §2.3): enormous inputs fail fast, with a clear
# error and in memory bounded by the limits rather than by the input; the
# largest allowed inputs work in bounded time.  Peak memory is measured
# with GNU time (package "time") when it is installed; without it those
# assertions are skipped.  Each test reports what it measured on fd 3.

load helpers

HUGE=$((200 << 20)) # 200 MiB

# huge_page: a 200 MiB page on stdout, streamed (never stored on disk).
huge_page() {
	printf '{"entries":[],"x":"'
	head -c "$HUGE" /dev/zero | tr '\0' a
	printf '"}\n'
}

# deep_page N: a page nested N deep (the page object is depth 1).
deep_page() {
	awk -v n="$1" 'BEGIN {
		printf "{\"entries\":[],\"d\":"
		for (i = 1; i < n; i++) printf "["
		for (i = 1; i < n; i++) printf "]"
		printf "}\n"
	}'
}

# measured ARGS...: runs "$FLOKVM" --db "$DB" ARGS, keeping its peak RSS
# in KiB in $BATS_TEST_TMPDIR/rss (empty without GNU time) and its wall
# time in milliseconds in $BATS_TEST_TMPDIR/ms.
measured() {
	local t0 rc=0
	t0=$(date +%s%N)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -q -f %M -o "$BATS_TEST_TMPDIR/rss" "$FLOKVM" --db "$DB" "$@" || rc=$?
	else
		: >"$BATS_TEST_TMPDIR/rss"
		"$FLOKVM" --db "$DB" "$@" || rc=$?
	fi
	echo $((($(date +%s%N) - t0) / 1000000)) >"$BATS_TEST_TMPDIR/ms"
	return "$rc"
}

# report WHAT: prints the last measurement on fd 3.
report() {
	local rss
	rss=$(cat "$BATS_TEST_TMPDIR/rss")
	if [ -n "$rss" ]; then
		rss="$((rss / 1024)) MiB"
	else
		rss="not measured (no /usr/bin/time)"
	fi
	echo "# $1: $(cat "$BATS_TEST_TMPDIR/ms") ms, peak RSS $rss" >&3
}

# within MS: the last measurement took less than MS milliseconds.
within() {
	[ "$(cat "$BATS_TEST_TMPDIR/ms")" -lt "$1" ]
}

# rss_below KIB: the last peak RSS was below KIB (true if not measured).
rss_below() {
	local rss
	rss=$(cat "$BATS_TEST_TMPDIR/rss")
	[ -z "$rss" ] || [ "$rss" -lt "$1" ]
}

@test "limits: a 200 MiB page on stdin exits 65 at once, in memory far below its size" {
	fk write user k <<<'{"entries":[]}'
	before=$(snapshot)
	run -65 --separate-stderr measured write user big < <(huge_page)
	report "write of a 200 MiB page"
	[ "$stderr" = 'flokvm: write: namespace "user" key "big": standard input is larger than 16777216 bytes' ]
	within 5000
	# Reading stops after the limit: about 16 MiB held, not 200.
	rss_below $((100 << 10))
	[ "$(snapshot)" = "$before" ]
}

@test "limits: hash, diff, replay and a services file stop reading at the limit too" {
	run -65 --separate-stderr measured hash < <(huge_page)
	report "hash of a 200 MiB page"
	[[ "$stderr" == 'flokvm: hash: '*'is larger than 16777216 bytes' ]]
	within 5000
	rss_below $((100 << 10))
	run -65 --separate-stderr measured diff <(huge_page) <(echo '{"_uuid":"k","entries":[]}')
	[[ "$stderr" == 'flokvm: diff: '*'is larger than 16777216 bytes' ]]
	within 5000
	rss_below $((100 << 10))
	run -65 --separate-stderr measured replay <(echo '{"_uuid":"k","entries":[]}') <(huge_page)
	[[ "$stderr" == 'flokvm: replay: '*'is larger than 16777216 bytes' ]]
	within 5000
	rss_below $((100 << 10))
	run -65 --separate-stderr measured --services <(huge_page) pagers
	report "a 200 MiB services file"
	[[ "$stderr" == "flokvm: pagers: services file '"*"' is larger than 16 MiB" ]]
	within 5000
	rss_below $((100 << 10))
}

@test "limits: a 200 MiB batch request is refused in memory far below its size, and the batch goes on" {
	run -65 measured batch < <(
		printf '{"req":"write","ns":"user","key":"big","page":'
		huge_page
		echo '{"req":"read_sync","ns":"user","key":"big"}'
	)
	report "batch with a 200 MiB request"
	[ "${lines[0]}" = '{"event":"error","line":1,"status":65,"message":"request larger than the page limit"}' ]
	[ "${lines[2]}" = '{"event":"done","line":2,"ns":"user","key":"big","status":0,"seq":0,"hash":null}' ]
	within 5000
	rss_below $((100 << 10))
}

@test "limits: 10,000-deep nesting exits 65 at once" {
	run -65 --separate-stderr measured write user deep < <(deep_page 10000)
	report "write of a 10,000-deep page"
	[[ "$stderr" == 'flokvm: write: namespace "user" key "deep": line 1, column 82: d[0]'*': nesting deeper than 64' ]]
	within 2000
	rss_below $((32 << 10))
	# A million levels cost no more: the parser stops at the limit.
	run -65 --separate-stderr measured write user deep < <(deep_page 1000000)
	report "write of a 1,000,000-deep page"
	[[ "$stderr" == *': nesting deeper than 64' ]]
	within 2000
	rss_below $((32 << 10))
	run -65 measured batch < <(printf '{"req":"write","ns":"user","key":"deep","page":'; deep_page 10000 | tr -d '\n'; echo '}')
	[[ "$output" == '{"event":"error","line":1,"status":65,"message":"'*'column '*': nesting deeper than 64"}' ]]
	[ ! -e "$DB" ] || [ "$(fk ls user)" = "" ]
}

@test "limits: a page at the largest depth setting (10,000) is stored, read back and checked" {
	export FLOKVM_MAX_DEPTH=10000
	run -0 measured write user deep < <(deep_page 10000)
	report "write of a 10,000-deep page with FLOKVM_MAX_DEPTH=10000"
	within 10000
	run -0 fk read_sync user deep
	[[ "$output" == '{"event":"read_res","ns":"user","key":"deep","page":{"_uuid":"deep","entries":[],"d":[[[['*']]]],"_hash":"'*'"},"seq":1}' ]]
	[ "${#output}" -gt 20000 ]
	run -0 fk check
	[ "$output" = "" ]
	# One more level is refused.
	run -65 --separate-stderr fk write user deeper < <(deep_page 10001)
	[[ "$stderr" == *': nesting deeper than 10000' ]]
}

@test "limits: a page of a million entries is stored in bounded time, or refused clearly" {
	export FLOKVM_MAX_PAGE_BYTES=200000000
	rc=0
	measured write user million < <(awk 'BEGIN {
		printf "{\"entries\":["
		for (i = 0; i < 1000000; i++)
			printf "%s{\"_uuid\":\"e%d\",\"_timestamp\":\"%d\"}", i ? "," : "", i, i
		printf "]}\n"
	}') 2>err || rc=$?
	report "write of a page of 1,000,000 entries (40 MiB) -> exit $rc"
	within 60000
	if [ "$rc" != 0 ]; then
		# Refused: with a clear one-line message, and nothing stored.
		[ "$rc" = 65 ] || [ "$rc" = 1 ]
		[ "$(wc -l <err)" = 1 ]
		grep -q '^flokvm: write: namespace "user" key "million": ' err
		[ ! -e "$DB" ] || [ "$(fk ls user)" = "" ]
		return
	fi
	[ ! -s err ]
	run -0 fk ls user
	[[ "$output" == '{"ns":"user","key":"million","hash":"'*'","seq":1,"entries":1000000,"unsynced":false}' ]]
	# 40 MiB of output: checked in a file, not in $output.
	measured read_sync user million >out
	report "read_sync of it"
	within 30000
	head -c 200 out | grep -q '^{"event":"read_res","ns":"user","key":"million","page":{"_uuid":"million","entries":\[{"_uuid":"e0","_timestamp":"0"},{"_uuid":"e1",'
	tail -c 100 out | grep -q '{"_uuid":"e999999","_timestamp":"999999"}\],"_hash":"[0-9]*"},"seq":1}$'
}
