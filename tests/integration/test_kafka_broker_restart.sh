#!/usr/bin/env bash
# A broker stopped for 10 s in the middle of a run and restarted loses
# nothing that was acknowledged: every report yalu-ingest answered "ok"
# is archived, once. Uses a broker of its own (the shared one stays up).
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC
yl_tmpdir
kl=$YALU_SRC/scripts/kafka-local
kdir=$YL_TMP/kafka
bs=$("$kl" start --dir "$kdir")
yl_on_exit "'$kl' stop --dir '$kdir'"
n=400

"$YALU_BIN/yalu-gen-corpus" 1 77 > "$YL_TMP/gen.jsonl" 2>/dev/null
head -n "$n" "$YL_TMP/gen.jsonl" > "$YL_TMP/all.jsonl"
ing=tcp://127.0.0.1:$(yl_free_port)
cat > "$YL_TMP/kafka.yaml" <<Y
kafka:
  bootstrap.servers: "$bs"
topics:
  raw: { name: reports.raw, partitions: 2 }
  tagged: { name: reports.tagged, partitions: 2 }
  dlq: { name: reports.dlq, partitions: 1 }
Y
{ cat "$YL_TMP/kafka.yaml"; echo "listen: \"$ing\""; } > "$YL_TMP/ingest.yaml"
{ cat "$YL_TMP/kafka.yaml"; echo "publish: \"\""; } > "$YL_TMP/classify.yaml"
{ cat "$YL_TMP/kafka.yaml"; echo "db: \"$YL_TMP/archive.db\""; } > "$YL_TMP/store.yaml"
yl_start "$YL_TMP/ingest.log" "$YALU_BIN/yalu-ingest" -d -f "$YL_TMP/ingest.yaml"; ingest=$YL_PID
yl_start "$YL_TMP/classify.log" "$YALU_BIN/yalu-classify" -d -f "$YL_TMP/classify.yaml"; classify=$YL_PID
yl_start "$YL_TMP/store.log" "$YALU_BIN/yalu-store" -d -f "$YL_TMP/store.yaml"; store=$YL_PID

# Submit slowly enough that the outage falls in the middle.
"$YALU_BIN/yalu" submit --endpoint "$ing" --parallel 2 --timeout 90 "$YL_TMP/all.jsonl" \
	> "$YL_TMP/submit.out" 2>&1 &
submit=$!
acks() { [ "$(grep -c ': ok ' "$YL_TMP/submit.out")" -ge "$1" ]; }
yl_wait_for 60 acks 50 || yl_fail "no progress before the outage"
"$kl" stop --keep --dir "$kdir" >/dev/null
yl_pass "broker stopped after $(grep -c ': ok ' "$YL_TMP/submit.out") acknowledgements"
sleep 10
"$kl" start --dir "$kdir" >/dev/null
yl_pass "broker restarted"
wait "$submit" || true
acked=$(grep ': ok ' "$YL_TMP/submit.out" | awk '{print $3}' | sort -u)
nacked=$(printf '%s\n' "$acked" | grep -c .)
[ "$nacked" -gt 50 ] || yl_fail "only $nacked acknowledged"

count() { "$YALU_BIN/yalu" query --db "$YL_TMP/archive.db" --count 2>/dev/null || echo 0; }
have() { [ "$(count)" -ge "$1" ]; }
yl_wait_for 180 have "$nacked" || yl_fail "only $(count) of $nacked acknowledged reports archived"
sqlite3 "$YL_TMP/archive.db" 'SELECT id FROM reports' | sort -u > "$YL_TMP/archived.txt"
missing=$(comm -23 <(printf '%s\n' "$acked") "$YL_TMP/archived.txt" | wc -l)
yl_expect_eq 0 "$missing" "every acknowledged report ($nacked) archived after the outage"
yl_expect_eq "$(wc -l < "$YL_TMP/archived.txt")" "$(sqlite3 "$YL_TMP/archive.db" 'SELECT count(*) FROM reports')" "none twice"
for p in "$store" "$classify" "$ingest"; do
	yl_stop "$p" 60 || yl_fail "a daemon did not exit 0 on SIGTERM"
done
echo PASS
