#!/usr/bin/env bash
# Bring up kinn and show it working with the real kubectl. Today that is the API server alone;
# the scheduler, controllers and nodes join it as they are built.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/hack/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/hack/demo.py" "$@"
