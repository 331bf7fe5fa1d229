#!/usr/bin/env bash
# Engine benchmark (issue 4, benchmark 1): the median latency of a FIXED set of
# kernel configs (2-3 representative ones per kernel type) on every platform
# (or the platforms named as arguments). Each config is measured in its own
# process launch, R times (R separate stores); a cell is the median over the R
# launches of the harness median. Kernels an engine cannot run (operator
# fallback) show as "unsupported".
#
# usage: bash bench/engines.sh [--repeats R] [--quick] [--out DIR] [PLATFORM...]
#   --repeats R  launches per (platform, config) (default 3)
#   --quick      R = 1
#   --out DIR    results directory (default bench/results/engines, or engines-quick)
#   PLATFORM     names from configs/platforms/ (default: all 12)
# env: LITEPRED  the litepred binary (default build/bin/litepred)
set -euo pipefail
bench_name=engines
bench_argv=("$@")
source "$(dirname "$0")/common.sh"
bench_cmdline=$(bench_cmdline_of "$0" "${bench_argv[@]}")

repeats=3
out=
quick=0
platforms=()
while [ $# -gt 0 ]; do
    case $1 in
    --repeats) repeats=${2:?--repeats needs a number}; shift 2 ;;
    --quick) quick=1; repeats=1; shift ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) bench_usage "$0"; exit 0 ;;
    -*) bench_die "unknown option '$1' (see --help)" ;;
    *) platforms+=("$1"); shift ;;
    esac
done
case $repeats in ''|*[!0-9]*|0) bench_die "--repeats needs a positive integer" ;; esac
[ ${#platforms[@]} -gt 0 ] || mapfile -t platforms < <(bench_all_platforms)
bench_check_platforms "${platforms[@]}"
if [ -z "$out" ]; then out=bench/results/engines; [ $quick = 0 ] || out+=-quick; fi
bench_need_tools

# label|kernel type|config. AutoFormer-Tiny shapes: N=197 tokens, E=192, H=3, D=64, MLP 4x.
configs=$(cat <<'EOF'
conv 3x3 56x56 32->64 s1 relu|conv-bn-relu|hw=56,cin=32,cout=64,k=3,s=1,act=relu
conv 3x3 224x224 3->16 s2 hswish (stem)|conv-bn-relu|hw=224,cin=3,cout=16,k=3,s=2,act=hswish
conv 1x1 28x28 64->192 relu|conv-bn-relu|hw=28,cin=64,cout=192,k=1,s=1,act=relu
conv 1x1 14x14 480->112 none|conv-bn-relu|hw=14,cin=480,cout=112,k=1,s=1,act=none
dwconv 5x5 s2 56x56 C=96 relu|dwconv-bn-relu|hw=56,cin=96,k=5,s=2,act=relu
dwconv 3x3 s1 28x28 C=144 relu|dwconv-bn-relu|hw=28,cin=144,k=3,s=1,act=relu
dwconv 7x7 s1 14x14 C=480 hswish|dwconv-bn-relu|hw=14,cin=480,k=7,s=1,act=hswish
fc 1280->1000|fc|cin=1280,cout=1000
fc 960->1280|fc|cin=960,cout=1280
se 28x28 C=72 cse=24 relu|se|hw=28,c=72,cse=24,act=relu
se 14x14 C=480 cse=120 relu|se|hw=14,c=480,cse=120,act=relu
add 28x28 C=40 (nhwc)|add|hw=28,c=40,act=none,layout=nhwc
add 56x56 C=256 relu (nhwc)|add|hw=56,c=256,act=relu,layout=nhwc
add 197x192 (tokens)|add|hw=197,c=192,act=none,layout=tokens
maxpool 3x3 s2 112x112 C=64|maxpool|hw=112,cin=64,k=3,s=2
avgpool 2x2 s2 56x56 C=256|avgpool|hw=56,cin=256,k=2,s=2
global-avgpool 7x7 C=960|global-avgpool|hw=7,c=960
hswish 14x14 C=480|hswish|hw=14,c=480
swish 28x28 C=192|swish|hw=28,c=192
layernorm N=197 E=192|layernorm|n=197,c=192
linear N=197 192->576 (qkv)|linear|n=197,cin=192,cout=576
linear N=197 192->768 (mlp up)|linear|n=197,cin=192,cout=768
linear N=197 768->192 (mlp down)|linear|n=197,cin=768,cout=192
mhsa N=197 E=192 H=3 D=64|mhsa|n=197,e=192,h=3,d=64
gelu N=197 C=768|gelu|n=197,c=768
EOF
)

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=$work/status   # repeat|platform|type|config|state|message
: >"$status"
bench_mark_start
n_cfg=$(printf '%s\n' "$configs" | wc -l)
bench_note "engines: ${#platforms[@]} platforms x $n_cfg configs x $repeats launches"

for ((r = 1; r <= repeats; r++)); do
    for p in "${platforms[@]}"; do
        bench_note "repeat $r/$repeats: $p"
        while IFS='|' read -r label type cfg; do
            line=$(lp --quiet measure --platform "$p" --db "$work/r$r.db" --kernel "$type" \
                --config "$cfg" 2>"$work/err" | awk 'NR == 2') || true
            case $line in
            *FAILED:*)
                msg=${line#*FAILED: }
                case $msg in *"not supported"*|*unsupported*|*"not available"*|*" variant "*) st=unsupported ;; *) st=failed ;; esac
                ;;
            *measured*|*stored*) st=ok; msg= ;;
            *) st=failed; msg=$(tr '\n' ' ' <"$work/err") ;;
            esac
            printf '%s|%s|%s|%s|%s|%s\n' "$r" "$p" "$type" "$cfg" "$st" "$msg" >>"$status"
        done <<<"$configs"
    done
    # raw CSV, one per launch round; the first column says which
    lp store export "$work/r$r.db" --csv --out "$work/r$r.csv"
    if [ "$r" = 1 ]; then
        sed '1s/^/repeat,/; 2,$s/^/1,/' "$work/r1.csv" >"$work/raw.csv"
    else
        sed "1d; s/^/$r,/" "$work/r$r.csv" >>"$work/raw.csv"
    fi
    sqlite3 -separator '|' "$work/r$r.db" \
        "SELECT $r, p.name, k.kernel_type, k.config, k.median_ms
         FROM kernel_measurements k JOIN platforms p ON p.id = k.platform_id" >>"$work/medians"
