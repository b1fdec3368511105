#!/usr/bin/env bash
# A rule change applied to a full archive, the way an operator does it,
# against the real broker and the three daemons:
#
#   10,000 reports archived; a new taxonomy (higher version, the squid
#   terms removed); `yalu replay --dry-run --db` says what would change;
#   the live classifier reloads the new taxonomy (SIGHUP); `yalu status`
#   counts the reports tagged by the older ruleset; `yalu replay` re-tags
#   the backlog while new reports keep arriving.
#
# Then: every report in the archive carries the new ruleset, none is lost or
# archived twice, and the gains and losses per facet and ID between the
# archive before and after are exactly the dry run's. `yalu status` reports
# the daemons, the rulesets, and exits 1 once a daemon is down.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
command -v jq >/dev/null || yl_fail "jq is needed (apt-get install jq)"
command -v sqlite3 >/dev/null || yl_fail "sqlite3 is needed (apt-get install sqlite3)"

yalu=$YALU_BIN/yalu
yl_tmpdir
u=$(yl_unique)
n=10000
conf=$YL_TMP/conf
db=$YL_TMP/archive.db
mkdir -p "$conf"

# -------------------------------------------------------------- set-up
ing=tcp://127.0.0.1:$(yl_free_port)
mport=$(yl_free_port)
cp -r "$YALU_SRC/configs/taxonomy" "$YL_TMP/tax"
{ yl_kafka_yaml "$u"; echo "listen: \"$ing\""; } >"$conf/yalu-ingest.yaml"
{ yl_kafka_yaml "$u"; echo "group: yalu-classify-$u"; echo 'publish: ""'
  echo "taxonomy: \"$YL_TMP/tax\""; echo "metrics: { port: $mport }"; } >"$conf/yalu-classify.yaml"
{ yl_kafka_yaml "$u"; echo "group: yalu-store-$u"; echo "db: \"$db\""; } >"$conf/yalu-store.yaml"

yl_start "$YL_TMP/ingest.log" "$YALU_BIN/yalu-ingest" -d -f "$conf/yalu-ingest.yaml"; ingest=$YL_PID
yl_start "$YL_TMP/classify.log" "$YALU_BIN/yalu-classify" -d -f "$conf/yalu-classify.yaml"; classify=$YL_PID
yl_start "$YL_TMP/store.log" "$YALU_BIN/yalu-store" -d -f "$conf/yalu-store.yaml"; store=$YL_PID
yl_wait_log 60 "$YL_TMP/ingest.log" 'listening on' || yl_fail "yalu-ingest: $(cat "$YL_TMP/ingest.log")"
yl_wait_log 60 "$YL_TMP/classify.log" 'classify: consuming' || yl_fail "yalu-classify: $(cat "$YL_TMP/classify.log")"
yl_wait_log 60 "$YL_TMP/store.log" 'ready: archiving' || yl_fail "yalu-store: $(cat "$YL_TMP/store.log")"

sql() { sqlite3 -readonly "$db" "$1"; }
count() { "$yalu" query --db "$db" --count 2>/dev/null || echo 0; }
status() { "$yalu" status --config-dir "$conf" --format json; }

# About 2 KB each, in the development set's tag density.
"$YALU_BIN/yalu-gen-corpus" 20 8080 >"$YL_TMP/gen.jsonl" 2>/dev/null
head -n "$n" "$YL_TMP/gen.jsonl" >"$YL_TMP/reports.jsonl"
yl_expect_eq "$n" "$(wc -l <"$YL_TMP/reports.jsonl")" "generated $n reports"
grep -q squid "$YL_TMP/reports.jsonl" || yl_fail "no squid in the corpus: the rule change would change nothing"

t0=$SECONDS
"$yalu" submit --endpoint "$ing" --parallel 16 --timeout 120 "$YL_TMP/reports.jsonl" >"$YL_TMP/submit.out" 2>&1 ||
	yl_fail "submit: $(grep -v ': ok ' "$YL_TMP/submit.out" | head -3)"
archived_all() { [ "$(count)" -eq "$n" ]; }
yl_wait_for 300 archived_all || yl_fail "only $(count) of $n archived"
yl_pass "$n reports submitted and archived in $((SECONDS - t0)) s"
sed -n 's/.*: ok //p' "$YL_TMP/submit.out" | sort -u >"$YL_TMP/ids.txt"
yl_expect_eq "$n" "$(wc -l <"$YL_TMP/ids.txt")" "$n distinct ids acknowledged"
old=$(sql "SELECT DISTINCT ruleset FROM reports")
[[ "$old" == *+* && "$old" != *$'\n'* ]] || yl_fail "archive rulesets: $old"

