#!/usr/bin/env bash
# npm run test:mutation [-- <stryker options>]: StrykerJS over the money and perimeter modules
# (stryker.config.mjs), then the per-module score floors (scripts/mutation-scores.ts).
# Incremental by default (tests/mutation/stryker-incremental.json); `-- --force` re-runs every mutant.
#
# The run gets a network namespace of its own where only loopback exists: a mutant of the URL guard
# must not be able to make a test connect anywhere else. Postgres and Redis are out of reach there,
# so their test variants skip; PGlite runs the SQL.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${MUTATION_IN_NETNS:-}" != "1" ]; then
  if ! unshare -rn true 2>/dev/null; then
    echo "test:mutation needs 'unshare -rn' (a user and network namespace) to cut the run off the network." >&2
    exit 1
  fi
  exec unshare -rn env MUTATION_IN_NETNS=1 "$0" "$@"
fi

ip link set lo up
unset TEST_DATABASE_URL TEST_REDIS_URL
export NEXT_TELEMETRY_DISABLED=1
nice -n "${MUTATION_NICE:-10}" npx stryker run "$@"
npx tsx scripts/mutation-scores.ts reports/mutation/mutation.json
