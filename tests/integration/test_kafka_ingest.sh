#!/usr/bin/env bash
# test_kafka_ingest.sh - yalu-ingest and `yalu submit` against the real
# broker: good reports are acknowledged and land in reports.raw keyed by id,
# every kind of bad one is refused with its reason and never reaches Kafka,
# the spool moves files only once they are delivered, SIGHUP reloads the
# limits, and SIGTERM under load answers every client and loses nothing
# that was acknowledged.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR

yl_tmpdir
T=$YL_TMP
SUFFIX=ingest-$(yl_unique)
RAW=reports.raw.$SUFFIX
PORT=$(yl_free_port)
EP=tcp://127.0.0.1:$PORT
CONF=$T/yalu-ingest.yaml
LOG=$T/ingest.log
INGEST=$YALU_BIN/yalu-ingest
YALU=$YALU_BIN/yalu

# write_config MAX_REPORT_BYTES [EXTRA-LINE]
write_config() {
    {
        echo "listen: $EP"
        echo "spool: $T/spool"
        echo "max_report_bytes: $1"
        echo "drain_timeout: 20"
        echo "${2:-}"
        yl_kafka_yaml "$SUFFIX"
    } >"$CONF"
}

submit() { "$YALU" submit --endpoint "$EP" --timeout 30 "$@"; }

# expect_line FILE LINE: FILE has exactly this line.
expect_line() {
    grep -qFx -- "$2" "$1" || { cat "$1" >&2; yl_fail "no line '$2'"; }
    yl_pass "$2"
}

# ---------------------------------------------------------------- config
write_config 4096
expect=$("$INGEST" -n -f "$CONF")
yl_expect_eq "configuration OK" "$expect" "-n accepts the generated config"

printf 'listen: nowhere\nmax_report_bytes: 0\ncolour: red\n' >"$T/bad.yaml"
rc=0
"$INGEST" -n -f "$T/bad.yaml" 2>"$T/bad.err" || rc=$?
yl_expect_eq 78 "$rc" "-n exits 78 on a bad config"
yl_expect_eq 3 "$(grep -c "^$T/bad.yaml:[0-9]*:[0-9]*: " "$T/bad.err")" \
    "-n lists every problem with file:line:col"

# ---------------------------------------------------------------- start
yl_start "$LOG" "$INGEST" -d -f "$CONF"
INGEST_PID=$YL_PID
yl_wait_log 90 "$LOG" "listening on $EP" || { cat "$LOG" >&2; yl_fail "yalu-ingest did not start"; }
yl_pass "yalu-ingest started (pid $INGEST_PID)"

# ---------------------------------------------------------------- reports
IN=$T/in
mkdir -p "$IN"
cat >"$IN/dateline.txt" <<'EOF'
By Kim Ji-eun

SEOUL, Nov. 3, 2026 — Traders in Sinuiju said salted pollack was loaded onto
trucks bound for Dandong, a rare export since the ban.

Read in Korean

Please direct any comments or questions about this report to feedback@example.org.
Subscribe to our newsletter for weekly market reports.
EOF
# The same report re-wrapped: the same content id.
cat >"$IN/rewrapped.txt" <<'EOF'
By Kim Ji-eun

