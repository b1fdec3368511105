#!/usr/bin/env bash
# yalu-store against the real broker, checked as an analyst would check the
# archive (`yalu query`): every tagged report archived exactly once, a
# redelivery updates in place, an older ruleset never overwrites a newer
# one, malformed messages land in the dead-letter topic with their reason,
# nothing is lost when the daemon is SIGKILLed in the middle of a batch,
# and SIGTERM commits its offsets and exits 0.
#
# Tagged reports are made the way the pipeline makes them: `yalu classify`
# over raw reports, merged with jq into the reports.tagged form.
. "$(dirname "$0")/lib.sh"
yl_require YALU_BIN YALU_SRC YALU_TEST_KAFKA_DIR
command -v kcat >/dev/null || yl_fail "kcat is needed (apt-get install kcat)"
command -v jq >/dev/null || yl_fail "jq is needed (apt-get install jq)"

yalu=$YALU_BIN/yalu
store=$YALU_BIN/yalu-store
tax=${YALU_TAXONOMY:-$YALU_SRC/configs/taxonomy}
yl_tmpdir
u=$(yl_unique)
bs=$(yl_bootstrap)
tagged=reports.tagged.$u
dlq=reports.dlq.$u
db=$YL_TMP/archive.db
conf=$YL_TMP/store.yaml
export YALU_DB=$db

# A short session timeout: after a SIGKILL the group hands the dead
# member's partitions over in seconds, not 45.
write_conf() {
    cat >"$conf" <<EOF
kafka:
  bootstrap.servers: "$bs"
  session.timeout.ms: "6000"
  heartbeat.interval.ms: "1000"
topics:
  raw: { name: "reports.raw.$u", partitions: 2 }
  tagged: { name: "$tagged", partitions: 3 }
  dlq: { name: "$dlq", partitions: 1 }
group: "yalu-store-$u"
db: "$db"
batch_size: 500
batch_ms: 200
EOF
}

# make_reports PREFIX FROM TO OUT: tagged reports PREFIX-FROM..PREFIX-TO as
# "key<TAB>json" lines, four kinds of report in turn.
make_reports() {
    local prefix=$1 from=$2 to=$3 out=$4 i day
    for ((i = from; i <= to; i++)); do
        day=$((1 + i % 28))
        case $((i % 4)) in
        0) body="Traders in Hyesan said frozen squid was loaded for export to Changbai ($prefix $i)." ;;
        1) body="Traders brought in diesel from Dandong by truck ($prefix $i)." ;;
        2) body="Coal was exported from Nampo to China by ship last week ($prefix $i)." ;;
        3) body="A missile was launched near Sunan at dawn ($prefix $i)." ;;
        esac
        printf '{"id":"%s-%d","source":"test","title":"Report %d","published_at":"2026-11-%02dT08:00:00Z","received_at":"2026-11-28T00:00:00Z","body":"%s"}\n' \
            "$prefix" "$i" "$i" "$day" "$body"
    done >"$out.raw.jsonl"
    "$yalu" classify --taxonomy "$tax" "$out.raw.jsonl" >"$out.cls"
    [[ $(wc -l <"$out.cls") -eq $((to - from + 1)) ]] || yl_fail "classify made $(wc -l <"$out.cls") of $((to - from + 1))"
    # JSON Lines hold no raw tab: the tab is a safe key delimiter.
    paste -d '\t' "$out.raw.jsonl" "$out.cls" |
        jq -r -R 'split("\t") | ((.[0] | fromjson) + ((.[1] | fromjson) | {ruleset, tags})
            + {classified_at: "2026-11-28T00:00:01.000Z"}) | "\(.id)\t\(tojson)"' >"$out"
}

produce() { kcat -P -b "$bs" -t "$tagged" -K $'\t' -l "$@"; }
count() { "$yalu" query --count "$@"; }
count_is() { [[ "$(count "${@:2}" 2>/dev/null)" == "$1" ]]; }
sql() { sqlite3 -readonly "$db" "$1"; }
have_sqlite=0
command -v sqlite3 >/dev/null && have_sqlite=1

start_store() {
    local log=$1
    yl_start "$log" "$store" -d -f "$conf"
    yl_wait_log 60 "$log" 'ready: archiving' || yl_fail "yalu-store not ready: $(cat "$log")"
}

