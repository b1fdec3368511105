#!/usr/bin/env bash
# yalu classify at the command line, as an analyst uses it: text and JSON
# output, input order, and a clear error naming the file and line for every
# kind of bad input, while the other reports are still classified.
set -euo pipefail
: "${YALU_BIN:?}" "${YALU_SRC:?}"
yalu=$YALU_BIN/yalu
tax=$YALU_SRC/configs/taxonomy
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$tmp/a.txt" <<'T'
A trader in Hyesan said that frozen squid was loaded for export to Changbai last week.
T
printf 'Customs in Dandong seized diesel smuggled in by truck.\r\nPrices rose.\r\n' > "$tmp/b.txt"
printf '\xff\xfe binary \x00 junk' > "$tmp/bin.txt"
: > "$tmp/empty.txt"
head -c $((50 * 1024 * 1024)) /dev/zero | tr '\0' 'a' > "$tmp/big.txt"
printf '%s\n' '{"id":"j1","body":"Coal was exported from Nampo to China."}' \
	'{"id":"j2","body":' '{"id":"j3"}' '{"id":"j4","body":"A music festival was held in Pyongyang on Sunday."}' \
	'{"id":"j5","body":"bad \u0000 nul"}' > "$tmp/r.jsonl"

# Good files: one JSON object per report, in input order.
"$yalu" classify --taxonomy "$tax" "$tmp/a.txt" "$tmp/b.txt" > "$tmp/out" || fail "good files exit $?"
[ "$(wc -l < "$tmp/out")" -eq 2 ] || fail "expected 2 lines"
head -1 "$tmp/out" | grep -q '^{"id":"a","ruleset":"' || fail "first line is not report a: $(head -1 "$tmp/out")"
grep -q '"id":"seafood","direction":"export"' "$tmp/out" || fail "squid export not tagged"
grep -q '"changbai-hyesan"' "$tmp/out" || fail "Hyesan crossing missing"
grep -q '"id":"petroleum","direction":"import"' "$tmp/out" || fail "diesel import missing"

# Text format quotes the evidence.
"$yalu" classify --taxonomy "$tax" --format text --explain "$tmp/a.txt" > "$tmp/text"
grep -q 'seafood/export' "$tmp/text" || fail "text output lacks seafood/export"
grep -q '"squid"' "$tmp/text" || fail "text output lacks the quoted evidence"

# Bad inputs: each named with its reason; the good ones still come out.
set +e
"$yalu" classify --taxonomy "$tax" "$tmp/bin.txt" "$tmp/empty.txt" "$tmp/big.txt" \
	"$tmp/r.jsonl" "$tmp/a.txt" "$tmp/missing.txt" > "$tmp/out2" 2> "$tmp/err2"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad inputs: exit $rc, want 1"
grep -q "bin.txt: .*\(invalid UTF-8\|NUL byte\)" "$tmp/err2" || fail "binary file not named: $(cat "$tmp/err2")"
grep -q "empty.txt: empty body" "$tmp/err2" || fail "empty file not named"
grep -q "big.txt: body is 52428800 bytes, over the limit" "$tmp/err2" || fail "50 MB file not refused"
grep -q "r.jsonl:2: invalid JSON" "$tmp/err2" || fail "malformed line 2 not named"
grep -q "r.jsonl:3: body: missing" "$tmp/err2" || fail "line 3 without body not named"
grep -q "r.jsonl:5: invalid JSON" "$tmp/err2" || fail "NUL escape not refused"
grep -q "missing.txt: No such file" "$tmp/err2" || fail "missing file not named"
[ "$(grep -c '^{"id":"\(j1\|j4\|a\)"' "$tmp/out2")" -eq 3 ] || fail "good reports not all classified: $(cat "$tmp/out2")"
grep '"id":"j4"' "$tmp/out2" | grep -q '"relevance":"none"' || fail "no-trade report not none"

# stdin: plain text is one report, JSON lines are many.
echo "Rice was imported from China through Sinuiju." | "$yalu" classify --taxonomy "$tax" | grep -q '"foodstuffs","direction":"import"' || fail "stdin text"
"$yalu" classify --taxonomy "$tax" < "$tmp/r.jsonl" > "$tmp/out3" 2>/dev/null || true
grep -q '"id":"j1"' "$tmp/out3" || fail "stdin jsonl"

# A directory's FIFO named *.txt is refused, not opened (it would block the
# run); the directory's other reports are still classified.
mkdir "$tmp/dir"
echo "Squid went out from Hyesan to China by truck." > "$tmp/dir/a.txt"
mkfifo "$tmp/dir/pipe.txt"
rc=0; timeout 60 "$yalu" classify --taxonomy "$tax" "$tmp/dir" > "$tmp/out4" 2> "$tmp/err4" || rc=$?
[ "$rc" -eq 1 ] || fail "directory with a FIFO: exit $rc, want 1"
grep -q "dir/pipe.txt: not a regular file" "$tmp/err4" || fail "FIFO not named: $(cat "$tmp/err4")"
grep -q '^{"id":"a",' "$tmp/out4" || fail "the directory's report was not classified"

# The compiled-terms cache keeps the 8 most recently used databases: every
# edit of the taxonomy writes a new one, and the old ones must not pile up.
# Other files in the directory (the broker's jars) are left alone.
mkdir -p "$tmp/cache/kafka-9.9/lib"
for i in 1 2 3 4 5 6 7 8 9 10; do
	touch -d "2020-01-$((10 + i))" "$tmp/cache/taxonomy-$(printf '%016x' "$i").hsdb"