SEOUL, Nov. 3, 2026 — Traders in Sinuiju said salted pollack was
loaded onto trucks bound for Dandong,
a rare export since the ban.
EOF
printf '{"title": "Fuel prices", "body": "Diesel prices in Hyesan fell by a fifth."}' >"$IN/plain.json"
printf '{"id": "fixed-id-%s", "body": "Coal barges left Nampo at night."}' "$SUFFIX" >"$IN/with-id.json"
{
    echo '{"body": "Line one: steel imported from Russia by rail."}'
    echo '{"body": "Line two: squid exported through Rason.", "colour": "red"}'
    echo
    echo '{"source": "Daily NK", "body": "Line four: textiles sent to China."}'
} >"$IN/batch.jsonl"
# The bad ones, one of each kind.
printf '{"body": "x", "colour": "red"}' >"$IN/unknown.json"
printf '{"title": "no body"}' >"$IN/nobody.json"
printf 'this is not json' >"$IN/notjson.json"
printf '["body"]' >"$IN/array.json"
printf '{"body": "x", "title": 5}' >"$IN/badtype.json"
printf '{"body": "a", "body": "b"}' >"$IN/dup.json"
: >"$IN/empty.txt"
printf '{"body": "  \\n\\t "}' >"$IN/blank.json"
printf 'Hyesan \xff market' >"$IN/badutf8.txt"
printf '{"body": "abcdefg\xff"}' >"$IN/badutf8.json"
{ printf '{"body": "'; head -c 5000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$IN/big.json"
BIG=$(wc -c <"$IN/big.json")
printf 'Read in Korean\nSubscribe to our newsletter\n' >"$IN/onlyfooter.txt"
printf '{"title": "meta with body", "body": "x"}' >"$IN/meta-body.json"
printf '{"title": "t"}' >"$IN/meta.json"
printf 'ab\0cd' >"$IN/nul.bin"
printf 'just text' >"$IN/part.bin"
printf 'whatever' >"$IN/report.doc"

OUT=$T/out.txt
rc=0
( cd "$IN" && submit --parallel 3 dateline.txt plain.json with-id.json batch.jsonl \
    unknown.json nobody.json notjson.json array.json badtype.json dup.json \
    empty.txt blank.json badutf8.txt badutf8.json big.json onlyfooter.txt \
    report.doc ) >"$OUT" || rc=$?
yl_expect_eq 1 "$rc" "yalu submit exits 1 when a report was refused"
expect_line "$OUT" "batch.jsonl:2: err unknown field 'colour'"
expect_line "$OUT" "unknown.json: err unknown field 'colour'"
expect_line "$OUT" "nobody.json: err body: missing"
expect_line "$OUT" "array.json: err not a JSON object"
expect_line "$OUT" "badtype.json: err title: not a string"
expect_line "$OUT" "empty.txt: err body: empty"
expect_line "$OUT" "blank.json: err body: empty"
expect_line "$OUT" "badutf8.txt: err invalid UTF-8 at byte 7"
expect_line "$OUT" "badutf8.json: err invalid UTF-8 at byte 17"
expect_line "$OUT" "big.json: err report is $BIG bytes, over max_report_bytes 4096"
expect_line "$OUT" "onlyfooter.txt: err body: empty once boilerplate is removed"
expect_line "$OUT" "report.doc: err unknown file type (expected .txt, .json or .jsonl)"
grep -qE '^notjson\.json: err invalid JSON at line 1 col [0-9]+: ' "$OUT" ||
    yl_fail "notjson.json not refused as invalid JSON"
grep -qE '^dup\.json: err invalid JSON at .*duplicate' "$OUT" ||
    yl_fail "dup.json not refused for its duplicate key"
yl_pass "invalid JSON and duplicate keys refused"
for f in dateline.txt plain.json with-id.json batch.jsonl:1 batch.jsonl:4; do
    grep -qE "^$f: ok [^ ]+\$" "$OUT" || { cat "$OUT" >&2; yl_fail "$f not accepted"; }
done
expect_line "$OUT" "with-id.json: ok fixed-id-$SUFFIX"
yl_pass "good reports acknowledged"
yl_expect_eq 19 "$(wc -l <"$OUT")" "one answer per report"

# Frames that yalu submit never sends by itself.
RAWOUT=$T/raw.txt
: >"$RAWOUT"
( cd "$IN"
  submit --raw part.bin part.bin part.bin || true
  submit --raw || true
  submit --raw $(for i in $(seq 20); do echo part.bin; done) || true
  submit --raw meta-body.json part.bin || true
  submit --raw meta.json nul.bin || true
  submit --raw meta.json badutf8.txt || true
) >>"$RAWOUT"
expect_line "$RAWOUT" "raw: err expected 1 or 2 frames, got 3"
expect_line "$RAWOUT" "raw: err expected 1 or 2 frames, got 0"
expect_line "$RAWOUT" "raw: err expected 1 or 2 frames, got 20"
expect_line "$RAWOUT" "raw: err meta: must not carry body (the second frame is the body)"
expect_line "$RAWOUT" "raw: err body: NUL byte at byte 2"
expect_line "$RAWOUT" "raw: err invalid UTF-8 at byte 7"
kill -0 "$INGEST_PID" || yl_fail "yalu-ingest died on bad input"
yl_pass "yalu-ingest keeps running whatever it gets"

# Re-wrapped resubmission: same id.
submit "$IN/rewrapped.txt" >"$T/again.txt"
ID1=$(sed -n 's/^dateline\.txt: ok //p' "$OUT")
ID2=$(sed -n 's/^.*rewrapped\.txt: ok //p' "$T/again.txt")
yl_expect_eq "$ID1" "$ID2" "a re-wrapped report gets the same content id"

# ---------------------------------------------------------------- Kafka
ok_ids() { cat "$@" | sed -n 's/^.*: ok //p' | sort; }
yl_topic_dump "$RAW" >"$T/topic.txt"
yl_expect_eq "$(ok_ids "$OUT" "$T/again.txt")" "$(cut -f1 "$T/topic.txt" | sort)" \
    "exactly the acknowledged reports are in $RAW"
bad=$(while IFS=$'\t' read -r key value; do
    jq -e --arg k "$key" '.id == $k and (.received_at | type) == "string"' \
        >/dev/null <<<"$value" || echo "$key"
done <"$T/topic.txt")
yl_expect_eq "" "$bad" "every message is keyed by its id and has received_at"
rec=$(grep -m1 "^$ID1	" "$T/topic.txt" | cut -f2-)
yl_expect_eq "Kim Ji-eun" "$(jq -r .source <<<"$rec")" "byline extracted into source"
yl_expect_eq "2026-11-03" "$(jq -r .published_at <<<"$rec")" "dateline extracted into published_at"
yl_expect_eq "dateline.txt" "$(jq -r .title <<<"$rec")" "title is the file name"
body=$(jq -r .body <<<"$rec")
[[ "$body" == "By Kim Ji-eun"$'\n\n'"SEOUL, Nov. 3, 2026 — Traders"* ]] || yl_fail "body start changed: $body"
[[ "$body" != *"Read in Korean"* && "$body" != *"Subscribe"* && "$body" != *"Please direct"* ]] ||
    yl_fail "boilerplate left in the body: $body"
[[ "$body" == *"a rare export since the ban." ]] || yl_fail "body end changed: $body"
yl_pass "boilerplate removed, the rest of the body intact"

# ---------------------------------------------------------------- spool
SP=$T/spool
printf 'Spooled: fertilizer smuggled in from Dandong.\n' >"$SP/incoming/.good.txt"
mv "$SP/incoming/.good.txt" "$SP/incoming/good.txt"
printf '{"body": "x", "colour": 1}' >"$SP/incoming/bad.json"
printf 'x' >"$SP/incoming/notes.doc"
printf 'being written' >"$SP/incoming/.partial.txt"
yl_wait_for 20 test -e "$SP/done/good.txt" || yl_fail "spool: good.txt never reached done/"
yl_wait_for 20 test -e "$SP/rejected/notes.doc.reason" || yl_fail "spool: notes.doc not rejected"
yl_expect_eq "unknown field 'colour'" "$(cat "$SP/rejected/bad.json.reason")" "spool: bad file rejected with its reason"
test -e "$SP/rejected/bad.json" || yl_fail "spool: bad.json not in rejected/"
test -e "$SP/incoming/.partial.txt" || yl_fail "spool: dot-file touched"
test ! -e "$SP/incoming/good.txt" || yl_fail "spool: good.txt still in incoming/"
yl_pass "spool: dot-files left alone, good file done"
yl_topic_dump "$RAW" >"$T/topic2.txt"
yl_expect_eq 1 "$(cut -f2- "$T/topic2.txt" | jq -c 'select(.meta.spool_file == "good.txt")' | wc -l)" \
    "spool: the file's report is in $RAW once"

# ---------------------------------------------------------------- SIGHUP
write_config 8192
kill -HUP "$INGEST_PID"
yl_wait_log 10 "$LOG" "reloaded: .*max_report_bytes 8192" || yl_fail "no reload logged"
submit "$IN/big.json" >"$T/big.txt" || { cat "$T/big.txt" >&2; yl_fail "big.json refused after the limit was raised"; }
yl_pass "SIGHUP raised max_report_bytes"
write_config 8192 "colour: red"
kill -HUP "$INGEST_PID"
yl_wait_log 10 "$LOG" "reload failed, keeping the running configuration" || yl_fail "bad reload not logged"
submit "$IN/plain.json" >/dev/null || yl_fail "not serving after a failed reload"
yl_pass "a bad config on SIGHUP is refused and the old one kept"
write_config 8192

# ---------------------------------------------------------------- timeout
rc=0
"$YALU" submit --endpoint "tcp://127.0.0.1:$(yl_free_port)" --timeout 1 "$IN/plain.json" >"$T/to.txt" || rc=$?
yl_expect_eq 1 "$rc" "submit exits 1 on a timeout"
grep -qF "plain.json: err timed out after 1 s" "$T/to.txt" || yl_fail "no timeout line: $(cat "$T/to.txt")"

# ---------------------------------------------------------------- SIGTERM
N=1500
for ((i = 1; i <= N; i++)); do
    printf '{"body": "Load report %d of %s: coal barges at Nampo."}\n' "$i" "$SUFFIX"
done >"$IN/load.jsonl"
"$YALU" submit --endpoint "$EP" --parallel 8 --timeout 10 "$IN/load.jsonl" >"$T/load.txt" &
SUBMIT_PID=$!
yl_on_exit "kill -KILL $SUBMIT_PID"
sleep 0.5
rc=0
yl_stop "$INGEST_PID" 60 || rc=$?
yl_expect_eq 0 "$rc" "yalu-ingest exits 0 on SIGTERM"
wait "$SUBMIT_PID" || true
yl_expect_eq "$N" "$(wc -l <"$T/load.txt")" "every report under load got one answer"
grep -vE ': (ok [^ ]+|err shutting down|err timed out after 10 s .*|err not sent: .*)$' "$T/load.txt" &&
    yl_fail "unexpected answers during the drain"
yl_topic_dump "$RAW" | cut -f1 | sort -u >"$T/keys.txt"
lost=$(ok_ids "$T/load.txt" | comm -23 - "$T/keys.txt" | wc -l)
yl_expect_eq 0 "$lost" "every report acknowledged during the drain is in Kafka ($(grep -c ': ok ' "$T/load.txt") of $N acknowledged)"
grep -q "draining:" "$LOG" && grep -q "stopped" "$LOG" || yl_fail "no drain in the log"
if grep -E "AddressSanitizer|runtime error" "$LOG" >&2; then yl_fail "sanitizer errors"; fi
yl_pass "done"