# ------------------------------------------------------------------ config
write_conf
out=$("$store" -n -f "$conf")
yl_expect_eq "configuration OK" "$out" "yalu-store -n accepts the test config"
printf 'batch_size: 0\nbogus: 1\n' >"$YL_TMP/bad.yaml"
rc=0
"$store" -n -f "$YL_TMP/bad.yaml" 2>"$YL_TMP/bad.err" || rc=$?
yl_expect_eq 78 "$rc" "a bad config exits 78"
if ! grep -q "bad.yaml:1:13: batch_size: 0 is out of range" "$YL_TMP/bad.err" ||
    ! grep -q "bad.yaml:2:1: unknown key 'bogus'" "$YL_TMP/bad.err"; then
    yl_fail "config errors not all listed: $(cat "$YL_TMP/bad.err")"
fi
rc=0
"$yalu" query --db "$YL_TMP/none.db" --count 2>"$YL_TMP/q.err" || rc=$?
yl_expect_eq 1 "$rc" "yalu query on a missing archive exits 1"
grep -q "no archive there" "$YL_TMP/q.err" || yl_fail "unclear message: $(cat "$YL_TMP/q.err")"

# ------------------------------------------------- N reports, archived once
N=200
make_reports r 1 $N "$YL_TMP/first"
start_store "$YL_TMP/store1.log"
pid1=$YL_PID
produce "$YL_TMP/first"
yl_wait_for 60 count_is $N || yl_fail "archived $(count) of $N: $(tail -5 "$YL_TMP/store1.log")"
yl_pass "$N tagged reports archived"

# What the archive must say is what the tagged messages say (jq over them),
# whatever the classifier decided.
want() { cut -f2 "$YL_TMP/first" | jq -r "select($1) | .id" | wc -l; }
rank='{"none": 0, "low": 1, "medium": 2, "high": 3}'
w=$(want 'any(.tags.commodities[]; .id == "seafood" and .direction == "export")')
((w > 0)) || yl_fail "no seafood export among the fixtures: is the taxonomy right?"
yl_expect_eq "$w" "$(count --commodity seafood --direction export)" "--commodity with --direction"
w=$(want 'any(.tags.crossings[]; .id == "changbai-hyesan") and any(.tags.sanctions.provisions[]; .id == "UNSCR-2371-OP9")')
yl_expect_eq "$w" "$(count --crossing changbai-hyesan --provision UNSCR-2371-OP9)" "--crossing and --provision"
w=$(want "any(.tags.commodities[]; .id == \"petroleum\") and (${rank}[.tags.sanctions.relevance] >= 2)")
((w > 0)) || yl_fail "no petroleum of medium relevance among the fixtures"
yl_expect_eq "$w" "$(count --commodity petroleum --relevance medium)" "--relevance is at least"
w=$(want "${rank}[.tags.sanctions.relevance] >= 1")
yl_expect_eq "$w" "$(count --relevance low)" "--relevance low leaves out none"
yl_expect_eq $((N / 4)) "$(count --text missile)" "full-text search"
yl_expect_eq $((N / 4)) "$(count --text 'MISSILE launch*')" "full-text search: every word, any case, prefix"
w=$(want '.tags.sanctions.relevance != "none" and (.body | test("missile"))')
yl_expect_eq "$w" "$(count --relevance low --text missile)" "filters combine with AND"
# Days 1..28 in turn: the 1st to the 7th of November hold 7 days' worth.
w=$(want '.published_at < "2026-11-08"')
yl_expect_eq "$w" "$(count --since 2026-11-01 --until 2026-11-07)" "--since/--until by published_at, until inclusive"
"$yalu" query --format csv >"$YL_TMP/all.csv"
yl_expect_eq $((N + 1)) "$(wc -l <"$YL_TMP/all.csv")" "csv: a header and one line per report"
head -1 "$YL_TMP/all.csv" | grep -q $'^id,published_at,.*,title\r$' || yl_fail "csv header: $(head -1 "$YL_TMP/all.csv")"
"$yalu" query --format jsonl --limit 5 --commodity coal >"$YL_TMP/coal.jsonl"
yl_expect_eq 5 "$(jq 'any(.tags.commodities[]; .id == "coal")' "$YL_TMP/coal.jsonl" | grep -c true)" \
    "jsonl carries the tags, --limit holds"
"$yalu" query --limit 3 >"$YL_TMP/table"
head -1 "$YL_TMP/table" | grep -q '^ID  *PUBLISHED  *RELEVANCE  *COMMODITIES  *CROSSINGS  *PROVISIONS  *TITLE$' ||
    yl_fail "table header: $(head -1 "$YL_TMP/table")"

