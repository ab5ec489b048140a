"""The patch formats the API server's PATCH handler accepts.

- `json_patch`: `application/json-patch+json` (RFC 6902)
- `merge_patch`: `application/merge-patch+json` (RFC 7386)
- `strategic`: `application/strategic-merge-patch+json`
- `apply` (+ `managed_fields`): `application/apply-patch+yaml` and managedFields tracking
"""
