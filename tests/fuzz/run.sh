#!/bin/sh
# Run every libFuzzer target in DIR for SECONDS each, seeded from tests/data.
# A crash, leak or sanitizer report fails the run.
set -eu
dir=$1
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
n=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=$(mktemp -d)
	seeds="$here/corpus/$name"
	echo "fuzz: $name for ${secs}s"
	if [ -d "$seeds" ]; then
		"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			"$corpus" "$seeds" 2>"$corpus.log" || { tail -50 "$corpus.log"; exit 1; }
	else
		"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			"$corpus" 2>"$corpus.log" || { tail -50 "$corpus.log"; exit 1; }
	fi
	grep -E '^stat::number_of_executed_units' "$corpus.log" || true
	rm -rf "$corpus" "$corpus.log"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no targets in $dir"; exit 1; }
echo "fuzz: $n targets ran clean"