# ------------------------------------------- redelivery updates in place
# Evidence lives in reports.tags (JSON); json_tree reaches every span.
evidence_sql="SELECT count(*) FROM reports, json_tree(reports.tags)
    WHERE json_tree.path LIKE '%.evidence' AND json_tree.type = 'object'"
if ((have_sqlite)); then
    tags_before=$(sql "SELECT count(*) FROM tags")
    ev_before=$(sql "$evidence_sql")
    ((ev_before > N)) || yl_fail "only $ev_before pieces of evidence archived"
fi
head -50 "$YL_TMP/first" >"$YL_TMP/again"
produce "$YL_TMP/again"
updated() {
    [[ $("$yalu" query --format jsonl | jq -r 'select(.archive.updated_at != .archive.archived_at) | .id' | wc -l) -ge 50 ]]
}
yl_wait_for 60 updated || yl_fail "the 50 redelivered reports were not processed"
yl_expect_eq $N "$(count)" "a redelivery does not duplicate reports"
if ((have_sqlite)); then
    yl_expect_eq "$tags_before" "$(sql "SELECT count(*) FROM tags")" "nor their tags"
    yl_expect_eq "$ev_before" "$(sql "$evidence_sql")" "nor their evidence"
    yl_expect_eq $((N / 4)) "$(sql "SELECT count(*) FROM reports_fts WHERE reports_fts MATCH 'missile'")" \
        "nor their full-text index entries"
fi

