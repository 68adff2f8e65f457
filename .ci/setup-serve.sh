#!/usr/bin/env bash
# The MCP client that the tests of moat mcp and moat serve drive: node,
# npm and the TypeScript SDK (@modelcontextprotocol/sdk) at the version of
# server/testdata/mcp-client/package-lock.json. Idempotent; quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi
dir=server/testdata/mcp-client
lock=$dir/package-lock.json
stamp=$dir/node_modules/.moat-lock.sha256
sum=$(sha256sum "$lock" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$sum" > "$stamp"
fi
