#!/usr/bin/env bats
# The command line: usage errors, --help, --version, stdout guard.

load helpers

@test "cli: no command is a usage error" {
	run -2 --separate-stderr "$FLOKVM"
	[[ "$stderr" == "usage: flokvm [--db FILE] [--services FILE] COMMAND"* ]]
}

@test "cli: an unknown command exits 2" {
	run -2 --separate-stderr fk frobnicate
	[ "${stderr_lines[0]}" = "flokvm: unknown command 'frobnicate' (see flokvm help)" ]
}

@test "cli: --version prints the version" {
	run -0 "$FLOKVM" --version
	[[ "$output" =~ ^flokvm\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "cli: --help of every command prints its SYNOPSIS line from the man page" {
	for cmd in read read_sync write watch invalidate sync batch hash ls pagers check diff replay help; do
		run -0 fk "$cmd" --help
		line=${output#usage: }
		# the man page's SYNOPSIS holds the same line (mdoc markup removed)
		man_line=$(mandoc -Tascii "$BATS_TEST_DIRNAME/../man/flokvm.1" | col -b |
			sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -E 's/^ +//' | tr -s ' ' |
			grep -F -x -- "$line" || true)
		[ -n "$man_line" ] || { echo "not in the man page: $line"; false; }
	done
}

@test "cli: wrong operand counts and unknown options exit 2 with the usage" {
	run -2 --separate-stderr fk read user
	[ "${stderr_lines[0]}" = "flokvm: read: expected a namespace and a key" ]
	[ "${stderr_lines[1]}" = "usage: flokvm read NS KEY" ]
	run -2 fk write --frob user k
	run -2 fk write --if-seq x user k
	run -2 fk write --if-hash abc user k
	run -2 fk ls
	run -2 fk pagers extra
}

@test "cli: usage is checked before the services file" {
	services 'this is not a services file'
	run -2 fk read user
	run -65 fk read user k
}

@test "cli: a failed write to stdout is an error" {
	fk write user k <<<'{"entries":[]}'
	run -1 --separate-stderr bash -c "'$FLOKVM' --db '$DB' read_sync user k >/dev/full"
	[[ "$stderr" == "flokvm: read_sync: cannot write to standard output: No space left on device" ]]
}

@test "cli: help lists the commands" {
	run -0 fk help
	[[ "$output" == *"read_sync"*"write"* ]]
}