done
cp "$work/raw.csv" "$out/raw.csv"
cp "$status" "$out/status.txt"

# ---- summary -------------------------------------------------------------------------
summary=$out/summary.md
bench_header "$summary" "Engine benchmark: median latency (ms) per platform and kernel config"
{
    echo "- launches per cell: $repeats (each config in its own process launch; cell = median over launches of the harness median)"
    echo "- harness settings: those of each platform file (configs/platforms/)"
    echo
    printf '%s\n' "$configs" | awk -F'|' -v plist="${platforms[*]}" \
        -v medf="$work/medians" -v stf="$status" '
    function med(s,    a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(x) { return x < 0.1 ? sprintf("%.4f", x) : x < 10 ? sprintf("%.3f", x) : sprintf("%.2f", x) }
    BEGIN {
        np = split(plist, P, " ")
        while ((getline l < medf) > 0) {
            split(l, f, "|"); key = f[2] SUBSEP f[3] SUBSEP f[4]
            v[key] = (key in v) ? v[key] " " f[5] : f[5]
            if (!(key in lo) || f[5] < lo[key]) lo[key] = f[5]
            if (!(key in hi) || f[5] > hi[key]) hi[key] = f[5]
        }
        while ((getline l < stf) > 0) {
            split(l, f, "|"); key = f[2] SUBSEP f[3] SUBSEP f[4]
            if (f[5] != "ok") st[key] = f[5]
        }
        printf "| kernel | config |"; for (i = 1; i <= np; i++) printf " %s |", P[i]; printf "\n"
        printf "|---|---|"; for (i = 1; i <= np; i++) printf "---:|"; printf "\n"
    }
    {
        printf "| %s | `%s` |", $1, $3
        for (i = 1; i <= np; i++) {
            key = P[i] SUBSEP $2 SUBSEP $3
            if (key in v) {
                m = med(v[key]); printf " %s |", fmt(m)
                if (m > 0) { d = (hi[key] - lo[key]) / lo[key]; sp[i] = sp[i] " " d; if (d > wmax[i]) wmax[i] = d }
            } else if (key in st) printf " %s |", st[key]
            else printf " - |"
        }
        printf "\n"
    }
    END {
        print ""
        print "Between-launch spread, (max - min) / min over the launches of a cell (0 with one launch):"
        print ""
        printf "| | "; for (i = 1; i <= np; i++) printf "%s | ", P[i]; printf "\n"
        printf "|---|"; for (i = 1; i <= np; i++) printf "---:|"; printf "\n"
        printf "| median over configs |"; for (i = 1; i <= np; i++) printf " %s |", (sp[i] == "" ? "-" : sprintf("%.1f%%", 100 * med(sp[i]))); printf "\n"
        printf "| max over configs |"; for (i = 1; i <= np; i++) printf " %s |", (sp[i] == "" ? "-" : sprintf("%.1f%%", 100 * wmax[i])); printf "\n"
    }'
    echo
    nfail=$(awk -F'|' '$5 == "failed"' "$status" | wc -l)
    if [ "$nfail" -gt 0 ]; then
        echo "Failures other than unsupported operators ($nfail):"
        echo
        awk -F'|' '$5 == "failed" { printf "- %s %s `%s` (launch %s): %s\n", $2, $3, $4, $1, $6 }' "$status" | sort -u | head -40
        echo
    fi
    echo "Unsupported (operator fallback: the engine has no primitive for it):"
    echo
    awk -F'|' '$1 == 1 && $5 == "unsupported" { m = $6; if (length(m) > 160) m = substr(m, 1, 157) "..."; printf "- %s: %s `%s`: %s\n", $2, $3, $4, m }' "$status"
    echo
    echo "Raw measurements: raw.csv (litepred store export, first column = launch round); status.txt (per launch: ok/unsupported/failed)."
} >>"$summary"
bench_note "wrote $summary"
cat "$summary"
