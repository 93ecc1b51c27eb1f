#!/usr/bin/env bash
# Installs the console's npm packages (web/package-lock.json, pinned) into
# web/node_modules when they are missing or the lockfile changed. The build
# bundles them into the binary (web/build.mjs); the server never needs Node.
set -euo pipefail
cd "$(dirname "$0")/../web"
stamp=node_modules/.lock-installed
if [[ -f "$stamp" ]] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
echo "installing the console's npm packages (web/package-lock.json)" >&2
npm ci --no-audit --no-fund --loglevel=error >/dev/null
cp package-lock.json "$stamp"
