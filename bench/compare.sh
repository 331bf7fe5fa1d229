#!/usr/bin/env bash
# The headline comparison (issue 7): LitePred adaptation vs nn-Meter built from scratch, at
# the same target budgets. Same options as bench/ablation.sh (see its --help).
exec bash "$(dirname "$0")/ablation.sh" compare "$@"
