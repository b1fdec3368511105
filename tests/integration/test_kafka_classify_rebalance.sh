#!/usr/bin/env bash
# Several yalu-classify in one group on the real broker, while reports keep
# coming: a second instance joins (cooperative rebalance), the first stops
# with SIGTERM, comes back, and is then killed with SIGKILL. Every report
# must end up on reports.tagged (a crash may tag some twice, never lose
# one), and once all are stopped cleanly the group's offsets are at the end.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
yl_tmpdir
tmp=$YL_TMP
classifyd=$YALU_BIN/yalu-classify
fail() {
	local f
	for f in "$tmp"/c*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; grep -v '<7>' "$f" | tail -15 >&2; }
	done
	yl_fail "$*"
}
command -v kcat >/dev/null || fail "kcat is needed"
B=$(yl_bootstrap) || fail "no broker in $YALU_TEST_KAFKA_DIR"
run=clsrb-$(yl_unique)
raw=$run.raw tagged=$run.tagged

# A small taxonomy: this test is about offsets, not tags.
mkdir "$tmp/tax"
printf 'version: "rb.1"\nprovisions:\n  UNSCR-2371-OP9: ban\n' > "$tmp/tax/ruleset.yaml"
printf 'cues:\n  import: [import*]\n  export: [export*]\n  negation: [did not]\n  trade: [trade]\n  clause: [but]\n' > "$tmp/tax/cues.yaml"
printf 'commodities:\n  seafood:\n    cite: {export: [UNSCR-2371-OP9]}\n    terms: [crab]\n' > "$tmp/tax/commodities.yaml"
cat > "$tmp/c.yaml" <<Y
kafka:
  bootstrap.servers: "$B"
  session.timeout.ms: "6000"
  heartbeat.interval.ms: "500"
topics:
  raw: {name: $raw, partitions: 4}
  tagged: {name: $tagged, partitions: 2}
  dlq: {name: $run.dlq, partitions: 1}
group: $run
taxonomy: $tmp/tax
publish: ""
max_inflight: 50
Y
"$YALU_BIN/yalu" topics ensure -f "$tmp/c.yaml" >/dev/null 2>&1 || fail "topics ensure"

# batch FROM TO: reports FROM..TO onto reports.raw.
batch() {
	local i
	for ((i = $1; i <= $2; i++)); do
		printf 'rb-%d\t{"id":"rb-%d","body":"Crab was exported, lot %d."}\n' "$i" "$i" "$i"
	done > "$tmp/batch.txt"
	kcat -b "$B" -P -t "$raw" -K $'\t' -l "$tmp/batch.txt" || fail "kcat produce"
}
# unique_tagged: distinct report ids on reports.tagged.
unique_tagged() {
	timeout 120 kcat -b "$B" -C -t "$tagged" -e -q -f '%k\n' 2>/dev/null | sort -u | wc -l
}
has_unique() { test "$(unique_tagged)" -ge "$1"; }

yl_start "$tmp/c1.log" "$classifyd" -d -f "$tmp/c.yaml"
a=$YL_PID
yl_wait_log 30 "$tmp/c1.log" "assigned partitions" || fail "first instance got no partitions"
batch 1 200
yl_wait_for 60 has_unique 200 || fail "first batch: $(unique_tagged) of 200 tagged"

# A second instance joins while reports arrive.
yl_start "$tmp/c2.log" "$classifyd" -d -f "$tmp/c.yaml"
b=$YL_PID
batch 201 400
yl_wait_log 30 "$tmp/c2.log" "assigned partitions" || fail "second instance got no partitions"
yl_wait_log 30 "$tmp/c1.log" "partitions [0-9,]+ revoked" || fail "first instance gave nothing up"
batch 401 600
yl_wait_for 60 has_unique 600 || fail "after the join: $(unique_tagged) of 600 tagged"
yl_pass "a second instance joined: partitions shared, all 600 tagged"

# The first stops cleanly under load: its partitions move, nothing is lost.
batch 601 800 &
producer=$!
rc=0
yl_stop "$a" || rc=$?
wait "$producer"
[ "$rc" -eq 0 ] || fail "SIGTERM under load: exit $rc"
yl_wait_for 60 has_unique 800 || fail "after a clean stop: $(unique_tagged) of 800 tagged"
yl_pass "the first stopped with SIGTERM under load: exit 0, all 800 tagged"

# It comes back, then dies without a word: its uncommitted reports are
# tagged again by the survivor (at least once), none is lost.
yl_start "$tmp/c3.log" "$classifyd" -d -f "$tmp/c.yaml"
a=$YL_PID
yl_wait_log 30 "$tmp/c3.log" "assigned partitions" || fail "the restarted instance got no partitions"
batch 801 1000
yl_wait_for 60 has_unique 1000 || fail "before SIGKILL: $(unique_tagged) of 1000 tagged"
{ kill -KILL "$a" && wait "$a"; } 2>/dev/null || true
batch 1001 1200
yl_wait_for 90 has_unique 1200 || fail "after SIGKILL: $(unique_tagged) of 1200 tagged"
total=$(timeout 120 kcat -b "$B" -C -t "$tagged" -e -q -f 'x\n' 2>/dev/null | wc -l)
yl_pass "one instance SIGKILLed: all 1200 tagged ($((total - 1200)) twice)"

# All stopped cleanly: the group's offsets are at the end of reports.raw.
rc=0
yl_stop "$b" || rc=$?
[ "$rc" -eq 0 ] || fail "last instance: exit $rc"
yl_start "$tmp/c4.log" "$classifyd" -d -f "$tmp/c.yaml"
yl_wait_log 30 "$tmp/c4.log" "assigned partitions" || fail "check instance got no partitions"
sleep 3
rc=0
yl_stop "$YL_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "check instance: exit $rc"
grep -q 'stopped: 0 consumed' "$tmp/c4.log" || fail "offsets were not at the end: $(grep stopped "$tmp/c4.log")"
yl_pass "after a clean stop of all, nothing is left to tag"
