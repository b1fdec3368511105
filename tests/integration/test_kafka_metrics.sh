#!/usr/bin/env bash
# /metrics and /health of the three daemons, against the real broker: the
# counters say what happened to a known mix of reports (accepted, refused
# at the door, a spool file done and one rejected, a dead letter at
# classify and one at store), the consumer lag per partition falls to 0
# once all is archived, the archive has a size, and /health is 503 while a
# daemon waits for Kafka, 200 once it runs.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
yl_tmpdir
tmp=$YL_TMP
fail() {
	local f
	for f in "$tmp"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; grep -v '<7>' "$f" | tail -10 >&2; }
	done
	yl_fail "$*"
}
command -v kcat >/dev/null || fail "kcat is needed"
command -v curl >/dev/null || fail "curl is needed"
B=$(yl_bootstrap) || fail "no broker in $YALU_TEST_KAFKA_DIR"
u=met-$(yl_unique)
mi=$(yl_free_port) mc=$(yl_free_port) ms=$(yl_free_port)
# A small taxonomy of its own: this test is about counting, not tagging.
mkdir "$tmp/tax"
printf 'version: "met.1"\nprovisions:\n  UNSCR-2397-OP5: ban\n' > "$tmp/tax/ruleset.yaml"
printf 'cues:\n  import: [import*]\n  export: [export*]\n  negation: [did not]\n  trade: [trade]\n  clause: [but]\n' > "$tmp/tax/cues.yaml"
printf 'commodities:\n  petroleum:\n    cite: {import: [UNSCR-2397-OP5]}\n    terms: [diesel]\n' > "$tmp/tax/commodities.yaml"
ing=tcp://127.0.0.1:$(yl_free_port)

# Statistics every 500 ms, so the lag gauges move within the test.
common() {
	cat <<Y
kafka:
  bootstrap.servers: "$B"
  statistics.interval.ms: "500"
topics:
  raw: {name: reports.raw.$u, partitions: 2}
  tagged: {name: reports.tagged.$u, partitions: 2}
  dlq: {name: reports.dlq.$u, partitions: 1}
Y
}
{ common; printf 'listen: "%s"\nspool: "%s"\nmax_report_bytes: 4000\nmetrics: {port: %s}\n' \
	"$ing" "$tmp/spool" "$mi"; } > "$tmp/ingest.yaml"
{ common; printf 'group: cls-%s\npublish: ""\ntaxonomy: "%s"\nmetrics: {port: %s}\n' \
	"$u" "$tmp/tax" "$mc"; } > "$tmp/classify.yaml"
{ common; printf 'group: sto-%s\ndb: "%s"\nbatch_ms: 20\nmetrics: {port: %s}\n' \
	"$u" "$tmp/archive.db" "$ms"; } > "$tmp/store.yaml"
for d in ingest classify store; do
	"$YALU_BIN/yalu-$d" -n -f "$tmp/$d.yaml" >/dev/null 2>&1 || fail "yalu-$d -n"
done
printf 'metrics: {port: 80, address: 10.1.2.3}\n' > "$tmp/bad.yaml"
for d in ingest store; do
	rc=0
	"$YALU_BIN/yalu-$d" -n -f "$tmp/bad.yaml" > "$tmp/bad.out" 2>&1 || rc=$?
	[ "$rc" -eq 78 ] && grep -q "not loopback" "$tmp/bad.out" ||
		fail "yalu-$d -n took a remote metrics address: $rc $(cat "$tmp/bad.out")"
done
yl_pass "metrics: section checked by -n (a remote address is refused)"

# scrape PORT: the metrics text into $tmp/m.PORT.
scrape() { curl -sf "http://127.0.0.1:$1/metrics" > "$tmp/m.$1"; }
# value PORT SERIES: the sample of SERIES (name{labels}) in the last scrape.
value() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$tmp/m.$1"; }
expect() {
	local got
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] || fail "$2 is $got, want $3 (port $1)"
}
health() { curl -s -o "$tmp/h.body" -w '%{http_code}' "http://127.0.0.1:$1/health"; }

# A daemon that cannot reach Kafka is not healthy: 503 "starting".
mx=$(yl_free_port)
sed -e "s/port: $mi/port: $mx/" -e "s#$ing#tcp://127.0.0.1:$(yl_free_port)#" \
	-e "s#$tmp/spool#$tmp/spool2#" "$tmp/ingest.yaml" > "$tmp/ingest2.yaml"
YALU_KAFKA=127.0.0.1:$(yl_free_port) yl_start "$tmp/ingest2.log" \
	"$YALU_BIN/yalu-ingest" -d -f "$tmp/ingest2.yaml"
lost=$YL_PID
up_x() { [ "$(health "$mx")" != 000 ]; }
yl_wait_for 20 up_x || fail "no /health on $mx"
yl_expect_eq "503 starting" "$(health "$mx") $(cat "$tmp/h.body")" \
	"/health of an ingest waiting for Kafka"
yl_stop "$lost" 20 || fail "ingest waiting for Kafka: no clean exit on SIGTERM"

yl_start "$tmp/ingest.log" "$YALU_BIN/yalu-ingest" -d -f "$tmp/ingest.yaml"; ingest=$YL_PID
yl_start "$tmp/classify.log" "$YALU_BIN/yalu-classify" -d -f "$tmp/classify.yaml"; classify=$YL_PID
yl_start "$tmp/store.log" "$YALU_BIN/yalu-store" -d -f "$tmp/store.yaml"; store=$YL_PID
all_ok() {
	local p
	for p in "$mi" "$mc" "$ms"; do [ "$(health "$p")" = 200 ] || return 1; done
}
yl_wait_for 60 all_ok || fail "not all healthy: $(health "$mi") $(health "$mc") $(health "$ms")"
yl_expect_eq "ok" "$(cat "$tmp/h.body")" "/health of a running daemon says ok"
yl_pass "/health: 200 on all three once connected"

