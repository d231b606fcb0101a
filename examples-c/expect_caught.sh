#!/usr/bin/env bash
# Runs a command that a memory checker must catch: it passes only when the
# command fails and its output matches PATTERN.
# usage: expect_caught.sh PATTERN COMMAND...
set -uo pipefail
pattern=$1; shift
out=$("$@" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -qE -- "$pattern" <<<"$out"; then
  echo "caught, as it must be (exit $rc, output matches '$pattern')"
  exit 0
fi
echo "NOT caught: exit $rc, want non-zero and output matching '$pattern'; output:"
echo "$out"
exit 1
