#!/usr/bin/env bash
# yalu-classify against the real broker, checked the way an operator would:
# a backlog of raw reports (two of them undecodable) is tagged onto
# reports.tagged with the same tags as `yalu classify` gives offline, the
# undecodable ones land on reports.dlq with their reason in headers, the
# live feed carries every tagged report, SIGHUP keeps a running ruleset
# when the new taxonomy is broken and switches when it is valid, SIGTERM
# exits 0 with every offset committed (a restart tags nothing again).
#
# Needs: YALU_BIN, YALU_SRC, YALU_TEST_KAFKA_DIR (a broker started with
# scripts/kafka-local, as the ctest fixture does), kcat, jq; YALU_TAXONOMY
# is used if it loads, else a small taxonomy written here.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
yl_tmpdir
tmp=$YL_TMP
yalu=$YALU_BIN/yalu
classifyd=$YALU_BIN/yalu-classify
# fail MSG: the daemon's last words, then yl_fail.
fail() {
	local f
	for f in "$tmp"/classify*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }
	done
	yl_fail "$*"
}
for c in kcat jq; do
	command -v "$c" >/dev/null || fail "$c is needed"
done

# -------------------------------------------------------------- helpers
B=$(yl_bootstrap) || fail "no broker in $YALU_TEST_KAFKA_DIR"
# Unique names: the broker is shared with the other test_kafka_* scripts.
run=cls-$(yl_unique)
raw=$run.raw tagged=$run.tagged dlq=$run.dlq group=$run-group

# count TOPIC: messages in TOPIC now.
count() {
	timeout 120 kcat -b "$B" -C -t "$1" -e -q -f 'x\n' 2>/dev/null | wc -l
}
# wait_count TOPIC N SECONDS: until TOPIC holds N messages.
wait_count() {
	yl_wait_for "$3" has_count "$1" "$2" ||
		fail "$1 holds $(count "$1") messages after $3 s, want $2"
}
has_count() { test "$(count "$1")" -ge "$2"; }
# wait_log FILE TEXT SECONDS: until a line of FILE holds TEXT (no regex).
wait_log() {
	yl_wait_for "$3" grep -qF -- "$2" "$1" || fail "no '$2' in $1 after $3 s"
}
# produce FILE: one message per line, "key<TAB>value".
produce() {
	kcat -b "$B" -P -t "$raw" -K $'\t' -l "$1" 2>"$tmp/kcat.err" ||
		fail "kcat produce: $(cat "$tmp/kcat.err")"
}
# tagged_of ID: the tagged JSON of report ID (the last one if several).
tagged_of() {
	timeout 120 kcat -b "$B" -C -t "$tagged" -e -q -f '%s\n' 2>/dev/null |
		jq -c --arg id "$1" 'select(.id == $id)' | tail -1
}