# Five good reports, one too large for max_report_bytes.
for i in 1 2 3 4 5; do
	printf '{"id":"met-%s-%d","body":"Chinese trucks carried diesel into Sinuiju, lot %d."}\n' "$u" "$i" "$i"
done > "$tmp/good.jsonl"
head -c 5000 /dev/zero | tr '\0' 'x' > "$tmp/big.txt"
"$YALU_BIN/yalu" submit --endpoint "$ing" --timeout 60 "$tmp/good.jsonl" > "$tmp/submit.out" 2>&1 ||
	fail "submit: $(cat "$tmp/submit.out")"
"$YALU_BIN/yalu" submit --endpoint "$ing" --timeout 60 "$tmp/big.txt" >> "$tmp/submit.out" 2>&1 &&
	fail "a report over max_report_bytes was accepted"
grep -q "over max_report_bytes" "$tmp/submit.out" || fail "no size refusal: $(cat "$tmp/submit.out")"
# The spool: one report, one file of a type it does not read.
printf 'Squid was exported from Rajin by boat.\n' > "$tmp/spool/incoming/.s1.txt"
mv "$tmp/spool/incoming/.s1.txt" "$tmp/spool/incoming/s1.txt"
printf 'x' > "$tmp/spool/incoming/.s2.bin"
mv "$tmp/spool/incoming/.s2.bin" "$tmp/spool/incoming/s2.bin"
# Straight onto the topics: not JSON for classify, not a tagged report for store.
printf 'bad-raw\tthis is not json\n' | kcat -b "$B" -P -t "reports.raw.$u" -K $'\t' ||
	fail "kcat produce"
printf 'bad-tagged\t{"id":"x"}\n' | kcat -b "$B" -P -t "reports.tagged.$u" -K $'\t' ||
	fail "kcat produce"

count() { sqlite3 "$tmp/archive.db" 'SELECT count(*) FROM reports' 2>/dev/null || echo 0; }
six() { [ "$(count)" -ge 6 ]; }
yl_wait_for 60 six || fail "only $(count) of 6 archived"

# Once everything is done and its offsets stored, every lag gauge is 0.
lag_zero() {
	local p
	for p in "$mc" "$ms"; do
		scrape "$p" || return 1
		grep -q '^yalu_[a-z]*_consumer_lag{' "$tmp/m.$p" || return 1
		awk '/^yalu_[a-z]*_consumer_lag\{/ && $2 != 0 { bad = 1 } END { exit bad }' \
			"$tmp/m.$p" || return 1
	done
	scrape "$mi" && [ "$(value "$mi" 'yalu_ingest_inflight')" = 0 ] &&
		[ "$(value "$ms" 'yalu_store_dead_letters_total{reason="undecodable"}')" = 1 ]
}
yl_wait_for 60 lag_zero || fail "lag not 0: $(grep -h consumer_lag "$tmp"/m.* | grep -v '#')"
for p in "$mc" "$ms"; do
	n=$(grep -c '^yalu_[a-z]*_consumer_lag{topic="reports\.[a-z]*\.'"$u"'",partition="[01]"}' "$tmp/m.$p")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "port $p: $n lag series"
done
yl_pass "consumer lag per partition: 0 once all is archived"

expect "$mi" 'yalu_ingest_received_total{source="zmq"}' 6
expect "$mi" 'yalu_ingest_acknowledged_total{source="zmq"}' 5
expect "$mi" 'yalu_ingest_refused_total{reason="too_large"}' 1
expect "$mi" 'yalu_ingest_refused_total{reason="invalid_utf8"}' 0
expect "$mi" 'yalu_ingest_received_total{source="spool"}' 2
expect "$mi" 'yalu_ingest_acknowledged_total{source="spool"}' 1
expect "$mi" 'yalu_ingest_refused_total{reason="file_type"}' 1
expect "$mi" 'yalu_ingest_spool_files_total{outcome="done"}' 1
expect "$mi" 'yalu_ingest_spool_files_total{outcome="rejected"}' 1
expect "$mi" 'yalu_ingest_delivery_failures_total{source="zmq"}' 0
expect "$mi" 'yalu_ingest_ack_seconds_count' 6
yl_pass "ingest: received, acknowledged, refused by reason, spool outcomes"

expect "$mc" 'yalu_classify_consumed_total' 7
expect "$mc" 'yalu_classify_tagged_total' 6
expect "$mc" 'yalu_classify_dead_letters_total{reason="invalid_json"}' 1
expect "$mc" 'yalu_classify_delivery_failures_total' 0
expect "$mc" 'yalu_classify_seconds_count' 7
yl_pass "classify: consumed, tagged, dead letters by reason, latency"

expect "$ms" 'yalu_store_consumed_total' 7
expect "$ms" 'yalu_store_reports_written_total{outcome="inserted"}' 6
expect "$ms" 'yalu_store_dead_letters_total{reason="undecodable"}' 1
expect "$ms" 'yalu_store_delivery_failures_total' 0
expect "$ms" 'yalu_store_archive_reports' 6
bytes=$(value "$ms" yalu_store_archive_bytes)
[ "$bytes" -gt 0 ] 2>/dev/null || fail "archive size is $bytes"
[ "$(value "$ms" yalu_store_batches_total)" -ge 1 ] || fail "no batch counted"
yl_pass "store: consumed, written, dead letters, archive of $bytes bytes"

for p in "$store" "$classify" "$ingest"; do
	yl_stop "$p" 60 || fail "a daemon did not exit 0 on SIGTERM"
done
yl_pass "SIGTERM: every daemon exits 0"
