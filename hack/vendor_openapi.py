#!/usr/bin/env python3
"""Extract the schema definitions kinn serves from the official Kubernetes OpenAPI v2 document.

kinn's schemas are the upstream ones, not a re-typing of them: the definitions reachable from every
kind in `kinn.api.resources` (plus the meta types the API edge returns) are copied into
`src/kinn/api/openapi/definitions.json`. Rerun after adding a resource:

    python3 hack/vendor_openapi.py ../shared/reference/kubernetes-openapi-v2.json
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kinn.api.resources import RESOURCES  # noqa: E402

EXTRA_KINDS = [
    ("", "v1", "Status"), ("", "v1", "DeleteOptions"), ("autoscaling", "v1", "Scale"),
    ("policy", "v1", "Eviction"), ("", "v1", "Binding"), ("", "v1", "APIResourceList"),
    ("", "v1", "List"),
]


def main(source: str) -> None:
    doc = json.loads(Path(source).read_text())
    defs = doc["definitions"]
    by_gvk: dict[tuple[str, str, str], str] = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            by_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    roots = []
    for r in RESOURCES:
        for kind in (r.kind, r.list_kind):
            if (r.group, r.version, kind) in by_gvk:
                roots.append(by_gvk[(r.group, r.version, kind)])
    for gvk in EXTRA_KINDS:
        if gvk in by_gvk:
            roots.append(by_gvk[gvk])
    keep: dict[str, dict] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep[name] = defs[name]
        stack.extend(_refs(defs[name]))
    out = ROOT / "src/kinn/api/openapi/definitions.json"
    out.write_text(json.dumps({"definitions": dict(sorted(keep.items()))}, separators=(",", ":"), sort_keys=True))
    print(f"{len(keep)} definitions -> {out} ({out.stat().st_size} bytes)")


def _refs(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            found.append(ref[len("#/definitions/"):])
        for value in node.values():
            found.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs(value))
    return found


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared/reference/kubernetes-openapi-v2.json"))
