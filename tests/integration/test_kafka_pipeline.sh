#!/usr/bin/env bash
# The whole pipeline against the real broker: 2,000 reports submitted
# through ZeroMQ by four concurrent producers end up archived exactly once,
# with the tags that `yalu classify` gives offline for the same bodies.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
yl_tmpdir
u=$(yl_unique)
n=2000

"$YALU_BIN/yalu-gen-corpus" 5 4242 > "$YL_TMP/gen.jsonl" 2>/dev/null
head -n "$n" "$YL_TMP/gen.jsonl" > "$YL_TMP/all.jsonl"
yl_expect_eq "$n" "$(wc -l < "$YL_TMP/all.jsonl")" "generated $n reports"
split -n l/4 -d "$YL_TMP/all.jsonl" "$YL_TMP/part."
for f in "$YL_TMP"/part.*; do mv "$f" "$f.jsonl"; done

ing=tcp://127.0.0.1:$(yl_free_port)
feed=tcp://127.0.0.1:$(yl_free_port)
{ yl_kafka_yaml "$u"; echo "listen: \"$ing\""; } > "$YL_TMP/ingest.yaml"
{ yl_kafka_yaml "$u"; echo "group: yalu-classify-$u"; echo "publish: \"$feed\"";
  echo "taxonomy: \"$YALU_SRC/configs/taxonomy\""; } > "$YL_TMP/classify.yaml"
{ yl_kafka_yaml "$u"; echo "group: yalu-store-$u"; echo "db: \"$YL_TMP/archive.db\""; } > "$YL_TMP/store.yaml"

yl_start "$YL_TMP/ingest.log" "$YALU_BIN/yalu-ingest" -d -f "$YL_TMP/ingest.yaml"; ingest=$YL_PID
yl_start "$YL_TMP/classify.log" "$YALU_BIN/yalu-classify" -d -f "$YL_TMP/classify.yaml"; classify=$YL_PID
yl_start "$YL_TMP/store.log" "$YALU_BIN/yalu-store" -d -f "$YL_TMP/store.yaml"; store=$YL_PID

# Four producers at once, each with four reports in flight.
pids=()
for f in "$YL_TMP"/part.*.jsonl; do
	"$YALU_BIN/yalu" submit --endpoint "$ing" --parallel 4 --timeout 60 "$f" > "$f.out" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || yl_fail "a producer saw a refusal: $(grep -h err "$YL_TMP"/*.out | head -3)"; done
yl_expect_eq "$n" "$(cat "$YL_TMP"/*.out | grep -c ': ok ')" "every report acknowledged"

count() { "$YALU_BIN/yalu" query --db "$YL_TMP/archive.db" --count 2>/dev/null || echo 0; }
have() { [ "$(count)" -ge "$1" ]; }
yl_wait_for 240 have "$n" || yl_fail "only $(count) of $n archived"
sleep 2	# anything duplicated would arrive now
yl_expect_eq "$n" "$(count)" "all $n archived, none twice"
yl_expect_eq "$n" "$(sqlite3 "$YL_TMP/archive.db" 'SELECT count(DISTINCT id) FROM reports')" "$n distinct ids"
yl_expect_eq "" "$(sqlite3 "$YL_TMP/archive.db" "SELECT id FROM reports WHERE id NOT LIKE 'bench-%' LIMIT 1")" "ids are the producers' ids"

# Tags in the archive = tags of `yalu classify` on the archived bodies.
"$YALU_BIN/yalu" query --db "$YL_TMP/archive.db" --format jsonl > "$YL_TMP/archived.jsonl"
jq -c '{id, body}' "$YL_TMP/archived.jsonl" > "$YL_TMP/bodies.jsonl"
"$YALU_BIN/yalu" classify --taxonomy "$YALU_SRC/configs/taxonomy" "$YL_TMP/bodies.jsonl" |
	jq -c '[.id, .tags]' | sort > "$YL_TMP/offline.txt"
jq -c '[.id, .tags]' "$YL_TMP/archived.jsonl" | sort > "$YL_TMP/online.txt"
yl_expect_eq "$n" "$(wc -l < "$YL_TMP/offline.txt")" "offline classification of every body"
if ! cmp -s "$YL_TMP/offline.txt" "$YL_TMP/online.txt"; then
	diff "$YL_TMP/offline.txt" "$YL_TMP/online.txt" | head -4 >&2
	yl_fail "archived tags differ from yalu classify"
fi
yl_pass "archived tags equal yalu classify's for all $n"

for p in "$store" "$classify" "$ingest"; do
	yl_stop "$p" 60 || yl_fail "a daemon did not exit 0 on SIGTERM"
done
yl_pass "SIGTERM: every daemon exits 0"
echo PASS
