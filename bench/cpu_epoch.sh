#!/usr/bin/env bash
# CPU benchmark of issue 3: seconds per epoch (training + evaluation on both jittered sets) and
# peak resident memory for ei, ei-ln+, inorm-, inorm+ at their default widths, batch 32, one
# process per variant under /usr/bin/time -v. Writes bench/results/cpu-epoch-<date>.md.
# Usage: bench/cpu_epoch.sh [epochs (default 2)]   (run on an otherwise idle machine)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup time bc
tools/build >/dev/null
dale=${DALE_BUILD_DIR:-build}/dale
epochs=${1:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=bench/results/cpu-epoch-$(date +%Y-%m-%d).md
{
  echo "# CPU epoch time and memory ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "- build: $(git rev-parse --short HEAD) Release, OpenBLAS $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo '?')"
  echo "- command: \`dale train --model.variant V --train.epochs $epochs --data.brightness_factor 0.75 --quiet\` under \`/usr/bin/time -v\`"
  echo "- s/epoch = elapsed_s of the last record / epochs (training + evaluation of the jittered train and test sets; data loading excluded)"
  echo
  echo "| variant | width | s/epoch | peak RSS (MB) | final test acc (%) |"
  echo "| --- | --- | --- | --- | --- |"
} > "$tmp/report.md"
for v in ei ei-ln+ inorm- inorm+; do
  /usr/bin/time -v "$dale" train --model.variant "$v" --train.epochs "$epochs" --data.brightness_factor 0.75 \
      --exp.out "$tmp/$v.jsonl" --quiet >"$tmp/$v.out" 2>"$tmp/$v.err"
  elapsed=$(tail -n1 "$tmp/$v.jsonl" | sed -E 's/.*"elapsed_s":([0-9.eE+-]+).*/\1/')
  acc=$(tail -n1 "$tmp/$v.jsonl" | sed -E 's/.*"test_acc":([0-9.eE+-]+).*/\1/')
  width=$(tail -n1 "$tmp/$v.jsonl" | sed -E 's/.*"hidden_layer_width":([0-9]+).*/\1/')
  rss=$(awk -F: '/Maximum resident set size/{print $2}' "$tmp/$v.err")
  [ "$width" = 0 ] && width=$("$dale" variants | awk -v v="$v" '$1==v{print $3}')
  printf '| %s | %s | %.2f | %.0f | %.2f |\n' "$v" "$width" "$(echo "$elapsed / $epochs" | bc -l)" \
      "$(echo "$rss / 1024" | bc -l)" "$acc" >> "$tmp/report.md"
done
mv "$tmp/report.md" "$out"
cat "$out"
