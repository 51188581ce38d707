#!/usr/bin/env bash
# Checks that every tracked C++/CUDA source is formatted with the committed .clang-format (clang-format 14, Debian
# 12's). With --fix, formats them in place. Boost.Program_options tables are kept as written (clang-format off).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' '*.inc' ':!:tests/reliability/regressions/**')
if [[ "${1:-}" == "--fix" ]]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run -Werror "${files[@]}" 2> format.log; then
  grep -m 20 "error:" format.log >&2 || true
  echo "check-format: $(grep -c 'error:' format.log) places differ from .clang-format; run scripts/check-format.sh --fix" >&2
  rm -f format.log
  exit 1
fi
rm -f format.log
echo "check-format: ${#files[@]} files match .clang-format"