done
YALU_CACHE=$tmp/cache "$yalu" classify --taxonomy "$tax" "$tmp/a.txt" > /dev/null || fail "classify with a fresh cache: exit $?"
n=$(ls "$tmp/cache" | grep -c '^taxonomy-.*\.hsdb$' || true)
[ "$n" -eq 8 ] || fail "cache keeps $n databases, want 8: $(ls "$tmp/cache")"
[ ! -e "$tmp/cache/taxonomy-0000000000000001.hsdb" ] && [ ! -e "$tmp/cache/taxonomy-0000000000000003.hsdb" ] || fail "the oldest databases were kept"
[ -e "$tmp/cache/taxonomy-000000000000000a.hsdb" ] || fail "a recent database was removed"
[ -d "$tmp/cache/kafka-9.9/lib" ] || fail "the prune removed a directory that is not a database"
YALU_CACHE=$tmp/cache "$yalu" classify --taxonomy "$tax" "$tmp/a.txt" | grep -q '"seafood","direction":"export"' || fail "classify from the cached database"

# A broken taxonomy is refused with file:line:col and exit 78.
cp -r "$tax" "$tmp/tax"
printf 'commodities:\n  seafod:\n    terms: [crab]\n' > "$tmp/tax/zz-typo.yaml"
set +e
"$yalu" classify --taxonomy "$tmp/tax" "$tmp/a.txt" > /dev/null 2> "$tmp/err3"
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "typo taxonomy: exit $rc, want 78"
grep -q "zz-typo.yaml:1:1: section 'commodities' already given" "$tmp/err3" || fail "duplicate section not reported: $(cat "$tmp/err3")"
# So is a learned model whose weight is not a number.
rm -f "$tmp/tax/zz-typo.yaml"
printf 'model:\n  presence:\n    "bias": x1\n  direction:\n    "import|bias": 0.5\n' > "$tmp/tax/model.yaml"
set +e
"$yalu" classify --taxonomy "$tmp/tax" "$tmp/a.txt" > /dev/null 2> "$tmp/err5"
rc=$?
set -e
[ "$rc" -eq 78 ] || fail "bad model.yaml: exit $rc, want 78"
grep -q "model.yaml:3:13: model: presence: weight of 'bias' is not a number" "$tmp/err5" || fail "bad weight not reported: $(cat "$tmp/err5")"
# --rules-only leaves the learned stage out: the noodles the crews bought for
# the trip, which the rules keep (foodstuffs default to import), are dropped
# by the model.
echo "Iron ore went to China by rail; the crews bought noodles for the trip." > "$tmp/idle.txt"
"$yalu" classify --taxonomy "$tax" --rules-only "$tmp/idle.txt" | grep -q '"foodstuffs","direction":"import"' || fail "--rules-only lost the rules' noodles"
"$yalu" classify --taxonomy "$tax" --explain "$tmp/idle.txt" > "$tmp/idle.json"
grep -q '"foodstuffs"' "$tmp/idle.json" && ! grep -q '"id":"foodstuffs"' "$tmp/idle.json" || fail "the model kept the crews' noodles: $(cat "$tmp/idle.json")"
grep -q '"the model reads no trade in it"' "$tmp/idle.json" || fail "--explain does not say the model dropped them"
# eval --against scores a second annotator's labels with the same
# arithmetic (inter-annotator agreement): nothing is classified.
cat > "$tmp/gold-a.jsonl" <<'J'
{"file": "r1.txt", "commodities": [["coal", "export"], ["petroleum", "import"]], "countries": ["cn"], "crossings": [], "modes": ["sea"], "methods": [], "entities": [], "provisions": ["UNSCR-2371-OP8", "UNSCR-2397-OP5"], "relevance": "high"}
{"file": "r2.txt", "commodities": [], "countries": [], "crossings": [], "modes": [], "methods": [], "entities": [], "provisions": [], "relevance": "none"}
J
cat > "$tmp/gold-b.jsonl" <<'J'
{"file": "r2.txt", "commodities": [], "countries": [], "crossings": [], "modes": [], "methods": [], "entities": [], "provisions": [], "relevance": "low"}
{"file": "r1.txt", "commodities": [["coal", "export"], ["petroleum", "unknown"]], "countries": ["cn", "ru"], "crossings": [], "modes": ["sea"], "methods": [], "entities": [], "provisions": ["UNSCR-2371-OP8"], "relevance": "high"}
J
"$yalu" eval --format json --against "$tmp/gold-b.jsonl" "$tmp/gold-a.jsonl" > "$tmp/iaa.json" || fail "eval --against exit $?"
python3 - "$tmp/iaa.json" <<'P' || fail "eval --against counts: $(cat "$tmp/iaa.json")"
import json, sys
d = json.load(open(sys.argv[1])); f = d["facets"]
want = {"commodities": (1, 1, 1), "commodity-categories": (2, 0, 0),
        "countries": (1, 1, 0), "provisions": (1, 0, 1)}
for k, v in want.items():
    got = (f[k]["tp"], f[k]["fp"], f[k]["fn"])
    assert got == v, (k, got, v)
assert d["reports"] == 2 and abs(d["relevance_accuracy"] - 0.5) < 1e-9
P
head -1 "$tmp/gold-b.jsonl" > "$tmp/gold-c.jsonl"
set +e
"$yalu" eval --against "$tmp/gold-c.jsonl" "$tmp/gold-a.jsonl" > /dev/null 2> "$tmp/err4"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "eval --against with a report unlabelled: exit $rc, want 1"
grep -q "gold-c.jsonl: r1.txt has no labels" "$tmp/err4" || fail "unlabelled report not named: $(cat "$tmp/err4")"
echo "PASS"
