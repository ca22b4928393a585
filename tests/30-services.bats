#!/usr/bin/env bats
# The services file: both syntaxes, the lookup order, the default, errors.

load helpers

@test "pagers: the built-in default is mem0 on user" {
	run -0 fk pagers
	[ "$output" = '{"name":"mem0","namespace":"user","type":"mem","readonly":false}' ]
}

@test "pagers: a flok config/services.rb loads unchanged" {
	mkdir config
	cat >config/services.rb <<'RB'
# flok's services file
service_instance :vm, :vm, {
  :pagers => [
    {
      :name => "pg_spec0",
      :namespace => "user",
      :options => {  //Passed to pager init function
        "hello" => "world",
      }
    },
    { :name => "mem3", :namespace => "notes", :options => {} },
    { name: "mem4", namespace: 'more', options: { readonly: true } },
  ]
}
service_instance :controller, :controller
RB
	run -0 fk --services config/services.rb pagers
	[ "${lines[0]}" = '{"name":"pg_spec0","namespace":"user","type":"spec","readonly":false}' ]
	[ "${lines[1]}" = '{"name":"mem3","namespace":"notes","type":"mem","readonly":false}' ]
	[ "${lines[2]}" = '{"name":"mem4","namespace":"more","type":"mem","readonly":true}' ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "pagers: the JSON form, top-level and under vm" {
	echo '{"pagers":[{"name":"spec1","namespace":"a","options":{}}]}' >s.json
	run -0 fk --services s.json pagers
	[ "$output" = '{"name":"spec1","namespace":"a","type":"spec","readonly":false}' ]
	echo '{"vm":{"pagers":[{"name":"x","namespace":"b","options":{"type":"mem"}}]}}' >s.json
	run -0 fk --services s.json pagers
	[ "$output" = '{"name":"x","namespace":"b","type":"mem","readonly":false}' ]
}

@test "services: lookup order is --services, FLOKVM_SERVICES, XDG .rb, XDG .json" {
	mkdir -p "$XDG_CONFIG_HOME/flokvm"
	echo '{"pagers":[{"name":"mem0","namespace":"json"}]}' >"$XDG_CONFIG_HOME/flokvm/services.json"
	run -0 fk pagers
	[[ "$output" == *'"namespace":"json"'* ]]
	echo 'service_instance :vm, :vm, { :pagers => [{ :name => "mem0", :namespace => "rb" }] }' \
		>"$XDG_CONFIG_HOME/flokvm/services.rb"
	run -0 fk pagers
	[[ "$output" == *'"namespace":"rb"'* ]]
	echo '{"pagers":[{"name":"mem0","namespace":"env"}]}' >env.json
	FLOKVM_SERVICES=env.json run -0 fk pagers
	[[ "$output" == *'"namespace":"env"'* ]]
	echo '{"pagers":[{"name":"mem0","namespace":"opt"}]}' >opt.json
	FLOKVM_SERVICES=env.json run -0 fk --services opt.json pagers
	[[ "$output" == *'"namespace":"opt"'* ]]
}

@test "services: the current directory is never searched" {
	mkdir -p config
	echo '{"pagers":[{"name":"mem0","namespace":"here"}]}' >services.json
	cp services.json services.rb
	cp services.json config/services.rb
	run -0 fk pagers
	[ "$output" = '{"name":"mem0","namespace":"user","type":"mem","readonly":false}' ]
}

@test "services: a missing --services or FLOKVM_SERVICES file exits 66" {
	run -66 --separate-stderr fk --services nope.rb pagers
	[[ "$stderr" == "flokvm: pagers: cannot open services file 'nope.rb': No such file or directory" ]]
	FLOKVM_SERVICES=nope.json run -66 fk pagers
}

@test "services: a malformed file exits 65 naming file and line, and stores nothing" {
	printf '%s\n' 'service_instance :vm, :vm, {' '  :pagers => [' \
		'    { :name => "mem0", :namespace => "user" },' \
		'    { :name => "mem0", :namespace => "other" },' '  ]' '}' >bad.rb
	run -65 --separate-stderr fk --services bad.rb write user k <<<'{"entries":[]}'
	[ "$stderr" = "flokvm: write: bad.rb:4: duplicate pager name \"mem0\" (also at line 3)" ]
	[ ! -e "$DB" ]
}

@test "services: an unknown type names the known ones" {
	echo '{"pagers":[{"name":"x","namespace":"a","options":{"type":"ftp"}}]}' >s.json
	run -65 --separate-stderr fk --services s.json pagers
	[[ "$stderr" == *'s.json:1: pager "x": unknown type "ftp" (known: exec, mem, net_sim, postgres, spec)'* ]]
}

@test "services: readonly namespaces refuse writes with 69 and store nothing" {
	services '{"pagers":[{"name":"mem0","namespace":"ro","options":{"readonly":true}}]}'
	run -69 --separate-stderr fk write ro k <<<'{"entries":[]}'
	[ "$stderr" = 'flokvm: write: namespace "ro" is read-only (pager "mem0")' ]
	[ ! -e "$DB" ]
	run -0 fk read_sync ro k
}

@test "services: settings come from the file, the environment wins" {
	services '{"pagers":[{"name":"mem0","namespace":"user"}],"settings":{"max_key_bytes":4}}'
	run -65 --separate-stderr fk write user abcde <<<'{"entries":[]}'
	[[ "$stderr" == *'key is 5 bytes long (at most 4)'* ]]
	FLOKVM_MAX_KEY_BYTES=10 run -0 fk write user abcde <<<'{"entries":[]}'
}

@test "services: an unknown setting is an error naming the file" {
	services '{"pagers":[],"settings":{"colour":"blue"}}'
	run -65 --separate-stderr fk pagers
	[[ "$stderr" == *"services.rb:1: unknown setting 'colour'"* ]]
}

@test "services: several instances of one type serve several namespaces" {
	services 'service_instance :vm, :vm, { :pagers => [
	  { :name => "mem0", :namespace => "a" },
	  { :name => "mem1", :namespace => "b" },
	  { :name => "mem2", :namespace => "c" } ] }'
	for ns in a b c; do fk write "$ns" k <<<"{\"entries\":[],\"ns\":\"$ns\"}"; done
	run -0 fk read_sync b k
	[[ "$output" == *'"ns":"b"'* ]]
}
