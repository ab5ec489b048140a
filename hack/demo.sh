#!/usr/bin/env bash
# Bring up a kinn cluster (`kinn up`: real nodes of namespaces) and show it working with the real kubectl,
# then behind the scenes with ip, bridge and conntrack inside the nodes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/hack/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/hack/demo.py" "$@"
