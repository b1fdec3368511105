#!/usr/bin/env bash
# Tagging quality on the development set (tests/data/devset, docs/quality.md):
# `yalu eval --format json` on each half, then every score below is checked
# against its floor. Prints the scores; exits 1 if one drops below its floor.
#
# Holdout floors are the issue's targets (commodities 0.90, provisions 0.90,
# relevance 0.85, crossings 0.90) where the holdout half meets them. Where it
# does not, the floor is the value achieved, rounded down to 2 decimals, so
# that a change can only keep or raise it; those lines say "target not met".
# Tune floors are the values achieved minus a small margin (0.02), so a rule
# change that breaks tune reports it was not aimed at is caught.
# Blind floors (tests/data/devset/blind to blind4, each written by
# annotators who never saw the rules or ran yalu, never tuned on) are the
# values achieved minus 0.01, rounded down: most of the issue's targets are
# not met there (docs/quality.md).
set -euo pipefail
: "${YALU_BIN:?}" "${YALU_SRC:?}"
command -v jq >/dev/null || { echo "FAIL: jq is needed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# reports each half must score
declare -A nreports=([tune]=584 [holdout]=32 [blind]=32 [blind2]=40 [blind3]=32
    [blind4]=40)

# half  score (a jq path into the eval JSON)          floor
floors=(
	# Scores of 2026-11-24 (tenth round) with the learned stage
	# (configs/taxonomy/model.yaml, trained on the tune half only).
	# tune (584 reports: t01-t190, u101-u618, v101-v818 and w101-w818,
	# most by writers who never saw the rules): achieved minus 0.02,
	# rounded down (commodities 0.862, provisions 0.886, relevance 0.902,
	# crossings 0.969)
	"tune    .facets.commodities.f1                    0.84"
	"tune    .facets.provisions.f1                     0.86"
	"tune    .relevance_accuracy                       0.88"
	"tune    .facets.crossings.f1                      0.94"
	# holdout: the issue's targets, all met (commodities 0.909,
	# provisions 0.929, relevance 0.969, crossings 0.971)
	"holdout .facets.commodities.f1                    0.90"
	"holdout .facets.provisions.f1                     0.90"
	"holdout .relevance_accuracy                       0.85"
	"holdout .facets.crossings.f1                      0.90"
	# blind (32 reports): achieved minus 0.01, rounded down (commodities
	# 0.869, provisions 0.900, relevance 0.906, crossings 1.000, countries
	# 0.912; eleventh round)
	"blind   .facets.commodities.f1                    0.85"
	"blind   .facets.provisions.f1                     0.89"
	"blind   .relevance_accuracy                       0.89"
	"blind   .facets.crossings.f1                      0.99"
	"blind   .facets.countries.f1                      0.90"
	# blind2 (40 reports): achieved minus 0.01, rounded down (commodities
	# 0.810, provisions 0.833, relevance 0.800, crossings 0.990, countries
	# 0.891)
	"blind2  .facets.commodities.f1                    0.80"
	"blind2  .facets.provisions.f1                     0.82"
	"blind2  .relevance_accuracy                       0.79"
	"blind2  .facets.crossings.f1                      0.98"
	"blind2  .facets.countries.f1                      0.88"
	# blind3 (32 reports e101-e216 by two more writers): achieved minus
	# 0.01, rounded down (commodities 0.692, provisions 0.705, relevance
	# 0.906, crossings 0.977, countries 0.792)
	"blind3  .facets.commodities.f1                    0.68"
	"blind3  .facets.provisions.f1                     0.69"
	"blind3  .relevance_accuracy                       0.89"
	"blind3  .facets.crossings.f1                      0.96"
	"blind3  .facets.countries.f1                      0.78"
	# blind4 (40 reports f101-f410 by four writers of the ninth round):
	# achieved minus 0.01, rounded down (commodities 0.859, provisions
	# 0.893, relevance 0.900, crossings 0.941, countries 0.848; eleventh
	# round)
	"blind4  .facets.commodities.f1                    0.84"
	"blind4  .facets.provisions.f1                     0.88"
	"blind4  .relevance_accuracy                       0.89"
	"blind4  .facets.crossings.f1                      0.93"
	"blind4  .facets.countries.f1                      0.83"
)

for half in tune holdout blind blind2 blind3 blind4; do
	"$YALU_BIN/yalu" eval --format json --taxonomy \
	    "$YALU_SRC/configs/taxonomy" \
	    "$YALU_SRC/tests/data/devset/$half/gold.jsonl" > "$tmp/$half.json"
	n=$(jq -r '.reports' "$tmp/$half.json")
	[ "$n" = "${nreports[$half]}" ] ||
	    { echo "FAIL: $half: $n reports scored, not ${nreports[$half]}"; exit 1; }
	echo "$half:"
	jq -r '.facets | to_entries[] | [.key, .value.precision, .value.recall,
	    .value.f1] | @tsv' "$tmp/$half.json" | awk -F'\t' \
	    '{ printf "  %-22s P %.3f  R %.3f  F1 %.3f\n", $1, $2, $3, $4 }'
	jq -r '.relevance_accuracy' "$tmp/$half.json" | awk \
	    '{ printf "  %-22s %.3f\n", "relevance accuracy", $1 }'
done

# The committed model is the one `yalu train` learns from the tune half
# with the committed rules: a rule change that alters what the model sees
# must retrain it (docs/quality.md), or this fails.
"$YALU_BIN/yalu" train --taxonomy "$YALU_SRC/configs/taxonomy" \
    -o "$tmp/model.yaml" "$YALU_SRC/tests/data/devset/tune/gold.jsonl"
cmp -s "$tmp/model.yaml" "$YALU_SRC/configs/taxonomy/model.yaml" || {
	echo "FAIL: configs/taxonomy/model.yaml is stale; retrain with:"
	echo "  yalu train -o configs/taxonomy/model.yaml" \
	    "tests/data/devset/tune/gold.jsonl"
	diff "$YALU_SRC/configs/taxonomy/model.yaml" "$tmp/model.yaml" | head
	exit 1
}
echo "ok   model.yaml is what yalu train learns from the tune half"

fail=0
for line in "${floors[@]}"; do
	case $line in '#'*|'') continue ;; esac
	read -r half path floor <<<"$line"
	got=$(jq -r "$path" "$tmp/$half.json")
	if jq -en --argjson g "$got" --argjson f "$floor" '$g >= $f' >/dev/null
	then
		printf 'ok   %-8s %-28s %.3f >= %s\n' "$half" "$path" "$got" "$floor"
	else
		printf 'FAIL %-8s %-28s %.3f <  %s\n' "$half" "$path" "$got" "$floor"
		fail=1
	fi
done
[ "$fail" -eq 0 ] || exit 1
echo PASS
