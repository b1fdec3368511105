#!/usr/bin/env bash
# tests/tools/notify_listen, the stand-in for systemd's NOTIFY_SOCKET that
# the daemon tests use: it prints each datagram as one line in the order
# sent ('|' between assignments), on a path or an abstract "@name", stops
# on SIGTERM (printing what was already queued, removing its socket file)
# or at --timeout. systemd-notify does the sending, as a daemon's
# sd_notify would (it adds a BARRIER=1 after each message, ignored here).
# SKIPs when notify_listen is not built or systemd-notify is missing.
set -euo pipefail
: "${YALU_BIN:?}"
nl="${NOTIFY_LISTEN:-$YALU_BIN/../tests/notify_listen}"
[ -x "$nl" ] || nl="$YALU_BIN/notify_listen"
if [ ! -x "$nl" ]; then
	echo "SKIP: notify_listen not built (tests/CMakeLists.txt target)"
	exit 0
fi
if ! command -v systemd-notify >/dev/null 2>&1; then
	echo "SKIP: systemd-notify not installed (apt package systemd)"
	exit 0
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# Waits until the listener's socket exists: from then on, datagrams queue.
wait_socket() {
	local i
	for i in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# 1. A daemon's life, in order, then SIGTERM.
sock="$tmp/notify.sock"
"$nl" --timeout 30 "$sock" > "$tmp/out" &
pid=$!
wait_socket "$sock" || bad "no socket at $sock"
export NOTIFY_SOCKET="$sock"
systemd-notify --ready --status="consuming"
systemd-notify --status="42 reports, 3 in flight"
systemd-notify RELOADING=1 MONOTONIC_USEC=12345
systemd-notify --ready
systemd-notify STOPPING=1
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
unset NOTIFY_SOCKET
[ "$rc" -eq 0 ] || bad "exit $rc after SIGTERM, want 0"
[ ! -e "$sock" ] || bad "socket file left behind"
grep -v '^BARRIER=1$' "$tmp/out" > "$tmp/got"
cat > "$tmp/want" <<'EOF'
READY=1|STATUS=consuming
STATUS=42 reports, 3 in flight
RELOADING=1|MONOTONIC_USEC=12345
READY=1
STOPPING=1
EOF
if ! diff -u "$tmp/want" "$tmp/got"; then
	bad "notifications not printed one per line in order"
fi

# 2. An abstract socket, and the timeout ends it with status 0.
name="@yalu-notify-test-$$"
start=$(date +%s)
"$nl" -t 2 "$name" > "$tmp/out2" &
pid=$!
# No file to wait for: send until the socket is there to take it.
sent=0
for i in $(seq 40); do
	if NOTIFY_SOCKET="$name" systemd-notify --ready 2>/dev/null; then
		sent=1
		break
	fi
	sleep 0.05
done
[ "$sent" -eq 1 ] || bad "abstract socket: systemd-notify never got through"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || bad "exit $rc at timeout, want 0"
[ $(( $(date +%s) - start )) -le 5 ] || bad "timeout not honoured"
grep -qx 'READY=1' "$tmp/out2" || bad "abstract socket: no READY=1"

# 3. Usage errors are 64, a socket it cannot bind is 1.
rc=0; "$nl" 2>/dev/null || rc=$?
[ "$rc" -eq 64 ] || bad "no path: exit $rc, want 64"
rc=0; "$nl" --timeout soon "$sock" 2>/dev/null || rc=$?
[ "$rc" -eq 64 ] || bad "bad timeout: exit $rc, want 64"
rc=0; "$nl" -t 1 "$tmp/no/such/dir/sock" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || bad "unbindable path: exit $rc, want 1"

[ "$fail" -eq 0 ] || exit 1
echo PASS