# ------------------------------------------------------------ taxonomy
mkdir "$tmp/tax"
echo "Crab was exported." > "$tmp/probe.txt"
if [ -n "${YALU_TAXONOMY:-}" ] && [ -d "$YALU_TAXONOMY" ] &&
	("$yalu" classify --taxonomy "$YALU_TAXONOMY" "$tmp/probe.txt") >/dev/null 2>&1; then
	cp "$YALU_TAXONOMY"/*.yaml "$tmp/tax/"
else
	echo "note: ${YALU_TAXONOMY:-no taxonomy} does not load; using a small one" >&2
	cat > "$tmp/tax/ruleset.yaml" <<'Y'
version: "itest.1"
provisions:
  UNSCR-2371-OP9: ban
  UNSCR-2371-OP8: ban
  UNSCR-2397-OP5: cap
carry_sentences: 1
Y
	cat > "$tmp/tax/cues.yaml" <<'Y'
cues:
  import: [import*, brought in, smuggled in]
  export: [export*, for export]
  negation: [did not, refused]
  trade: [trade, trading, trader*, customs]
  clause: [but]
Y
	cat > "$tmp/tax/commodities.yaml" <<'Y'
commodities:
  seafood:
    cite: {export: [UNSCR-2371-OP9]}
    terms: [crab, squid]
  coal:
    cite: {export: [UNSCR-2371-OP8]}
    terms: [coal]
  petroleum:
    cite: {import: [UNSCR-2397-OP5]}
    terms: [diesel, oil]
  foodstuffs:
    terms: [flour, soybean oil]
Y
	cat > "$tmp/tax/places.yaml" <<'Y'
countries:
  cn: [china, chinese]
crossings:
  dandong-sinuiju: [sinuiju, {term: dandong, country: cn}]
  changbai-hyesan: [hyesan, {term: changbai, country: cn}]
  nampo-port: [nampo]
Y
fi

# -------------------------------------------------------------- config
port=$(yl_free_port)
feed=tcp://127.0.0.1:$port
mport=$(yl_free_port)
cat > "$tmp/classify.yaml" <<Y
kafka:
  bootstrap.servers: "$B"
topics:
  raw: {name: $raw, partitions: 3}
  tagged: {name: $tagged, partitions: 2}
  dlq: {name: $dlq, partitions: 1}
group: $group
taxonomy: $tmp/tax
publish: "$feed"
max_inflight: 4
max_report_bytes: 65536
metrics: {port: $mport}
Y
"$classifyd" -n -f "$tmp/classify.yaml" > "$tmp/n.out" 2>&1 || fail "-n: $(cat "$tmp/n.out")"
grep -qx "configuration OK" "$tmp/n.out" || fail "-n printed: $(cat "$tmp/n.out")"
printf 'kafka: {}\ngroup: ""\nmax_inflight: -1\nfeed: x\n' > "$tmp/bad.yaml"
set +e
"$classifyd" -n -f "$tmp/bad.yaml" > "$tmp/bad.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "bad config: exit $rc, want 78"
grep -q "bad.yaml:3:15: max_inflight: -1 is out of range" "$tmp/bad.out" &&
	grep -q "bad.yaml:4:1: unknown key 'feed'" "$tmp/bad.out" &&
	grep -q "group: must not be empty" "$tmp/bad.out" ||
	fail "bad config, not every problem listed: $(cat "$tmp/bad.out")"
yl_pass "-n: configuration OK, or 78 with every problem"

"$yalu" topics ensure -f "$tmp/classify.yaml" >/dev/null || fail "topics ensure"

# ------------------------------------------------------------- reports
# N good reports of a few kinds, two undecodable messages among them.
n_good=30
bodies=(
	"Traders in Hyesan said squid was prepared for export to Changbai last week."
	"Customs in Dandong found diesel smuggled in by truck. Prices rose."
	"Coal was exported from Nampo to China by ship, a trader said."
	"A music festival opened in Pyongyang with dancers from every province."
	"Flour was imported from China through Sinuiju; the trading company paid in yuan."
)
: > "$tmp/raw1.txt"
for ((i = 1; i <= n_good; i++)); do
	b="${bodies[$((i % ${#bodies[@]}))]} (report $i)"
	jq -cn --arg id "it-$i" --arg b "$b" --arg t "Report $i" \
		'{id: $id, source: "itest", received_at: "2026-11-24T10:00:00Z", title: $t, body: $b, meta: {n: 1}}' |
		sed "s/^/it-$i\t/" >> "$tmp/raw1.txt"
	if [ "$i" -eq 10 ]; then
		printf 'bad-json\t{"id":"bad-json","body":"cut off\n' >> "$tmp/raw1.txt"
	elif [ "$i" -eq 20 ]; then
		printf 'bad-utf8\t{"id":"bad-utf8","body":"caf\xe9 \xff"}\n' >> "$tmp/raw1.txt"
	fi
done

# The live feed is watched before anything is produced.
yl_start "$tmp/watch.jsonl" "$yalu" watch --format json --endpoint "$feed"
watch_pid=$YL_PID
yl_start "$tmp/watch-high.txt" "$yalu" watch --min-relevance high --endpoint "$feed"
watch_high_pid=$YL_PID

produce "$tmp/raw1.txt"
[ "$(count "$raw")" -eq $((n_good + 2)) ] || fail "raw topic holds $(count "$raw")"

# systemd's notifications, through the stand-in socket when it is built.
notify=()
nl=$YALU_BIN/../tests/notify_listen
if [ -x "$nl" ]; then
	yl_start "$tmp/notify.txt" "$nl" "$tmp/notify.sock"
	nl_pid=$YL_PID
	yl_wait_for 5 test -S "$tmp/notify.sock" || fail "notify_listen did not start"
	notify=(env "NOTIFY_SOCKET=$tmp/notify.sock")
fi
yl_start "$tmp/classify1.log" "${notify[@]}" "$classifyd" -d -f "$tmp/classify.yaml"
cls_pid=$YL_PID
wait_count "$tagged" "$n_good" 60
wait_count "$dlq" 2 20
sleep 1
[ "$(count "$tagged")" -eq "$n_good" ] || fail "tagged holds $(count "$tagged"), want $n_good"
[ "$(count "$dlq")" -eq 2 ] || fail "dlq holds $(count "$dlq"), want 2"

# Every good report tagged once, keyed by its id.
timeout 120 kcat -b "$B" -C -t "$tagged" -e -q -f '%k %s\n' > "$tmp/tagged.txt"
for ((i = 1; i <= n_good; i++)); do
	grep -q "^it-$i {\"id\":\"it-$i\"" "$tmp/tagged.txt" || fail "report it-$i not tagged under its key"
done
ruleset1=$(head -1 "$tmp/tagged.txt" | cut -d' ' -f2- | jq -r .ruleset)
[ -n "$ruleset1" ] && [ "$ruleset1" != null ] || fail "no ruleset in tagged reports"
yl_pass "backlog: $n_good reports tagged once each under their key, 2 dead letters"

# The same tags as `yalu classify` offline, and the report fields kept.
for i in 1 2 3 4 5 17; do
	t=$(tagged_of "it-$i")
	body=$(jq -r .body <<<"$t")
	[ "$(jq -r '.title, .source, .received_at, .meta.n' <<<"$t" | tr '\n' ' ')" = \
		"Report $i itest 2026-11-24T10:00:00Z 1 " ] || fail "it-$i: report fields lost: $t"
	jq -e '.classified_at | test("^[0-9-]+T[0-9:.]+Z$")' <<<"$t" >/dev/null || fail "it-$i: no classified_at"
	off=$(jq -cn --arg id "it-$i" --arg b "$body" '{id: $id, body: $b}' |
		"$yalu" classify --taxonomy "$tmp/tax")
	[ "$(jq -cS .tags <<<"$t")" = "$(jq -cS .tags <<<"$off")" ] ||
		fail "it-$i: tags differ from yalu classify: $(jq -cS .tags <<<"$t") vs $(jq -cS .tags <<<"$off")"
	[ "$(jq -r .ruleset <<<"$t")" = "$(jq -r .ruleset <<<"$off")" ] || fail "it-$i: ruleset differs"
done
yl_pass "tags equal yalu classify's offline, report fields kept"

# Dead letters: original key and bytes, reason and origin in headers.
timeout 120 kcat -b "$B" -C -t "$dlq" -e -q -f '%k|%h|%s\n' > "$tmp/dlq.txt"
grep -q "^bad-json|.*yalu-error=invalid JSON" "$tmp/dlq.txt" || fail "bad-json: $(cat "$tmp/dlq.txt")"
grep -q "^bad-utf8|.*yalu-error=invalid UTF-8 at byte 28" "$tmp/dlq.txt" || fail "bad-utf8: $(cat "$tmp/dlq.txt")"
[ "$(grep -c "yalu-topic=$raw,yalu-partition=[0-9],yalu-offset=[0-9]*,yalu-stage=classify|" "$tmp/dlq.txt")" -eq 2 ] ||
	fail "dlq headers: $(cat "$tmp/dlq.txt")"
timeout 120 kcat -b "$B" -C -t "$dlq" -e -q -f '%k\t%s\n' | grep -a '^bad-utf8' | cmp -s - <(grep -a '^bad-utf8' "$tmp/raw1.txt") ||
	fail "bad-utf8 bytes changed on the way to the dlq"
grep -q 'dead-lettered: invalid JSON' "$tmp/classify1.log" || fail "dead letter not logged"
grep -q 'report bad-utf8 .*dead-lettered: invalid UTF-8' "$tmp/classify1.log" || fail "dead letter not logged with id"
yl_pass "dead letters: original key and bytes, yalu-* headers, logged"

# The same counts in the metrics, and a healthy /health.
if command -v curl >/dev/null; then
	curl -sf "http://127.0.0.1:$mport/metrics" > "$tmp/metrics.txt" || fail "GET /metrics"
	for want in "yalu_classify_consumed_total $((n_good + 2))" \
		"yalu_classify_tagged_total $n_good" \
		'yalu_classify_dead_letters_total{reason="invalid_json"} 1' \
		'yalu_classify_dead_letters_total{reason="invalid_utf8"} 1' \
		"yalu_classify_inflight 0" "yalu_classify_seconds_count $((n_good + 2))"; do
		grep -qxF "$want" "$tmp/metrics.txt" || fail "metrics lack '$want': $(grep yalu_classify "$tmp/metrics.txt" | head -20)"
	done
	[ "$(curl -sf "http://127.0.0.1:$mport/health")" = ok ] || fail "GET /health is not ok"
	yl_pass "metrics: consumed, tagged, dead letters by reason; /health ok"
fi

# The live feed: every tagged report, and only high ones for the high watch.
for ((i = 0; i < 20; i++)); do
	[ "$(wc -l < "$tmp/watch.jsonl")" -ge "$n_good" ] && break
	sleep 0.5
done
[ "$(wc -l < "$tmp/watch.jsonl")" -eq "$n_good" ] || fail "watch got $(wc -l < "$tmp/watch.jsonl") reports, want $n_good"
[ "$(jq -r .id "$tmp/watch.jsonl" | sort | tr '\n' ' ')" = "$(for ((i = 1; i <= n_good; i++)); do echo "it-$i"; done | sort | tr '\n' ' ')" ] ||
	fail "watch ids differ"
jq -e .tags.sanctions.relevance "$tmp/watch.jsonl" >/dev/null || fail "watch lines are not tagged reports"
n_high=$(jq -r 'select(.tags.sanctions.relevance == "high") | .id' "$tmp/watch.jsonl" | wc -l)
[ "$(wc -l < "$tmp/watch-high.txt")" -eq "$n_high" ] || fail "high watch: $(wc -l < "$tmp/watch-high.txt") lines, want $n_high"
if [ "$n_high" -gt 0 ]; then
	! grep -vq '^high it-[0-9]* ' "$tmp/watch-high.txt" || fail "high watch: $(cat "$tmp/watch-high.txt")"
fi
yl_pass "live feed: $n_good reports to yalu watch, $n_high to --min-relevance high"

# ------------------------------------------------------------- SIGHUP
# A broken taxonomy (a section given twice) is refused; the old one stays.
printf 'commodities:\n  wood:\n    terms: [logs]\n' > "$tmp/tax/zz-broken.yaml"
kill -HUP "$cls_pid"
wait_log "$tmp/classify1.log" "taxonomy: $tmp/tax rejected, keeping ruleset $ruleset1" 20
grep -q "zz-broken.yaml:1:1: section 'commodities' already given" "$tmp/classify1.log" ||
	fail "the problem of the broken taxonomy is not logged"
kill -0 "$cls_pid" || fail "yalu-classify died on a broken taxonomy"
printf 'hup1\t{"id":"hup1","body":"Crab was exported to China."}\n' > "$tmp/raw2.txt"
produce "$tmp/raw2.txt"
wait_count "$tagged" $((n_good + 1)) 30
[ "$(tagged_of hup1 | jq -r .ruleset)" = "$ruleset1" ] || fail "after a refused reload the ruleset changed"
yl_pass "SIGHUP with a broken taxonomy: refused, logged, $ruleset1 kept"

# A valid change: later reports carry the new ruleset id.
rm "$tmp/tax/zz-broken.yaml"
sed -i 's/^version:.*/version: "itest.2"/' "$tmp/tax/ruleset.yaml"
kill -HUP "$cls_pid"
yl_wait_log 20 "$tmp/classify1.log" "taxonomy: ruleset itest\.2\+[0-9a-f]+ loaded" ||
	fail "the valid taxonomy was not loaded"
