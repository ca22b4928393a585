#!/usr/bin/env bats
# flokvm hash: the §2.2 vectors, through the real binary.

load helpers

@test "hash: every page vector of SPEC 2.2" {
	run -0 fk hash <<<'{"_uuid":"p1","entries":[]}'
	[ "$output" = '{"_uuid":"p1","entries":[],"_hash":"1060662067"}' ]
	run -0 fk hash <<<'{"_uuid":"news","_head":"h0","_next":"news-2","entries":[{"_uuid":"e1","_timestamp":"1433865600000"},{"_uuid":"e2","_timestamp":"1433865600001"}]}'
	[[ "$output" == *'"_hash":"1198598375"}' ]]
	run -0 fk hash <<<'{"_uuid":"news","_head":"h0","_next":"news-2","entries":[{"_uuid":"e2","_timestamp":"1433865600001"},{"_uuid":"e1","_timestamp":"1433865600000"}]}'
	[[ "$output" == *'"_hash":"2910451975"}' ]]
	run -0 fk hash <<<'{"_uuid":"news","_next":"news-2","_prev":"news-0","entries":[{"_uuid":"e1","_timestamp":"1433865600000"}]}'
	[ "$output" = '{"_uuid":"news","_next":"news-2","_prev":"news-0","entries":[{"_uuid":"e1","_timestamp":"1433865600000"}],"_hash":"2225785527"}' ]
	run -0 fk hash <<<'{"_uuid":"café","entries":[{"_uuid":"x","_timestamp":"0"}]}'
	[ "$output" = '{"_uuid":"café","entries":[{"_uuid":"x","_timestamp":"0"}],"_hash":"1330132320"}' ]
}

@test "hash: reads a file operand and ignores a given _hash and __ keys" {
	printf '%s' '{"_hash":"1","__changes":[],"entries":[],"_uuid":"p1"}' >page.json
	run -0 fk hash page.json
	[ "$output" = '{"_uuid":"p1","entries":[],"_hash":"1060662067"}' ]
}

@test "hash: random pages hash as an independent implementation computes" {
	command -v python3 >/dev/null || skip "python3 not installed"
	# The pages and their expected hashes, from Python's zlib (a CRC-32
	# written by other people) following SPEC 2.2 literally.
	PYTHONDONTWRITEBYTECODE=1 python3 - "$BATS_TEST_DIRNAME" <<'PY'
import json, random, sys
sys.path.insert(0, sys.argv[1])
from spec_hash import page_hash
r = random.Random(2026)
def s():
    return ''.join(r.choice('abcXYZ-_ \u00e9\u20ac\U0001F600') for _ in range(r.randint(1, 12)))
for i in range(100):
    p = {"_uuid": s(), "entries": [{"_uuid": "e%d" % j, "_timestamp": str(r.randint(0, 2**53 - 1))}
                                   for j in range(r.randint(0, 30))]}
    for k in ("_head", "_next", "_prev"):
        if r.random() < 0.5:
            p[k] = r.choice([s(), "", None])
    z = page_hash(p)
    # The source is ASCII and the files UTF-8 whatever the locale.
    open("page-%d.json" % i, "w", encoding="utf-8").write(json.dumps(p, ensure_ascii=r.random() < 0.5))
    open("want-%d" % i, "w").write(str(z))
PY
	# (not "i": bats' own run clobbers a global i)
	for page in $(seq 0 99); do
		run -0 fk hash "page-$page.json"
		want=$(cat "want-$page")
		[[ "$output" == *"\"_hash\":\"$want\"}" ]] || { echo "page $page: $output, want $want"; false; }
	done
}

@test "hash: a page without _uuid exits 65 and names the problem" {
	run -65 --separate-stderr fk hash <<<'{"entries":[]}'
	[ "$output" = "" ]
	[[ "$stderr" == "flokvm: hash: _uuid: missing"* ]]
}

@test "hash: a missing file exits 66" {
	run -66 --separate-stderr fk hash nosuch.json
	[[ "$stderr" == "flokvm: hash: cannot open 'nosuch.json': No such file or directory" ]]
}

@test "hash: stamps entries that lack _uuid or _timestamp" {
	run -0 fk hash <<<'{"_uuid":"p","entries":[{"t":1}]}'
	[[ "$output" =~ ^\{\"_uuid\":\"p\",\"entries\":\[\{\"_uuid\":\"[0-9a-f-]{36}\",\"_timestamp\":\"[0-9]+\",\"t\":1\}\],\"_hash\":\"[0-9]+\"\}$ ]]
}
