"""`kubectl apply -f` of a `kind: List` against a real API server: kubectl validates the items itself
against the protobuf `/openapi/v2` document (the server-side `fieldValidation` path is only taken
for kinds with a PATCH operation), so these fail if that document is missing or undecodable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from kinn.apiserver.negotiation import OPENAPI_V2_PROTOBUF

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "listed", "labels": {"from": "list"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "listed"}},
             "template": {"metadata": {"labels": {"app": "listed"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
}


def config_map(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"from": "list"}},
            "data": data}


def write_list(path: Path, *items: dict) -> str:
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)}))
    return str(path)


def names(apiserver, kind: str) -> list[str]:
    return apiserver.kubectl("get", kind, "-l", "from=list", "-o", "name").stdout.split()


def exchange(stderr: str, path: str) -> str:
    """The lines kubectl -v=8 logged for its request to `path`, up to its next request."""
    requests = re.split(r"\n(?=\S+ \S+ +\d+ round_trippers.go:\d+\] (?:GET|POST|PATCH|PUT|DELETE) https://)", stderr)
    return next(chunk for chunk in requests if path in chunk.partition("\n")[0])


def test_apply_a_list_creates_every_item(apiserver, tmp_path: Path):
    manifest = write_list(tmp_path / "list.yaml", config_map("one", a="1"), config_map("two", b="2"), DEPLOYMENT)
    applied = apiserver.kubectl("apply", "-f", manifest, "-v=6")
    assert applied.stdout == "configmap/one created\nconfigmap/two created\ndeployment.apps/listed created\n"
    assert re.search(r"GET https://\S+/openapi/v2\?timeout=\d+s 200 OK", applied.stderr)
    assert names(apiserver, "cm") == ["configmap/one", "configmap/two"]
    assert apiserver.kubectl("get", "deploy", "listed", "-o", "jsonpath={.spec.replicas}").stdout == "2"
    again = apiserver.kubectl("apply", "-f", manifest, "-v=8")
    assert again.stdout == "configmap/one unchanged\nconfigmap/two unchanged\ndeployment.apps/listed unchanged\n"
    # kubectl's HTTP cache revalidated with If-None-Match: the server's 304 is answered from the cache.
    assert "X-From-Cache: 1" in exchange(again.stderr, "/openapi/v2?")


def test_items_are_validated_by_kubectl_unless_validation_is_off(apiserver, tmp_path: Path):
    typo = json.loads(json.dumps(DEPLOYMENT).replace('"replicas"', '"replicaz"').replace("listed", "typo"))
    manifest = write_list(tmp_path / "typo.yaml", config_map("typo-cm", a="1"), typo)
    failed = apiserver.kubectl("apply", "-f", manifest, check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        f'error: error validating "{manifest}": error validating data: ValidationError(Deployment.spec): '
        'unknown field "replicaz" in io.k8s.api.apps.v1.DeploymentSpec; if you choose to ignore these errors, '
        "turn validation off with --validate=false\n")
    assert apiserver.kubectl("get", "cm", "typo-cm", check=False).returncode == 1  # nothing was sent

    wrong_type = json.loads(json.dumps(DEPLOYMENT).replace('"replicas": 2', '"replicas": "two"'))
    mistyped = write_list(tmp_path / "mistyped.yaml", wrong_type)
    assert apiserver.kubectl("apply", "-f", mistyped, check=False).stderr == (
        f'error: error validating "{mistyped}": error validating data: ValidationError(Deployment.spec.replicas): '
        'invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"; '
        "if you choose to ignore these errors, turn validation off with --validate=false\n")

    ignored = apiserver.kubectl("apply", "-f", manifest, "--validate=false")
    assert ignored.stdout == "configmap/typo-cm created\ndeployment.apps/typo created\n"
    assert apiserver.kubectl("get", "deploy", "typo", "-o", "jsonpath={.spec.replicas}").stdout == "1"


def test_get_as_yaml_applies_back(apiserver):
    """`kubectl get cm -o yaml | kubectl apply -f -`: the List kubectl prints is one it accepts."""
    for name in ("round-a", "round-b"):
        apiserver.kubectl("create", "configmap", name, "--from-literal=k=v")
        apiserver.kubectl("label", "cm", name, "round=trip")

    def get_yaml() -> str:
        return apiserver.kubectl("get", "cm", "-l", "round=trip", "-o", "yaml").stdout

    piped = apiserver.kubectl("apply", "-f", "-", input=get_yaml())
    assert piped.stdout == "configmap/round-a configured\nconfigmap/round-b configured\n"
    assert piped.stderr.count("is missing the kubectl.kubernetes.io/last-applied-configuration annotation") == 2

    listed = yaml.safe_load(get_yaml())
    assert listed["kind"] == "List" and len(listed["items"]) == 2
    for item in listed["items"]:
        item["data"]["k"] = "changed"
    applied = apiserver.kubectl("apply", "-f", "-", input=yaml.safe_dump(listed))
    assert applied.stdout == "configmap/round-a configured\nconfigmap/round-b configured\n"
    assert apiserver.kubectl("get", "cm", "-l", "round=trip", "-o",
                             "jsonpath={.items[*].data.k}").stdout == "changed changed"


def test_openapi_v2_negotiation_and_etag(apiserver):
    session = apiserver.session()
    url = apiserver.url + "/openapi/v2"
    as_json = session.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == 200 and as_json.headers["Content-Type"] == "application/json"
    assert as_json.json()["swagger"] == "2.0"
    etag = as_json.headers["ETag"]
    as_protobuf = session.get(url, headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    assert as_protobuf.headers["Content-Type"] == OPENAPI_V2_PROTOBUF
    assert as_protobuf.headers["ETag"] == etag and as_protobuf.headers["Vary"] == "Accept"
    assert as_protobuf.content[:5] == b"\n\x032.0"  # Document.swagger (field 1) = "2.0"
    cached = session.get(url, headers={"Accept": OPENAPI_V2_PROTOBUF, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert session.get(url, headers={"Accept": "text/html"}).status_code == 406
