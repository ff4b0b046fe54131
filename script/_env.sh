# Shared paths for the scripts in this folder; sourced, not run.
# shellcheck shell=bash
CACHE="$ROOT/.cache"
FORKY="$CACHE/forky"
# Where the checkout appears inside the forky root.
IN_ROOT_CHECKOUT=/stroomwijs
