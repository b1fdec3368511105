# lib.sh - small helpers for the integration tests; source it from a test:
#     . "$(dirname "$0")/lib.sh"
# It sets `set -euo pipefail` and an EXIT trap that runs the cleanups.
#
#   yl_require VAR...          exit 1 unless every named variable is set
#   yl_tmpdir                  sets YL_TMP to a new temp dir, removed at exit
#                              (kept when YL_KEEP=1, for post-mortems)
#   yl_on_exit CMD             run CMD (a string, eval'ed) at exit, newest first
#   yl_unique                  print a suffix unique to this run: <pid>-<random>
#   yl_free_port               print a loopback TCP port nobody listens on
#   yl_bootstrap               print the test broker's address (kafka-local)
#   yl_kafka_yaml SUFFIX       print `kafka:` and `topics:` config sections for
#                              the test broker, topics reports.{raw,tagged,dlq}.SUFFIX
#   yl_topic_dump TOPIC        print every message of TOPIC as "key<TAB>value"
#   yl_start LOG CMD...        start CMD in the background, output to LOG;
#                              sets YL_PID; SIGKILLed at exit if still running
#   yl_stop PID [SECONDS]      SIGTERM PID, wait up to SECONDS (30); return its
#                              exit status, or 124 if it had to be SIGKILLed
#   yl_wait_for SECONDS CMD... retry CMD every 0.1 s; return 1 on timeout
#   yl_wait_log SECONDS LOG ERE  wait for a line of LOG matching ERE
#   yl_pass MSG, yl_fail MSG   print "ok - MSG" / "FAIL - MSG" (and exit 1)
#   yl_expect_eq WANT GOT MSG  yl_pass or yl_fail on WANT == GOT
#
# Environment (set by ctest, see tests/CMakeLists.txt): YALU_BIN (binaries),
# YALU_SRC (source tree), YALU_TEST_KAFKA_DIR (the broker fixture's dir).

set -euo pipefail

YL_CLEANUPS=()

yl__cleanup() {
    local i rc=$?
    for ((i = ${#YL_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${YL_CLEANUPS[i]}" >/dev/null 2>&1 || true
    done
    return $rc
}
trap yl__cleanup EXIT
trap 'exit 130' INT TERM

yl_on_exit() { YL_CLEANUPS+=("$1"); }

yl_pass() { printf 'ok - %s\n' "$*"; }
yl_fail() { printf 'FAIL - %s\n' "$*" >&2; exit 1; }

yl_expect_eq() {
    if [[ "$1" == "$2" ]]; then yl_pass "$3"
    else yl_fail "$3: expected '$1', got '$2'"; fi
}

yl_require() {
    local v
    for v in "$@"; do
        [[ -n "${!v:-}" ]] || yl_fail "$v is not set (run through ctest)"
    done
}

yl_tmpdir() {
    YL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/yalu-test.XXXXXX")
    if [[ "${YL_KEEP:-0}" == 1 ]]; then
        yl_on_exit "echo 'kept $YL_TMP' >&2"
    else
        yl_on_exit "rm -rf '$YL_TMP'"
    fi
}

yl_unique() { printf '%s-%s%s\n' "$$" "$RANDOM" "$RANDOM"; }

yl_free_port() {
    local p i lo=20000 hi=32767 eph
    # Below the kernel's ephemeral range: a port a client socket (a Kafka
    # connection) holds as its own end answers no connect, yet cannot be
    # bound, so a daemon given it would fail to start.
    read -r eph _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
    ((eph > lo + 1000)) && hi=$((eph - 1))
    for ((i = 0; i < 100; i++)); do
        p=$((lo + RANDOM % (hi - lo + 1)))
        # Nothing answers a connect: free (a race remains, as everywhere).
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    return 1
}

yl_bootstrap() {
    "$YALU_SRC/scripts/kafka-local" bootstrap --dir "$YALU_TEST_KAFKA_DIR"
}

yl_kafka_yaml() {
    local bs
    bs=$(yl_bootstrap)
    cat <<EOF
kafka:
  bootstrap.servers: "$bs"
topics:
  raw: { name: "reports.raw.$1", partitions: 2 }
  tagged: { name: "reports.tagged.$1", partitions: 2 }
  dlq: { name: "reports.dlq.$1", partitions: 1 }
EOF
}

yl_topic_dump() {
    timeout 120 kcat -C -b "$(yl_bootstrap)" -t "$1" -e -o beginning -q -f '%k\t%s\n'
}

yl_start() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    YL_PID=$!
    yl_on_exit "kill -KILL $YL_PID"
}

yl_stop() {
    local pid=$1 secs=${2:-30} i rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 124
    fi
    wait "$pid" || rc=$?
    return $rc
}

yl_wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

yl_wait_log() { yl_wait_for "$1" grep -qE -- "$3" "$2"; }
