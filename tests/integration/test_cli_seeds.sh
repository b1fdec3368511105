#!/usr/bin/env bash
# The five sample reports of ../shared/seeds get exactly the labels of
# ../shared/contract/seed-labels.jsonl (yalu eval scores 1.0 everywhere).
# Skips, saying so, when ../shared is not beside the checkout.
set -euo pipefail
: "${YALU_BIN:?}" "${YALU_SRC:?}"
shared=$YALU_SRC/../shared
if [ ! -f "$shared/contract/seed-labels.jsonl" ]; then
	echo "SKIP: $shared/contract/seed-labels.jsonl not present"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$YALU_BIN/yalu" eval --format json --taxonomy "$YALU_SRC/configs/taxonomy" \
	"$shared/contract/seed-labels.jsonl" "$shared"/seeds/*.txt > "$tmp/eval.json"
"$YALU_BIN/yalu" eval --taxonomy "$YALU_SRC/configs/taxonomy" \
	"$shared/contract/seed-labels.jsonl" "$shared"/seeds/*.txt || true
# Every facet's F1 and the relevance accuracy must be exactly 1.
bad=$(grep -E '"(f1|relevance_accuracy)": ' "$tmp/eval.json" | grep -vc '1\.0' || true)
grep -q '"reports": 5' "$tmp/eval.json" || { echo "FAIL: not 5 reports scored"; exit 1; }
[ "$bad" -eq 0 ] || { echo "FAIL: $bad score(s) below 1.0"; exit 1; }
echo PASS