printf 'hup2\t{"id":"hup2","body":"Crab was exported to China."}\n' > "$tmp/raw3.txt"
produce "$tmp/raw3.txt"
wait_count "$tagged" $((n_good + 2)) 30
ruleset2=$(tagged_of hup2 | jq -r .ruleset)
[[ "$ruleset2" == itest.2+* ]] || fail "after a reload the ruleset is $ruleset2"
yl_pass "SIGHUP with a valid taxonomy: later reports carry $ruleset2"

# ------------------------------------------------------------- SIGTERM
rc=0
yl_stop "$cls_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "SIGTERM: exit $rc, want 0"
grep -q 'stopped: 34 consumed, 32 tagged, 2 dead-lettered' "$tmp/classify1.log" || fail "final counts: $(tail -3 "$tmp/classify1.log")"
if [ -n "${nl_pid:-}" ]; then
	yl_stop "$nl_pid" 5 || true
	seq=$(grep -oE '^(READY|RELOADING|STOPPING)=1' "$tmp/notify.txt" | tr '\n' ' ')
	[ "$seq" = "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1 " ] ||
		fail "sd_notify sequence: $seq"
	grep -q '^STATUS=ruleset .* consumed, .* tagged' "$tmp/notify.txt" || fail "no STATUS= summary"
	yl_pass "sd_notify: READY, RELOADING/READY around each SIGHUP, STOPPING, STATUS"
