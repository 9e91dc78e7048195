#!/usr/bin/env bash
# Constant-time check: shroud's secret-dependent operations under valgrind memcheck with
# the secrets marked undefined must produce no error, and two deliberately variable-time
# controls must be caught. Run from the repository root; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release --quiet
bin=target/release/shroud-ct
log=$(mktemp)
trap 'rm -f "$log"' EXIT
vg=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --log-file="$log")

if "${vg[@]}" "$bin" check; then
  echo "ct: shroud's secret-dependent operations: no secret-dependent branch or index"
else
  cat "$log"
  echo "ct: FAILED: memcheck found secret-dependent control flow or memory access (log above)"
  exit 1
fi

for control in negative-modpow negative-branch; do
  if "${vg[@]}" "$bin" "$control"; then
    cat "$log"
    echo "ct: FAILED: the harness did not catch the leak in control '$control'"
    exit 1
  fi
  case $control in
    negative-modpow) want='power::modpow' ;;
    negative-branch) want='negative_branch' ;;
  esac
  if ! grep -q "$want" "$log"; then
    cat "$log"
    echo "ct: FAILED: control '$control' reported errors, but not in $want"
    exit 1
  fi
  echo "ct: control '$control' caught as expected ($(grep -c 'depends on uninitialised' "$log") reports)"
done
