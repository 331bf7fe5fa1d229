# shellcheck shell=bash disable=SC2154
# Shared helpers for the engine benchmarks (sourced by bench/*.sh, not run alone).
# Provides: repo root, the litepred binary, sqlite3 on demand, the run header
# (command line, date, machine, load) and small formatting helpers.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$bench_root/bench/lib.sh"
cd "$bench_root" || exit 2

# The litepred binary: $LITEPRED, else build/bin/litepred (what scripts/main.sh builds).
LITEPRED_WAS_SET=${LITEPRED:-}
LITEPRED=${LITEPRED:-build/bin/litepred}
case $LITEPRED in /*) ;; *) LITEPRED=$bench_root/$LITEPRED ;; esac

bench_die() { echo "$bench_name: $*" >&2; exit 2; }

# Dies unless $LITEPRED is an executable, saying how to get one.
bench_need_litepred() {
    [ -x "$LITEPRED" ] || bench_die "no litepred binary at $LITEPRED (run 'bash scripts/main.sh', or set LITEPRED)"
}

# Installs sqlite3 (the CLI; the library is a build dependency) only if missing.
bench_need_tools() {
    bench_need_litepred
    command -v awk >/dev/null || bench_die "awk is required"
    if ! command -v sqlite3 >/dev/null; then
        echo "$bench_name: installing sqlite3" >&2
        if [ "$(id -u)" = 0 ]; then
            apt-get update >&2 && apt-get install -y sqlite3 >&2
        else
            sudo apt-get update >&2 && sudo apt-get install -y sqlite3 >&2
        fi
        command -v sqlite3 >/dev/null || bench_die "could not install sqlite3"
    fi
}

lp() { "$LITEPRED" "$@"; }

# Every platform name in configs/platforms/, sorted.
bench_all_platforms() {
    local f
    for f in configs/platforms/*.yaml; do basename "$f" .yaml; done | sort
}

# The threads setting of a platform file (1 when absent).
bench_platform_threads() {
    awk '/^[ \t]+threads:/ { print $2; found = 1; exit } END { if (!found) print 1 }' \
        "configs/platforms/$1.yaml"
}

bench_check_platforms() {
    local p
    for p in "$@"; do
        [ -f "configs/platforms/$p.yaml" ] || bench_die "unknown platform '$p' (see configs/platforms/)"
    done
}

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

bench_cpu_model() {
    awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo
}

# The build type of the binary's build tree, when it has one.
bench_build_type() {
    local cache
    cache=$(dirname "$LITEPRED")/../CMakeCache.txt
    if [ -f "$cache" ]; then
        awk -F= '/^CMAKE_BUILD_TYPE:/ { print ($2 == "" ? "(none)" : $2); exit }' "$cache"
    else
        echo unknown
    fi
}

# Writes the summary header: the exact command line, date, machine, load before.
# Usage: bench_header FILE TITLE; the caller sets bench_cmdline and load_before.
bench_header() {
    local out=$1 title=$2
    {
        echo "# $title"
        echo
        echo '```'
        echo "$bench_cmdline"
        echo '```'
        echo
        echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC') (finished)"
        echo "- started: $bench_started"
        echo "- machine: $(bench_cpu_model), $(nproc) CPUs online, $(uname -r)"
        echo "- litepred: $LITEPRED (build type $(bench_build_type))"
        echo "- load average (1/5/15 min) before: $load_before; after: $(bench_loadavg)"
    } >"$out"
}

# Quotes the current command line for display: bench_cmdline_of "$0" "$@".
bench_cmdline_of() {
    local s="" a
    [ "${LITEPRED_WAS_SET:-}" ] && s="LITEPRED=$LITEPRED_WAS_SET "
    s+="bash bench/$(basename "$1")"
    shift
    for a in "$@"; do
        case $a in *[!A-Za-z0-9_./=:,+-]*|'') s+=" '${a//\'/\'\\\'\'}'" ;; *) s+=" $a" ;; esac
    done
    echo "$s"
}

# Writes a load-average line to a log while a long job runs (also shown on stderr).
bench_note() { echo "[$(date -u +%H:%M:%S) load $(bench_loadavg)] $*" >&2; }

# Runs one `litepred measure ...` launch, appending its table to LOG. Exit status 1
# with only "N of M jobs failed" on stderr means unsupported jobs (not an error);
# anything else (a crash, a store error) is recorded in $bench_failures with the
# exit status and stderr, and the launch is retried once (the store resumes: what
# the failed launch stored is kept).
# Usage: bench_measure LOG ARGS...
bench_measure() {
    local log=$1 try rc errf
    shift
    errf=$(mktemp)
    for try in 1 2; do
        rc=0
        lp --quiet measure "$@" >>"$log" 2>"$errf" || rc=$?
        if [ $rc = 0 ] || { [ $rc = 1 ] && ! grep -qv 'jobs failed on' "$errf"; }; then
            break
        fi
        printf 'launch %d of: litepred measure %s: exit %d: %s\n' "$try" "$*" "$rc" \
            "$(tr '\n' ' ' <"$errf" | cut -c1-300)" >>"$bench_failures"
    done
    rm -f "$errf"
}

# The options of the measuring benchmarks: FLAG N (a count, into $count), --quick (count =
# QUICK, quick=1; QUICK "-": no --quick), --seed S, --spaces L, --out DIR, -h, and platform
# names (into platforms). The caller sets the defaults of count, seed, spaces and out first.
# A script with more options defines bench_extra_opt, called with the remaining words when
# an option is not one of these: it sets what it knows and bench_took to the number of
# words it used (left 0: an unknown option).
# Usage: bench_parse_run_args FLAG QUICK "$@"
bench_parse_run_args() {
    local flag=$1 quick_count=$2
    shift 2
    quick=0
    platforms=()
    while [ $# -gt 0 ]; do
        case $1 in
        "$flag") count=${2:-}; shift 2 || bench_die "$flag needs a number" ;;
        --quick) [ "$quick_count" != - ] || bench_die "unknown option '$1' (see --help)"
                 quick=1; count=$quick_count; shift ;;
        --seed) seed=${2:-}; shift 2 || bench_die "--seed needs a number" ;;
        --spaces) spaces=${2:-}; shift 2 || bench_die "--spaces needs a list" ;;
        --out) out=${2:-}; shift 2 || bench_die "--out needs a directory" ;;
        -h|--help) bench_usage "$0"; exit 0 ;;
        -*) bench_took=0
            ! declare -F bench_extra_opt >/dev/null || bench_extra_opt "$@"
            [ "$bench_took" -gt 0 ] || bench_die "unknown option '$1' (see --help)"
            shift "$bench_took" ;;
        *) platforms+=("$1"); shift ;;
        esac
    done
    case $count in ''|*[!0-9]*|0) bench_die "$flag needs a positive integer" ;; esac
    case $seed in ''|*[!0-9]*) bench_die "--seed needs a non-negative integer" ;; esac
}

# Start of a measuring run: OUT/raw emptied of CSVs, a scratch dir in $work (removed on
# exit), an empty $bench_failures, and the load and start time that bench_header prints.
bench_begin_run() {
    mkdir -p "$1/raw"
    rm -f "$1"/raw/*.csv
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    bench_failures=$work/failures
    : >"$bench_failures"
    bench_mark_start
}

# Records the load and start time that bench_header prints (load_before, bench_started).
bench_mark_start() {
    load_before=$(bench_loadavg)
    bench_started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
}
