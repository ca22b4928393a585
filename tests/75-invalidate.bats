#!/usr/bin/env bats
# invalidate: drops the page, tells the pager, is a change for watchers.

load helpers

@test "invalidate: deletes a mem page; a second invalidate changes nothing" {
	fk write user k <<<'{"entries":[]}'
	run -0 fk invalidate user k
	[ "$output" = "" ]
	run -0 fk read_sync user k
	[ "$output" = '{"event":"read_res","ns":"user","key":"k","page":{},"seq":0}' ]
	[ "$(sqlite3 "$DB" 'SELECT kind FROM changes ORDER BY seq DESC LIMIT 1')" = invalidate ]
	before=$(snapshot)
	run -0 fk invalidate user k
	[ "$(snapshot)" = "$before" ]
}

@test "invalidate: the spec pager hears it with the hash it had" {
	services '{"pagers":[{"name":"spec0","namespace":"t","options":{"log":"calls.log"}}]}'
	fk write t k <<<'{"entries":[]}'
	fk invalidate t k
	fk invalidate t k
	run -0 grep '"call":"invalidate"' "$XDG_CONFIG_HOME/flokvm/calls.log"
	[ "${lines[0]}" = '{"call":"invalidate","ns":"t","key":"k","hash":"140662621"}' ]
	[ "${lines[1]}" = '{"call":"invalidate","ns":"t","key":"k","hash":null}' ]
}

@test "invalidate: unsynced local changes are refused with 69 unless --discard" {
	fk write user k <<<'{"entries":[]}'
	sqlite3 "$DB" "INSERT INTO unsynced (ns, key, phase) VALUES ('user', 'k', 0)"
	before=$(snapshot)
	run -69 --separate-stderr fk invalidate user k
	[ "$stderr" = 'flokvm: invalidate: namespace "user" key "k": the page has unsynced local changes; give --discard to drop them' ]
	[ "$(snapshot)" = "$before" ]
	run -0 fk invalidate --discard user k
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM unsynced')" = 0 ]
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM pages')" = 0 ]
}

@test "invalidate: a missing database stays missing; unknown namespace 69; usage 2" {
	run -0 fk invalidate user k
	[ ! -e "$DB" ]
	run -69 fk invalidate news k
	run -2 fk invalidate user
	run -2 fk invalidate --force user k
}