# --------------------------------- an older ruleset never overwrites a newer
# r-4 (squid) again, tagged coal by an old ruleset, then a sentinel on the
# same partition: once the sentinel is archived, r-4 has been seen.
old=$(grep -m1 $'^r-4\t' "$YL_TMP/first" | cut -f2 |
    jq -c '.ruleset = "2025.1.0+0ld" | .classified_at = "2026-12-31T00:00:00Z" |
        .tags.commodities = [{"id": "coal", "direction": "export", "evidence": []}]')
printf 'r-4\t%s\n' "$old" | kcat -P -b "$bs" -t "$tagged" -p 0 -K $'\t'
grep -m1 $'^r-2\t' "$YL_TMP/first" | cut -f2 | jq -c '.id = "sentinel-0"' |
    kcat -P -b "$bs" -t "$tagged" -p 0
yl_wait_for 30 count_is $((N + 1)) || yl_fail "sentinel not archived"
yl_expect_eq "seafood" "$("$yalu" query --format jsonl | jq -r 'select(.id == "r-4") | .tags.commodities[0].id')" \
    "an older ruleset does not overwrite the archived tags"
# And a newer one does.
new=$(printf '%s' "$old" | jq -c '.ruleset = "2099.1.0+n3w"')
printf 'r-4\t%s\n' "$new" | kcat -P -b "$bs" -t "$tagged" -p 0 -K $'\t'
newer() { [[ $("$yalu" query --format jsonl | jq -r 'select(.id == "r-4") | .ruleset') == 2099.1.0+n3w ]]; }
yl_wait_for 30 newer || yl_fail "a newer ruleset was not archived"
yl_expect_eq "coal" "$("$yalu" query --format jsonl | jq -r 'select(.id == "r-4") | .tags.commodities[0].id')" \
    "a newer ruleset replaces the tags"
total=$((N + 1))

# ------------------------------------------------ malformed: dead-lettered
printf 'bad-1\tnot json at all\n' | kcat -P -b "$bs" -t "$tagged" -K $'\t'
printf 'bad-2\t{"id":"bad-2","body":"x","ruleset":"2026.11.0+1"}\n' | kcat -P -b "$bs" -t "$tagged" -K $'\t'
dlq_dump() { timeout 120 kcat -C -b "$bs" -t "$dlq" -e -o beginning -q -f '%k\t%s\t%h\n'; }
dlq_has() { [[ $(dlq_dump | wc -l) -ge "$1" ]]; }
yl_wait_for 30 dlq_has 2 || yl_fail "malformed messages not dead-lettered: $(dlq_dump)"
dlq_dump >"$YL_TMP/dlq"
grep -q $'^bad-1\tnot json at all\t.*yalu-error=invalid JSON' "$YL_TMP/dlq" || yl_fail "bad-1 in DLQ: $(cat "$YL_TMP/dlq")"
grep -q $'^bad-2\t.*yalu-error=tags: missing' "$YL_TMP/dlq" || yl_fail "bad-2 in DLQ: $(cat "$YL_TMP/dlq")"
for h in "yalu-topic=$tagged" "yalu-stage=store" "yalu-partition=[0-9]" "yalu-offset=[0-9]"; do
    [[ $(grep -c -- "$h" "$YL_TMP/dlq") -eq 2 ]] || yl_fail "DLQ header $h missing: $(cat "$YL_TMP/dlq")"
done
yl_pass "malformed messages dead-lettered with their reason and origin"
grep -q "bad-1: .*dead-lettered to $dlq: invalid JSON" "$YL_TMP/store1.log" || yl_fail "dead letter not logged"
yl_expect_eq $total "$(count)" "dead letters are not archived"

# -------------------------------------------------- SIGHUP reloads, or not
kill -HUP "$pid1"
yl_wait_log 10 "$YL_TMP/store1.log" 'reloaded: batches of 500' || yl_fail "SIGHUP: no reload"
cp "$conf" "$YL_TMP/good.yaml"
printf 'batch_size: many\n' >>"$conf"
kill -HUP "$pid1"
yl_wait_log 10 "$YL_TMP/store1.log" 'not reloaded, keeping' || yl_fail "SIGHUP with a bad config"
cp "$YL_TMP/good.yaml" "$conf"
kill -0 "$pid1" || yl_fail "yalu-store died on SIGHUP"
yl_pass "SIGHUP reloads a good config and keeps the old one over a bad one"

rc=0
yl_stop "$pid1" || rc=$?
yl_expect_eq 0 "$rc" "SIGTERM exits 0"

# ------------------------------------------- SIGKILL in the middle of a batch
M=2000
make_reports c 1 $M "$YL_TMP/crash"
split -l 250 -d "$YL_TMP/crash" "$YL_TMP/chunk."
start_store "$YL_TMP/store2.log"
pid2=$YL_PID
for c in 00 01 02 03; do produce "$YL_TMP/chunk.$c"; sleep 0.5; done
# The fifth chunk is being read when the daemon dies: fetched within
# milliseconds, committed only batch_ms (200 ms) after its first message.
produce "$YL_TMP/chunk.04"
sleep 0.1
kill -KILL "$pid2"
wait "$pid2" 2>/dev/null || true
at_kill=$(count)
for c in 05 06 07; do produce "$YL_TMP/chunk.$c"; done
echo "# SIGKILLed with $((at_kill - total)) of $M archived"
((at_kill < total + M)) || yl_fail "the kill came too late"
start_store "$YL_TMP/store3.log"
pid3=$YL_PID
total=$((total + M))
yl_wait_for 120 count_is $total || yl_fail "after the restart: $(count) of $total"
# Exactly once: every id, no other, and no tag row twice.
{ cut -f1 "$YL_TMP/first"; cut -f1 "$YL_TMP/crash"; echo sentinel-0; } | sort >"$YL_TMP/want.ids"
"$yalu" query --format csv | tail -n +2 | cut -d, -f1 | sort >"$YL_TMP/got.ids"
cmp -s "$YL_TMP/want.ids" "$YL_TMP/got.ids" || yl_fail "archived ids differ: $(diff "$YL_TMP/want.ids" "$YL_TMP/got.ids" | head)"
yl_expect_eq "$total" "$(sort -u "$YL_TMP/got.ids" | wc -l)" "every report archived exactly once after a SIGKILL"
if ((have_sqlite)); then
    want_ev=$(cut -f2 "$YL_TMP/crash" | jq '[.tags[] | arrays | .[].evidence | length] | add' | jq -s add)
    yl_expect_eq "$want_ev" "$(sql "$evidence_sql AND reports.id LIKE 'c-%'")" \
        "no evidence duplicated by the redelivery"
    want_tags=$(cut -f2 "$YL_TMP/crash" | jq '[.tags[] | arrays | length] | add' | jq -s add)
    yl_expect_eq "$want_tags" "$(sql "SELECT count(*) FROM tags t JOIN reports r ON r.rid = t.rid WHERE r.id LIKE 'c-%'")" \
        "no tag row duplicated by the redelivery"
fi

# ----------------------- a second archiver joins the group, then leaves it
# Cooperative-sticky: the first keeps what it is not asked to give up; what
# it gives up is committed (transaction, then offsets) before it goes.
start_store "$YL_TMP/store5.log"
pid5=$YL_PID
yl_wait_log 60 "$YL_TMP/store5.log" 'kafka: assigned [1-9]' || yl_fail "the second archiver got no partition"
yl_wait_log 30 "$YL_TMP/store3.log" 'kafka: revoked [1-9]' || yl_fail "the first archiver gave up nothing"
grep -q 'kafka: revoked 3 partitions' "$YL_TMP/store3.log" && yl_fail "an eager rebalance: every partition was revoked"
J=600
make_reports j 1 $J "$YL_TMP/join"
produce "$YL_TMP/join"
total=$((total + J))
yl_wait_for 60 count_is $total || yl_fail "with two archivers: $(count) of $total"
rc=0
yl_stop "$pid5" || rc=$?
yl_expect_eq 0 "$rc" "the second archiver stops cleanly"
n5=$(sed -n 's/.*stopped: \([0-9]*\) new.*/\1/p' "$YL_TMP/store5.log")
((n5 > 0 && n5 < J)) || yl_fail "the second archiver archived $n5 of $J"
# What it had goes back to the first.
got_back() { [[ $(grep -c 'kafka: assigned' "$YL_TMP/store3.log") -ge 2 ]]; }
yl_wait_for 30 got_back || yl_fail "the first archiver did not get the partitions back"
yl_pass "two archivers shared the partitions ($n5 and $((J - n5)) of $J), nothing twice"

# ------------------------------------- SIGTERM commits: nothing redelivered
rc=0
yl_stop "$pid3" || rc=$?
yl_expect_eq 0 "$rc" "SIGTERM after the crash recovery exits 0"
grep -q 'stopped: ' "$YL_TMP/store3.log" || yl_fail "no drain summary: $(tail -3 "$YL_TMP/store3.log")"
t0=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
# This run also reports to a stand-in for systemd's notification socket.
nl=$YALU_BIN/../tests/notify_listen
if [[ -x $nl ]]; then
    "$nl" --timeout 120 "$YL_TMP/notify.sock" >"$YL_TMP/notify.out" &
    nlpid=$!
    yl_on_exit "kill $nlpid"
    yl_wait_for 10 test -S "$YL_TMP/notify.sock" || yl_fail "notify_listen did not start"
    export NOTIFY_SOCKET=$YL_TMP/notify.sock
fi
start_store "$YL_TMP/store4.log"
pid4=$YL_PID
unset NOTIFY_SOCKET
# One sentinel per partition: whatever was redelivered comes before it.
for p in 0 1 2; do
    grep -m1 $'^r-2\t' "$YL_TMP/first" | cut -f2 | jq -c --arg id "sentinel-p$p" '.id = $id' |
        kcat -P -b "$bs" -t "$tagged" -p $p
done
total=$((total + 3))
yl_wait_for 60 count_is $total || yl_fail "sentinels: $(count) of $total"
redelivered=$("$yalu" query --format jsonl | jq -r --arg t "$t0" \
    'select(.archive.updated_at > $t and (.id | startswith("sentinel-p") | not)) | .id' | wc -l)
yl_expect_eq 0 "$redelivered" "offsets committed on SIGTERM: nothing redelivered after a clean restart"
yl_expect_eq 2 "$(dlq_dump | wc -l)" "dead letters are not sent twice"
rc=0
yl_stop "$pid4" || rc=$?
yl_expect_eq 0 "$rc" "SIGTERM exits 0"
if [[ -x $nl ]]; then
    kill -TERM "$nlpid"
    wait "$nlpid" || true
    head -1 "$YL_TMP/notify.out" | grep -q '^READY=1|STATUS=' || yl_fail "no READY=1 first: $(cat "$YL_TMP/notify.out")"
    if ! grep -q "^STATUS=$((total - 3)) reports archived (0 new" "$YL_TMP/notify.out" ||
        ! grep -q "^STATUS=$total reports archived (3 new, 0 updated" "$YL_TMP/notify.out"; then
        yl_fail "STATUS= does not count the archive: $(cat "$YL_TMP/notify.out")"
    fi
    grep -q '^STOPPING=1' "$YL_TMP/notify.out" || yl_fail "no STOPPING=1"
    yl_pass "sd_notify: READY=1, STATUS= with the archived counts, STOPPING=1"
else
    echo "# notify_listen not built: READY/STATUS not checked"
fi
# No error but those of the bad config we asked for.
errors=$(grep -h '^<3>' "$YL_TMP"/store[134].log | grep -v -e 'store.yaml:13:' -e 'not reloaded' || true)
[[ -z "$errors" ]] || yl_fail "errors logged: $errors"
yl_pass "yalu-store: all checks passed"
