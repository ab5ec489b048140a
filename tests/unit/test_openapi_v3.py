"""OpenAPI v3 documents: the shapes kubectl's field-validation check and `explain` rely on."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kinn.api.openapi.v3 import openapi_v3_document, openapi_v3_hash, openapi_v3_index
from kinn.api.resources import TABLE


def _doc(path: str) -> dict[str, Any]:
    body = openapi_v3_document(path)
    assert body is not None
    return json.loads(body)


def test_index_lists_every_group_version_with_its_content_hash() -> None:
    paths = openapi_v3_index()["paths"]
    expected = {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in TABLE.group_versions()}
    assert set(paths) == expected
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    digest = hashlib.sha512(openapi_v3_document("apis/apps/v1") or b"").hexdigest().upper()
    assert url == f"/openapi/v3/apis/apps/v1?hash={digest}"
    assert openapi_v3_hash("/apis/apps/v1") == digest


def test_unknown_document_is_none() -> None:
    assert openapi_v3_document("apis/nope/v1") is None


def test_documents_are_cached_bytes() -> None:
    assert openapi_v3_document("api/v1") is openapi_v3_document("api/v1")


def test_patch_operation_carries_gvk_and_field_validation() -> None:
    """What kubectl's QueryParamVerifierV3 looks for before sending fieldValidation=Strict."""
    item = _doc("apis/apps/v1")["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item["patch"]
    assert patch["operationId"] == "patchAppsV1NamespacedDeployment"
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    assert [p["name"] for p in patch["parameters"]] == ["dryRun", "fieldManager", "fieldValidation", "force"]
    assert all(p["in"] == "query" for p in patch["parameters"])
    assert set(patch["requestBody"]["content"]) == {
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json"}
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}


def test_collection_operations() -> None:
    item = _doc("apis/apps/v1")["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert item["get"]["operationId"] == "listAppsV1NamespacedDeployment"
    assert item["post"]["x-kubernetes-action"] == "post"
    assert item["post"]["description"] == "create a Deployment"
    assert item["post"]["requestBody"] == {
        "content": {"*/*": {"schema": {"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}}},
        "required": True}
    assert item["delete"]["operationId"] == "deleteAppsV1CollectionNamespacedDeployment"
    assert item["delete"]["x-kubernetes-action"] == "deletecollection"
    created = item["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"}


def test_subresources_and_watch_paths() -> None:
    paths = _doc("apis/apps/v1")["paths"]
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["put"]
    assert scale["operationId"] == "replaceAppsV1NamespacedDeploymentScale"
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]["get"]["description"] == (
        "read status of the specified Deployment")
    assert paths["/apis/apps/v1/deployments"]["get"]["operationId"] == "listAppsV1DeploymentForAllNamespaces"
    assert paths["/apis/apps/v1/watch/namespaces/{namespace}/deployments"]["get"]["x-kubernetes-action"] == "watchlist"
    assert paths["/apis/apps/v1/"]["get"]["operationId"] == "getAppsV1APIResources"


def test_core_subresources() -> None:
    paths = _doc("api/v1")["paths"]
    pod = "/api/v1/namespaces/{namespace}/pods/{name}"
    assert paths[pod + "/eviction"]["post"]["x-kubernetes-group-version-kind"]["kind"] == "Eviction"
    assert paths[pod + "/binding"]["post"]["operationId"] == "createCoreV1NamespacedPodBinding"
    assert paths[pod + "/exec"]["get"]["operationId"] == "connectCoreV1GetNamespacedPodExec"
    assert paths[pod + "/proxy/{path}"]["head"]["operationId"] == "connectCoreV1HeadNamespacedPodProxyWithPath"
    assert paths[pod + "/log"]["get"]["operationId"] == "readCoreV1NamespacedPodLog"
    assert paths["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"] == "replaceCoreV1NamespaceFinalize"
    assert paths["/api/v1/namespaces/{namespace}/endpoints"]["post"]["description"] == "create Endpoints"
    assert paths["/api/v1/namespaces/{namespace}/events"]["post"]["description"] == "create an Event"
    # Pods hand the deleted object back (graceful deletion); ConfigMaps answer with a Status.
    assert paths[pod]["delete"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(".Pod")
    configmap = paths["/api/v1/namespaces/{namespace}/configmaps/{name}"]["delete"]["responses"]["200"]
    assert configmap["content"]["application/json"]["schema"]["$ref"].endswith("meta.v1.Status")
    assert "watch" not in json.dumps(paths["/api/v1/namespaces/{namespace}/bindings"])


def test_every_reference_resolves_within_the_document() -> None:
    for path in openapi_v3_index()["paths"]:
        body = openapi_v3_document(path) or b""
        doc = json.loads(body)
        names = set(doc["components"]["schemas"])
        refs = {ref.rpartition("/")[2] for ref in _refs(doc)}
        assert refs <= names, (path, refs - names)
        assert b"#/definitions/" not in body


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_schemas_are_in_v3_style() -> None:
    schemas = _doc("apis/apps/v1")["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["metadata"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}],
        "default": {},
        "description": "Standard object's metadata. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    }
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}],
                                   "default": {}}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    condition = schemas["io.k8s.api.apps.v1.DeploymentCondition"]["properties"]
    assert condition["type"]["default"] == ""
    assert "default" not in condition["message"]
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Patch"]["type"] == "object"
