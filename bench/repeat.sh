#!/usr/bin/env bash
# Measurement reproducibility: measures the same whole models twice, back to back, each time
# into a fresh store, then compares the two with bench/drift.sh --now. The share of models
# whose two medians agree within +-10% is a ceiling for any predictor's +-10% accuracy judged
# against one measurement on this machine; --launches shows what pooling fresh worker
# processes (the harness's `launches`) buys against it, at that many times the measuring time.
#
# usage: bash bench/repeat.sh [-n N] [--seed S] [--spaces S1,S2,...] [--launches L]
#                             [--out DIR] PLATFORM...
#   -n N          models per space (default 10)
#   --seed S      model sampling seed (default 11, the evaluate pipelines' seed)
#   --spaces      spaces (default every space; models the engine cannot run are skipped)
#   --launches L  measure with L pooled launches instead of the platform file's setting
#   --out DIR     results directory (default bench/results/repeat, + -lL with --launches):
#                 summary.md (the drift table: now = second pass, stored = first pass),
#                 litepred.db.first / litepred.db.second (the two stores), raw/ratios.tsv
#                 (per model: first and second median), raw/measure.log
set -euo pipefail
bench_name=repeat
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

count=10 seed=11 launches= out=
spaces=ofa-mbv3-w1.0,ofa-proxyless,ofa-resnet,bignas,fbnetv3,autoformer-tiny
bench_extra_opt() {
    case $1 in
    --launches) [ $# -ge 2 ] || bench_die "--launches needs a number"; launches=$2; bench_took=2 ;;
    esac
}
bench_parse_run_args -n - "$@"
case $launches in '') ;; *[!0-9]*|0) bench_die "--launches needs a positive integer, not '$launches'" ;; esac
[ ${#platforms[@]} -gt 0 ] || bench_die "no PLATFORM given (see --help)"
bench_check_platforms "${platforms[@]}"
IFS=, read -r -a space_list <<<"$spaces"
bench_need_tools
[ -n "$out" ] || out=bench/results/repeat${launches:+-l$launches}
case $out in /*) ;; *) out=$bench_root/$out ;; esac

bench_begin_run "$out"
rm -f "$out"/litepred.db.first* "$out"/litepred.db.second*

# The platform file to measure with: the shipped one, or a copy with `launches` set (same
# platform name, so the two passes and drift.sh's join see one platform).
platform_file() { # platform
    local src=configs/platforms/$1.yaml dst=$work/$1.yaml
    if [ -z "$launches" ]; then echo "$bench_root/$src"; return; fi
    grep -q '^harness:' "$src" || bench_die "$src has no harness: block"
    sed -e '/^  launches:/d' -e "/^harness:/a\\  launches: $launches" "$src" >"$dst"
    echo "$dst"
}

for pass in first second; do
    for p in "${platforms[@]}"; do
        pf=$(platform_file "$p")
        for s in "${space_list[@]}"; do
            bench_note "pass $pass: $p $s: $count models${launches:+, $launches launches}"
            bench_measure "$out/raw/measure.log" --platform "$pf" --db "$out/litepred.db.$pass" \
                --space "$s" -n "$count" --seed "$seed"
        done
    done
done

bash "$bench_root/bench/drift.sh" --store "$out/litepred.db.first" --now "$out/litepred.db.second" \
    --spaces "$spaces" --out "$work/drift" "${platforms[@]}" >/dev/null
cp "$work/drift/raw/ratios.tsv" "$out/raw/ratios.tsv"
bench_header "$out/summary.md" "Repeatability: the same models measured twice, back to back"
{
    echo
    echo "now / stored = second pass / first pass; each pass measured every platform and space once."
    sed -n '/^| platform/,$p' "$work/drift/summary.md"
    if [ -s "$bench_failures" ]; then echo; echo "Launch failures:"; sed 's/^/    /' "$bench_failures"; fi
} >>"$out/summary.md"
cat "$out/summary.md"
