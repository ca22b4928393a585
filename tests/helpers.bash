# helpers.bash - loaded by every bats file.
#
# Each test gets its own HOME, XDG folders and database under
# $BATS_TEST_TMPDIR, so nothing ever touches the user's home; the binary
# under test is $FLOKVM (set by meson), else the one in ./build.

bats_require_minimum_version 1.5.0

setup() {
	: "${FLOKVM:=$BATS_TEST_DIRNAME/../build/cli/flokvm}"
	export HOME="$BATS_TEST_TMPDIR/home"
	export XDG_CONFIG_HOME="$HOME/.config"
	export XDG_DATA_HOME="$HOME/.local/share"
	unset FLOKVM_DB FLOKVM_SERVICES FLOKVM_MAX_PAGE_BYTES FLOKVM_MAX_DEPTH \
		FLOKVM_MAX_KEY_BYTES FLOKVM_BUSY_TIMEOUT_MS FLOKVM_SYNCHRONOUS \
		FLOKVM_LOG_MAX_ROWS FLOKVM_BATCH_GROUP
	mkdir -p "$HOME"
	DB="$BATS_TEST_TMPDIR/pages.db"
	export DB
	cd "$BATS_TEST_TMPDIR" || return 1
}

# fk ARGS...: the binary with the test's database.
fk() {
	"$FLOKVM" --db "$DB" "$@"
}

# services TEXT: writes a services file into the XDG config folder, where
# flokvm finds it without --services.
services() {
	mkdir -p "$XDG_CONFIG_HOME/flokvm"
	printf '%s\n' "$1" >"$XDG_CONFIG_HOME/flokvm/services.rb"
}

# snapshot: every stored row, byte for byte, for "store unchanged" checks.
snapshot() {
	if [ -e "$DB" ]; then
		sqlite3 "$DB" "SELECT ns, key, hash, seq, entries, page, quote(sync) FROM pages ORDER BY ns, key; SELECT count(*), max(seq) FROM changes;"
	else
		echo "no database"
	fi
}

# wait_for COMMAND...: retries COMMAND for up to 10 seconds.
wait_for() {
	local n
	for n in $(seq 1 200); do
		"$@" && return 0
		sleep 0.05
	done
	echo "timed out waiting for: $*" >&2
	return 1
}

# watchers: the number of registered watcher rows.
watchers() {
	sqlite3 "$DB" 'SELECT count(*) FROM watchers' 2>/dev/null || echo 0
}

# has_watchers N: true when exactly N watcher rows are registered.
has_watchers() {
	[ "$(watchers)" = "$1" ]
}
