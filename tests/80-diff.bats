#!/usr/bin/env bats
# diff and replay on files (SPEC 6).

load helpers

page() { # page UUIDS...: a page whose entries carry those uuids
	local out='{"_uuid":"p","entries":[' sep=''
	for u in "$@"; do out+="$sep{\"_uuid\":\"$u\",\"_timestamp\":\"1\"}"; sep=','; done
	echo "$out]}"
}

@test "diff: the worked example of SPEC 6" {
	page A B F D >old.json
	page A D C B E >new.json
	run -0 fk diff old.json new.json
	[ "$output" = '[["-","F"],[">",1,"D"],["+",2,{"_uuid":"C","_timestamp":"1"}],["+",4,{"_uuid":"E","_timestamp":"1"}]]' ]
}

@test "replay: replay(old, diff(old, new)) is new, with its hash" {
	page A B F D >old.json
	page A D C B E >new.json
	fk diff old.json new.json >d.json
	run -0 fk replay old.json d.json
	[ "$output" = "$(fk hash new.json)" ]
	# stdin for one operand
	run -0 fk replay old.json - <d.json
	[ "$output" = "$(fk hash new.json)" ]
}

@test "diff: pointers, payload and modifications in SPEC order" {
	echo '{"_uuid":"p","_head":"h","entries":[{"_uuid":"a","_timestamp":"1"}],"z":1,"b":2}' >old.json
	echo '{"_uuid":"p","_next":"n","entries":[{"_uuid":"a","_timestamp":"2"}],"b":3}' >new.json
	run -0 fk diff old.json new.json
	[ "$output" = '[["HEAD_M",null],["NEXT_M","n"],["PAGE_M","b",3],["PAGE_D","z"],["M",{"_uuid":"a","_timestamp":"2"}]]' ]
}

@test "diff: pages with different _uuid exit 65" {
	echo '{"_uuid":"p","entries":[]}' >a.json
	echo '{"_uuid":"q","entries":[]}' >b.json
	run -65 --separate-stderr fk diff a.json b.json
	[[ "$stderr" == 'flokvm: diff: pages have different _uuid: "p" and "q"' ]]
}

@test "replay: a malformed diff exits 65 naming the step" {
	page A >p.json
	echo '[["-","A"],["+",-1,{"_uuid":"x"}]]' >d.json
	run -65 --separate-stderr fk replay p.json d.json
	[[ "$stderr" == 'flokvm: replay: d.json: step 1: '* ]]
	echo '{"not":"a diff"}' >d.json
	run -65 fk replay p.json d.json
}

@test "diff/replay: missing files exit 66, bad pages 65, usage 2" {
	page A >p.json
	run -66 fk diff p.json nope.json
	echo '{"entries":[]}' >nouuid.json
	run -65 --separate-stderr fk diff p.json nouuid.json
	[[ "$stderr" == 'flokvm: diff: nouuid.json: _uuid: missing'* ]]
	run -2 fk diff p.json
	run -2 fk diff - -
	run -2 fk replay p.json
}