# ----------------------------------------------------- status, all up
status >"$YL_TMP/status1.json" || yl_fail "yalu status exits non-zero with every daemon up: $(cat "$YL_TMP/status1.json")"
jq -e --arg old "$old" --argjson n "$n" '.ok and .kafka
	and ([.daemons[] | select(.up)] | length) == 3
	and (.daemons[] | select(.name == "yalu-classify") | .members == 1 and .health.code == 200)
	and (.daemons[] | select(.name == "yalu-store") | .members == 1)
	and .archive.reports == $n and .archive.current == $old and .archive.older == 0
	and .archive.rulesets == [{ruleset: $old, reports: $n, current: true, older: false, newer: false}]
	and (.topics[0].messages == $n) and .dlq == 0' "$YL_TMP/status1.json" >/dev/null ||
	yl_fail "status with every daemon up: $(cat "$YL_TMP/status1.json")"
yl_pass "yalu status: 3 daemons up, $n reports all by the current ruleset $old"

# ------------------------------------------------------ the new rules
cp -r "$YL_TMP/tax" "$YL_TMP/tax2"
sed -i 's/^version:.*/version: "2099.1.0"/' "$YL_TMP/tax2/ruleset.yaml"
sed -i -E '/^ +- (dried |frozen )?squids?$/d' "$YL_TMP/tax2/commodities.yaml"
! grep -qE '^ +- squid$' "$YL_TMP/tax2/commodities.yaml" || yl_fail "squid is still a term"

# A broken taxonomy is refused before anything happens, with its position.
cp -r "$YL_TMP/tax2" "$YL_TMP/broken"
printf 'commodities:\n  wood:\n    terms: [logs]\n' >"$YL_TMP/broken/zz-broken.yaml"
rc=0
"$yalu" replay -f "$conf/yalu-classify.yaml" --ruleset "$YL_TMP/broken" --dry-run >/dev/null 2>"$YL_TMP/broken.err" || rc=$?
yl_expect_eq 78 "$rc" "replay with a broken taxonomy exits 78"
grep -q "zz-broken.yaml:1:1: section 'commodities' already given" "$YL_TMP/broken.err" ||
	yl_fail "the problem is not shown: $(cat "$YL_TMP/broken.err")"

# ------------------------------------------------------------- dry run
"$yalu" replay -f "$conf/yalu-classify.yaml" --ruleset "$YL_TMP/tax2" --dry-run --db "$db" --format json \
	>"$YL_TMP/dry.json" 2>"$YL_TMP/dry.err" || yl_fail "dry run: $(cat "$YL_TMP/dry.err")"
new=$(jq -r .ruleset "$YL_TMP/dry.json")
[[ "$new" == 2099.1.0+* ]] || yl_fail "dry run ruleset: $new"
jq -e --argjson n "$n" '.messages == $n and .reports == $n and .compared == $n
	and .not_archived == 0 and .kept_newer == 0 and .undecodable == 0 and .changed > 0
	and (.changes | any(.facet == "commodities" and (.id | startswith("seafood/")) and .lose > 0))
	and (.changes | all(.gain + .lose > 0 and (.gain_examples | length) == ([.gain, 5] | min)
		and (.lose_examples | length) == ([.lose, 5] | min)))' "$YL_TMP/dry.json" >/dev/null ||
	yl_fail "dry run: $(head -c 2000 "$YL_TMP/dry.json")"
# The text form says the same for people.
"$yalu" replay -f "$conf/yalu-classify.yaml" --ruleset "$YL_TMP/tax2" --dry-run --db "$db" \
	>"$YL_TMP/dry.txt" 2>/dev/null || yl_fail "dry run (text) failed"
grep -q "$n reports compared, $(jq -r .changed "$YL_TMP/dry.json") would change" "$YL_TMP/dry.txt" ||
	yl_fail "text dry run (JSON: $(jq -c "[.compared, .changed]" "$YL_TMP/dry.json")): $(head -8 "$YL_TMP/dry.txt")"
# (a facet's name stands on its first row only; seafood need not be first)
awk '$1 == "commodities" { c = 1 } c && $1 ~ /^(provisions|relevance)$/ { c = 0 }
	c && / seafood\// { found = 1 } END { exit !found }' "$YL_TMP/dry.txt" ||
	yl_fail "text dry run: no seafood change under commodities: $(cat "$YL_TMP/dry.txt")"
[ "$(sql "SELECT DISTINCT ruleset FROM reports")" = "$old" ] || yl_fail "the dry run changed the archive"
yl_pass "dry run: $(jq -r .changed "$YL_TMP/dry.json") of $n reports would change, archive untouched"
"$yalu" query --db "$db" --format jsonl >"$YL_TMP/before.jsonl"

