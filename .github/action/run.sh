#!/usr/bin/env bash
# The action's run step: rendorix INPUT_COMMAND [INPUT_SITE] --config INPUT_CONFIG INPUT_ARGS
# (`merge`: rendorix manifest merge --config INPUT_CONFIG INPUT_ARGS),
# with RENDORIX_KEYS from the `keys` input. Its exit status is the step's.
set -euo pipefail
case "${INPUT_COMMAND:-}" in
  sign | resign | check)
    args=("$INPUT_COMMAND")
    [ -z "${INPUT_SITE:-}" ] || args+=("$INPUT_SITE")
    ;;
  merge) args=(manifest merge) ;; # the parts of a sharded run (docs/scale.md)
  *) echo "::error::the rendorix action runs sign, resign, check or merge, not \"${INPUT_COMMAND:-}\"" >&2; exit 2 ;;
esac
args+=(--config "${INPUT_CONFIG:-rendorix.toml}")
# The extra arguments are split on spaces; a value with spaces needs a config key instead.
read -r -a extra <<< "${INPUT_ARGS:-}"
args+=("${extra[@]}")
[ -n "${RENDORIX_KEYS:-}" ] || unset RENDORIX_KEYS
exec "${RENDORIX_BINARY:-rendorix}" "${args[@]}"
