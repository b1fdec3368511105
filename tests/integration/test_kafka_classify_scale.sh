#!/usr/bin/env bash
# Horizontal scaling through the consumer group, the whole pipeline on the
# real broker: three yalu-classify share reports.raw (6 partitions) while
# 5,000 reports come in from four producers; half-way one classifier is
# SIGKILLed and a fourth joins. Every report must be archived exactly once
# (the archive keyed by id), reports.tagged must have every report (no
# gap: what the killed one had not confirmed was tagged again by the
# others), the killed one's partitions must have moved to the others, and
# the archived tags must equal `yalu classify` offline.
#
# test_kafka_classify_rebalance.sh covers the finer points of one group
# (a clean stop under load, the offsets at the end); this one is about the
# pipeline end to end while the group changes.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
yl_tmpdir
tmp=$YL_TMP
n=5000
fail() {
	local f
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; grep -v '<7>' "$f" | tail -8 >&2; }
	done
	yl_fail "$*"
}
command -v kcat >/dev/null || fail "kcat is needed"
command -v curl >/dev/null || fail "curl is needed"
B=$(yl_bootstrap) || fail "no broker in $YALU_TEST_KAFKA_DIR"
u=scale-$(yl_unique)
raw=reports.raw.$u tagged=reports.tagged.$u
# The classifiers and the offline check read one copy of the rules.
cp -r "${YALU_TAXONOMY:-$YALU_SRC/configs/taxonomy}" "$tmp/tax"
printf 'Coal.\n' | "$YALU_BIN/yalu" classify --taxonomy "$tmp/tax" > "$tmp/rules.out" 2>&1 ||
	fail "the taxonomy does not load: $(tail -3 "$tmp/rules.out")"

"$YALU_BIN/yalu-gen-corpus" 10 4343 > "$tmp/gen.jsonl" 2>/dev/null
head -n "$n" "$tmp/gen.jsonl" > "$tmp/all.jsonl"
yl_expect_eq "$n" "$(wc -l < "$tmp/all.jsonl")" "generated $n reports"
split -n l/4 -d "$tmp/all.jsonl" "$tmp/part."
for f in "$tmp"/part.*; do mv "$f" "$f.jsonl"; done

# A short session timeout: the group notices the SIGKILLed member in
# seconds, not the default 45 s.
common() {
	cat <<Y
kafka:
  bootstrap.servers: "$B"
  session.timeout.ms: "6000"
  heartbeat.interval.ms: "500"
  statistics.interval.ms: "1000"
topics:
  raw: {name: $raw, partitions: 6}
  tagged: {name: $tagged, partitions: 3}
  dlq: {name: reports.dlq.$u, partitions: 1}
Y
}
ing=tcp://127.0.0.1:$(yl_free_port)
{ common; printf 'listen: "%s"\n' "$ing"; } > "$tmp/ingest.yaml"
{ common; printf 'group: sto-%s\ndb: "%s"\n' "$u" "$tmp/archive.db"; } > "$tmp/store.yaml"
"$YALU_BIN/yalu" topics ensure -f "$tmp/ingest.yaml" >/dev/null 2>&1 || fail "topics ensure"

# classifier K: starts instance K with its own metrics port; sets cpid[K].
declare -A cpid cport
classifier() {
	cport[$1]=$(yl_free_port)
	{ common; printf 'group: cls-%s\npublish: ""\ntaxonomy: "%s"\nmetrics: {port: %s}\n' \
		"$u" "$tmp/tax" "${cport[$1]}"; } > "$tmp/c$1.yaml"
	yl_start "$tmp/c$1.log" "$YALU_BIN/yalu-classify" -d -f "$tmp/c$1.yaml"
	cpid[$1]=$YL_PID
}
# parts K: the partitions instance K owns now, from its lag gauges.
parts() {
	curl -sf "http://127.0.0.1:${cport[$1]}/metrics" |
		sed -n 's/^yalu_classify_consumer_lag{topic="[^"]*",partition="\([0-9]*\)"} .*/\1/p' |
		sort -n | tr '\n' ' '
}
count() { sqlite3 "$tmp/archive.db" 'SELECT count(*) FROM reports' 2>/dev/null || echo 0; }
have() { [ "$(count)" -ge "$1" ]; }

yl_start "$tmp/ingest.log" "$YALU_BIN/yalu-ingest" -d -f "$tmp/ingest.yaml"; ingest=$YL_PID
yl_start "$tmp/store.log" "$YALU_BIN/yalu-store" -d -f "$tmp/store.yaml"; store=$YL_PID
for k in 1 2 3; do classifier "$k"; done
# All three in the group, six partitions between them.
owned3() { [ "$(parts 1)$(parts 2)$(parts 3)" != "" ] &&
	[ "$( (parts 1; parts 2; parts 3) | tr ' ' '\n' | grep -c .)" -eq 6 ] &&
	[ -n "$(parts 1)" ] && [ -n "$(parts 2)" ] && [ -n "$(parts 3)" ]; }