fi

# Committed offsets equal the end offsets: Kafka's own tool, when at hand.
kafka_lib=$(ls -d "${YALU_CACHE:-$HOME/.cache/yalu}"/kafka-*/lib 2>/dev/null | tail -1 || true)
if command -v java >/dev/null && [ -n "$kafka_lib" ]; then
	java -Xmx256m -cp "$kafka_lib/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
		--bootstrap-server "$B" --describe --group "$group" > "$tmp/group.txt" 2>/dev/null ||
		fail "kafka-consumer-groups: $(cat "$tmp/group.txt")"
	[ "$(awk -v t="$raw" '$2 == t' "$tmp/group.txt" | wc -l)" -eq 3 ] || fail "group offsets: $(cat "$tmp/group.txt")"
	awk -v t="$raw" '$2 == t && ($4 != $5 || $6 != 0) { bad = 1 } END { exit bad }' "$tmp/group.txt" ||
		fail "committed offsets are not the end offsets: $(cat "$tmp/group.txt")"
	yl_pass "kafka-consumer-groups: committed offsets are the end offsets, lag 0"
fi
# And as a user sees it: a restart of the same group tags nothing again.
yl_start "$tmp/classify2.log" "$classifyd" -d -f "$tmp/classify.yaml"
cls_pid=$YL_PID
wait_log "$tmp/classify2.log" "assigned partitions" 30
sleep 3
rc=0
yl_stop "$cls_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "second run: exit $rc"
grep -q 'stopped: 0 consumed' "$tmp/classify2.log" || fail "second run consumed again: $(tail -3 "$tmp/classify2.log")"
[ "$(count "$tagged")" -eq $((n_good + 2)) ] || fail "tagged grew on restart"
yl_pass "SIGTERM: exit 0, everything committed, a restart tags nothing again"

# The watch ends cleanly on SIGTERM.
rc=0
yl_stop "$watch_pid" 10 || rc=$?
[ "$rc" -eq 0 ] || fail "watch: exit $rc on SIGTERM"
yl_stop "$watch_high_pid" 10 || true
yl_pass "yalu-classify: backlog tagged, dead letters, live feed, reloads, drain, offsets"
