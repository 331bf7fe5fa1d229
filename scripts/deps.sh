#!/usr/bin/env bash
# Installs litepred's build, run and test dependencies from Debian 12's registry.
# Skips apt entirely when everything is already installed (fast re-runs, CI reruns).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libyaml-dev libsqlite3-dev libopenblas-dev libblis-dev
  libcriterion-dev libdnnl-dev
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
  gnuplot-nox  # `litepred report` draws its PNG plots with gnuplot
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages already installed"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