# The lag gauges need a first fetch: give the group something to read.
printf '{"id":"warm-%s","body":"Coal went out through Nampo."}\n' "$u" > "$tmp/warm.jsonl"
"$YALU_BIN/yalu" submit --endpoint "$ing" --timeout 60 "$tmp/warm.jsonl" >/dev/null 2>&1 ||
	fail "first report not acknowledged"
yl_wait_for 60 owned3 || fail "partitions not shared by three: '$(parts 1)' '$(parts 2)' '$(parts 3)'"
yl_pass "three classifiers share the six partitions: $(parts 1)| $(parts 2)| $(parts 3)"

# Four producers at once, four reports in flight each.
pids=()
for f in "$tmp"/part.*.jsonl; do
	"$YALU_BIN/yalu" submit --endpoint "$ing" --parallel 4 --timeout 120 "$f" > "$f.out" 2>&1 &
	pids+=($!)
done

# Half-way, one classifier dies without a word and a fourth joins.
yl_wait_for 240 have $((n / 2)) || fail "only $(count) archived before the kill"
killed=$(parts 1)
[ -n "$killed" ] || fail "instance 1 owned no partition before the kill"
at=$(count)
{ kill -KILL "${cpid[1]}" && wait "${cpid[1]}"; } 2>/dev/null || true
classifier 4
yl_pass "instance 1 (partitions $killed) SIGKILLed at $at archived; instance 4 started"

for p in "${pids[@]}"; do
	wait "$p" || fail "a producer saw an error: $(grep -h err "$tmp"/part.*.out | head -3)"
done
yl_expect_eq "$n" "$(cat "$tmp"/part.*.out | grep -c ': ok ')" "every report acknowledged"

want=$((n + 1))	# and the warm-up report
yl_wait_for 240 have "$want" || fail "only $(count) of $want archived"
# The killed one's partitions now belong to the others, and nothing is left.
taken() {
	local all p
	all=$( (parts 2; parts 3; parts 4) | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
	[ "$all" = "0 1 2 3 4 5 " ] || return 1
	for p in 2 3 4; do
		curl -sf "http://127.0.0.1:${cport[$p]}/metrics" |
			awk '/^yalu_classify_consumer_lag\{/ && $2 != 0 { bad = 1 } END { exit bad }' ||
			return 1
	done
}
yl_wait_for 60 taken || fail "partitions after the kill: '$(parts 2)' '$(parts 3)' '$(parts 4)'"
[ -n "$(parts 4)" ] || fail "the new instance got no partition"
yl_pass "partitions $killed taken over: $(parts 2)| $(parts 3)| $(parts 4)(new); lag 0"

sleep 2	# anything duplicated would arrive now
yl_expect_eq "$want" "$(count)" "all $want archived, none twice"
yl_expect_eq "$want" "$(sqlite3 "$tmp/archive.db" 'SELECT count(DISTINCT id) FROM reports')" \
	"$want distinct ids"
sqlite3 "$tmp/archive.db" 'SELECT id FROM reports' | sort > "$tmp/archived.ids"
{ jq -r .id "$tmp/all.jsonl"; echo "warm-$u"; } | sort > "$tmp/sent.ids"
cmp -s "$tmp/sent.ids" "$tmp/archived.ids" || fail "archived ids differ from those sent"
yl_pass "the archive holds exactly the ids sent"

# reports.tagged: no gap, every report at least once.
timeout 120 kcat -b "$B" -C -t "$tagged" -e -q -f '%k\n' 2>/dev/null > "$tmp/tagged.keys"
yl_expect_eq "$want" "$(sort -u "$tmp/tagged.keys" | wc -l)" "every report on reports.tagged"
yl_pass "reports.tagged: $(wc -l < "$tmp/tagged.keys") messages, $(($(wc -l < "$tmp/tagged.keys") - want)) tagged twice after the kill"

# Tags in the archive = `yalu classify` offline, for every report.
"$YALU_BIN/yalu" query --db "$tmp/archive.db" --format jsonl > "$tmp/archived.jsonl" ||
	fail "yalu query"
jq -c '{id, body}' "$tmp/archived.jsonl" > "$tmp/bodies.jsonl"
"$YALU_BIN/yalu" classify --taxonomy "$tmp/tax" "$tmp/bodies.jsonl" 2> "$tmp/offline.err" |
	jq -c '[.id, .tags]' | sort > "$tmp/offline.txt" ||
	fail "yalu classify offline: $(head -3 "$tmp/offline.err")"
jq -c '[.id, .tags]' "$tmp/archived.jsonl" | sort > "$tmp/online.txt"
yl_expect_eq "$want" "$(wc -l < "$tmp/offline.txt")" "offline classification of every body"
if ! cmp -s "$tmp/offline.txt" "$tmp/online.txt"; then
	diff "$tmp/offline.txt" "$tmp/online.txt" | head -4 >&2
	fail "archived tags differ from yalu classify"
fi
yl_pass "archived tags equal yalu classify's for all $want"

for k in 2 3 4; do yl_stop "${cpid[$k]}" 60 || fail "classifier $k: no clean exit"; done
yl_stop "$store" 60 || fail "store: no clean exit"
yl_stop "$ingest" 60 || fail "ingest: no clean exit"
yl_pass "SIGTERM: every daemon left exits 0"