# ------------------------------------------- the live classifier reloads
cp "$YL_TMP/tax2"/*.yaml "$YL_TMP/tax/"
kill -HUP "$classify"
yl_wait_log 30 "$YL_TMP/classify.log" "taxonomy: ruleset ${new//+/\\+} loaded" ||
	yl_fail "the new taxonomy was not loaded: $(tail -3 "$YL_TMP/classify.log")"
rc=0
status >"$YL_TMP/status2.json" || rc=$?
yl_expect_eq 0 "$rc" "yalu status after the reload exits 0"
jq -e --arg old "$old" --arg new "$new" --argjson n "$n" '.archive.current == $new
	and .archive.older == $n
	and .archive.rulesets == [{ruleset: $old, reports: $n, current: false, older: true, newer: false}]' \
	"$YL_TMP/status2.json" >/dev/null || yl_fail "status after the reload: $(jq -c .archive "$YL_TMP/status2.json")"
"$yalu" status --config-dir "$conf" >"$YL_TMP/status2.txt" || true
grep -q "$n reports tagged by an older ruleset than the current $new" "$YL_TMP/status2.txt" ||
	yl_fail "status text: $(cat "$YL_TMP/status2.txt")"
yl_pass "after SIGHUP, yalu status: $n reports tagged by an older ruleset than $new"

# ------------------------------------ replay while reports keep arriving
# New reports, one request at a time, until told to stop; each one mentions
# squid, which the new rules no longer know.
live() {
	local i=0
	while [ ! -e "$YL_TMP/stop" ]; do
		i=$((i + 1))
		printf '{"id":"live-%d","body":"Traders in Hyesan said frozen squid and coal were loaded for export to Changbai (live %d)."}\n' "$i" "$i" \
			>"$YL_TMP/live.jsonl"
		"$yalu" submit --endpoint "$ing" --timeout 60 "$YL_TMP/live.jsonl" >>"$YL_TMP/live.out" 2>&1 || true
		sleep 0.05
	done
}
live &
livepid=$!
yl_on_exit "kill $livepid"
have_live() { grep -q ': ok live-5$' "$YL_TMP/live.out" 2>/dev/null; }
yl_wait_for 60 have_live || yl_fail "live reports are not getting through: $(tail -3 "$YL_TMP/live.out")"

t0=$SECONDS
"$yalu" replay -f "$conf/yalu-classify.yaml" --ruleset "$YL_TMP/tax2" --from earliest \
	>"$YL_TMP/replay.out" 2>"$YL_TMP/replay.err" || yl_fail "replay: $(cat "$YL_TMP/replay.out" "$YL_TMP/replay.err")"
grep -qE "^replay: ruleset ${new//+/\\+}: [0-9]+ messages of reports\.raw\.$u, [0-9]+ re-tagged and confirmed" "$YL_TMP/replay.out" ||
	yl_fail "replay summary: $(cat "$YL_TMP/replay.out")"
retagged=$(sed -E 's/.*, ([0-9]+) re-tagged.*/\1/' "$YL_TMP/replay.out")
((retagged >= n)) || yl_fail "replay re-tagged $retagged, fewer than $n"
yl_pass "replay: $retagged reports re-tagged and confirmed in $((SECONDS - t0)) s while new ones arrived"
sleep 1
touch "$YL_TMP/stop"
wait "$livepid" || true
sed -n 's/.*: ok //p' "$YL_TMP/live.out" >>"$YL_TMP/ids.txt"
sort -u -o "$YL_TMP/ids.txt" "$YL_TMP/ids.txt"
total=$(wc -l <"$YL_TMP/ids.txt")
nlive=$((total - n))
((nlive >= 5)) || yl_fail "only $nlive live reports"

settled() {
	[ "$(count)" -eq "$total" ] && [ "$(sql "SELECT count(*) FROM reports WHERE ruleset <> '$new'")" -eq 0 ]
}
yl_wait_for 300 settled || yl_fail "archive: $(count) of $total, rulesets $(sql "SELECT ruleset, count(*) FROM reports GROUP BY 1" | tr '\n' ' ')"
sleep 2	# anything late or duplicated would arrive now
yl_expect_eq "$new|$total" "$(sql "SELECT ruleset, count(*) FROM reports GROUP BY 1")" "every report tagged by $new"
yl_expect_eq "$total" "$(sql "SELECT count(DISTINCT id) FROM reports")" "no report archived twice"
sql "SELECT id FROM reports ORDER BY id" | sort >"$YL_TMP/archived.txt"
cmp -s "$YL_TMP/ids.txt" "$YL_TMP/archived.txt" || yl_fail "archived ids differ from acknowledged ones: $(diff "$YL_TMP/ids.txt" "$YL_TMP/archived.txt" | head -4)"
yl_pass "all $total reports ($n + $nlive live) archived once, none lost"

