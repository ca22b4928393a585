#!/bin/sh
# tests/pg-cluster.sh - a private, throw-away PostgreSQL server for the
# postgres pager's tests and benchmark.  Never touches a system cluster.
#
#   pg-cluster.sh start DIR   initdb a cluster in DIR/data (if absent) and
#                             start it, listening only on a Unix socket in
#                             DIR (no TCP port), trust authentication.
#                             Prints the conninfo to use on stdout.
#   pg-cluster.sh stop DIR    stop it (fast shutdown); DIR stays.
#   pg-cluster.sh kill DIR    stop it immediately (as a crash would).
#   pg-cluster.sh remove DIR  stop it if running and delete DIR.
#
# PostgreSQL refuses to run as root, so when we are root (CI) the server
# runs as the `postgres` user.  The cluster lives in a fresh folder of its
# own under /tmp (see below), which that user can reach, named in
# DIR/where and removed with DIR.  The binaries come from
# `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
# Exit status: 0 done, 1 failed (the server's log is printed), 2 usage,
# 69 PostgreSQL's server programs are not installed.
set -eu

usage() {
	echo "usage: pg-cluster.sh start|stop|kill|remove DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
op=$1
dir=$2
case $op in start | stop | kill | remove) ;; *) usage ;; esac

bindir=
if command -v pg_config >/dev/null 2>&1; then
	bindir=$(pg_config --bindir)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
	echo "pg-cluster.sh: initdb/pg_ctl not found (install the postgresql package)" >&2
	exit 69
fi

# as_owner CMD...: runs CMD as the cluster's owner (postgres when root).
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# home: the folder holding data/, the socket and the logs.  Always a short
# fresh folder under /tmp, named in DIR/where: a Unix socket's path must
# fit in 107 bytes, which a deep temporary DIR may not.  0700: the server
# trusts whoever reaches its socket (root passes regardless).
[ "$op" != start ] || mkdir -p "$dir"
[ ! -d "$dir" ] || dir=$(cd "$dir" && pwd)
if [ -f "$dir/where" ] && [ -d "$(cat "$dir/where")" ]; then
	home=$(cat "$dir/where")
elif [ "$op" = start ]; then
	home=$(mktemp -d /tmp/flokvm-pg.XXXXXX)
	chmod 0700 "$home"
	[ "$(id -u)" = 0 ] && chown postgres: "$home"
	echo "$home" >"$dir/where"
else
	home=
fi
conninfo="host=$home user=postgres dbname=postgres"

case $op in
start)
	if as_owner "$bindir/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
		echo "$conninfo" # already running
		exit 0
	fi
	if [ ! -f "$home/data/PG_VERSION" ]; then
		as_owner "$bindir/initdb" -D "$home/data" -A trust -U postgres \
			-E UTF8 --locale=C >"$home/initdb.log" 2>&1 ||
			{ cat "$home/initdb.log" >&2; exit 1; }
	fi
	# listen_addresses='' : Unix socket only, so parallel runs never
	# collide on a port; the socket lives beside data/.
	if ! as_owner "$bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$home' -c max_connections=200" \
		start >/dev/null 2>&1; then
		cat "$home/server.log" >&2 2>/dev/null
		exit 1
	fi
	echo "$conninfo"
	;;
stop)
	[ -z "$home" ] || as_owner "$bindir/pg_ctl" -D "$home/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	;;
kill)
	[ -z "$home" ] || as_owner "$bindir/pg_ctl" -D "$home/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
	;;
remove)
	if [ -n "$home" ] && [ -f "$home/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$home/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
	fi
	[ -z "$home" ] || rm -rf "$home"
	rm -rf "$dir"
	;;
esac