# ------------------------------------- the dry run said what happened
# Gains and losses per "facet id" between the archive before and after,
# over the reports the dry run saw; the same keys as the dry run's.
"$yalu" query --db "$db" --format jsonl >"$YL_TMP/after.jsonl"
cat >"$YL_TMP/diff.jq" <<'EOF'
def keys_of: [(.commodities[]? | "commodities \(.id)/\(.direction)"),
	(.countries[]? | "countries \(.id)"), (.crossings[]? | "crossings \(.id)"),
	(.modes[]? | "modes \(.id)"), (.methods[]? | "methods \(.id)"),
	(.entities[]? | "entities \(.id)"), (.sanctions.provisions[]? | "provisions \(.id)"),
	"relevance \(.sanctions.relevance)"] | unique;
def by_id: map({key: .id, value: (.tags | keys_of)}) | from_entries;
($b | by_id) as $B | ($a | by_id) as $A
| [$B | keys[] as $id | $A[$id] as $after | $B[$id] as $before
   | (($after - $before)[] | {k: ., g: 1, l: 0}), (($before - $after)[] | {k: ., g: 0, l: 1})]
| group_by(.k)[] | "\(.[0].k) \(map(.g) | add) \(map(.l) | add)"
EOF
jq -rn --slurpfile b "$YL_TMP/before.jsonl" --slurpfile a "$YL_TMP/after.jsonl" -f "$YL_TMP/diff.jq" |
	sort >"$YL_TMP/real-diff.txt"
jq -r '.changes[] | "\(.facet) \(.id) \(.gain) \(.lose)"' "$YL_TMP/dry.json" | sort >"$YL_TMP/dry-diff.txt"
[ -s "$YL_TMP/real-diff.txt" ] || yl_fail "the replay changed no tag"
if ! cmp -s "$YL_TMP/dry-diff.txt" "$YL_TMP/real-diff.txt"; then
	diff "$YL_TMP/dry-diff.txt" "$YL_TMP/real-diff.txt" | head -8 >&2
	yl_fail "the dry run's diff differs from what the replay changed"
fi
# Its examples are reports that did change that way.
ex=$(jq -r '[.changes[] | select(.facet == "commodities" and .lose > 0)][0] | "\(.id) \(.lose_examples[0])"' "$YL_TMP/dry.json")
has() {
	jq -r --arg id "${ex#* }" --arg tag "${ex% *}" \
		'select(.id == $id) | .tags.commodities | any("\(.id)/\(.direction)" == $tag)' "$1"
}
yl_expect_eq "true false" "$(has "$YL_TMP/before.jsonl") $(has "$YL_TMP/after.jsonl")" "example ${ex#* } had ${ex% *} and lost it"
yl_pass "the dry run's gains and losses ($(wc -l <"$YL_TMP/dry-diff.txt") facet IDs) equal the archive's before and after"

# --------------------------------------------- status after, and a daemon down
status >"$YL_TMP/status3.json" || yl_fail "status after the replay: $(cat "$YL_TMP/status3.json")"
jq -e --arg new "$new" --argjson t "$total" '.ok and .archive.older == 0 and .archive.reports == $t
	and .archive.rulesets == [{ruleset: $new, reports: $t, current: true, older: false, newer: false}]' \
	"$YL_TMP/status3.json" >/dev/null || yl_fail "status after the replay: $(jq -c .archive "$YL_TMP/status3.json")"
yl_pass "after the replay, yalu status: 0 reports by an older ruleset"

yl_stop "$store" 60 || yl_fail "yalu-store did not exit 0 on SIGTERM"
rc=0
status >"$YL_TMP/status4.json" || rc=$?
yl_expect_eq 1 "$rc" "yalu status exits 1 with yalu-store down"
jq -e '(.ok | not) and (.daemons[] | select(.name == "yalu-store") | (.up | not) and .members == 0)
	and ([.daemons[] | select(.up)] | length) == 2
	and (.problems | any(startswith("yalu-store: down")))' "$YL_TMP/status4.json" >/dev/null ||
	yl_fail "status with yalu-store down: $(cat "$YL_TMP/status4.json")"
yl_pass "yalu status: yalu-store down is reported and exits 1"

for p in "$classify" "$ingest"; do
	yl_stop "$p" 60 || yl_fail "a daemon did not exit 0 on SIGTERM"
done
echo PASS
