"""The real kubectl against a throwaway stub server serving kinn's OpenAPI v3 documents.

kubectl's `create -f` only sends `fieldValidation=Strict` (leaving field checks to the server) when
the v3 document of the object's group-version has a PATCH operation for its kind with that
parameter; otherwise it falls back to `/openapi/v2`, which this stub does not serve, and fails. The stub
decodes POST bodies with `kinn.api.decoding`, so this also shows kubectl printing the server's
strict-decoding error and warnings as it does against a real cluster. `kubectl explain` reads the
schemas.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from kinn.api.decoding import check_fields, decode_object, warning_header
from kinn.api.errors import StatusError
from kinn.api.openapi.v3 import openapi_v3_document, openapi_v3_index
from kinn.api.resources import TABLE, split_api_version

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kinn", "platform": "linux/amd64"}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
"""


def _resource_list(group: str, version: str) -> dict[str, Any]:
    """Legacy discovery (an APIResourceList): all kubectl's REST mapper needs."""
    resources = []
    for r in TABLE.in_group_version(group, version):
        resources.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                          "verbs": list(r.verbs), "shortNames": list(r.short_names)})
        resources += [{"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": r.kind,
                       "verbs": ["get", "patch", "update"]} for sub in r.subresources]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"),
            "resources": resources}


def _group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for group, version in TABLE.group_versions():
        if group:
            groups.setdefault(group, []).append(version)
    items = []
    for group, versions in groups.items():
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        items.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": items}


def _json(payload: Any) -> Any:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(payload() if callable(payload) else payload)
    return handler


class StubServer:
    """Serves /version, legacy discovery, /openapi/v3 and creates by decoding the body."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/version", _json(VERSION))
        app.router.add_get("/api", _json({"kind": "APIVersions", "versions": ["v1"]}))
        app.router.add_get("/apis", _json(_group_list))
        app.router.add_get("/api/v1", _json(_resource_list("", "v1")))
        app.router.add_get("/apis/{group}/{version}", self.group_version)
        app.router.add_get("/openapi/v3", _json(openapi_v3_index))
        app.router.add_get("/openapi/v3/{path:.*}", self.openapi)
        app.router.add_post("/{path:.*}", self.create)
        return app

    async def group_version(self, request: web.Request) -> web.Response:
        return web.json_response(_resource_list(request.match_info["group"], request.match_info["version"]))

    async def openapi(self, request: web.Request) -> web.Response:
        body = openapi_v3_document(request.match_info["path"])
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/json")

    async def create(self, request: web.Request) -> web.Response:
        try:
            obj = decode_object(await request.read(), request.content_type)
            group, version = split_api_version(obj.get("apiVersion", ""))
            mode = request.query.get("fieldValidation") or "Warn"
            warnings = check_fields(obj, group, version, obj.get("kind", ""), mode)  # type: ignore[arg-type]
        except StatusError as err:
            return web.json_response(err.status(), status=err.code)
        self.posts.append((request.path_qs, dict(obj)))
        headers = [("Warning", warning_header(w)) for w in warnings]
        response = web.json_response(obj, status=201)
        for name, value in headers:
            response.headers.add(name, value)
        return response


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[StubServer, str]]:
    stub = StubServer()
    runner = web.AppRunner(stub.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield stub, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def kubectl(url: str, tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"), KUBECONFIG=str(tmp_path / "none"))
    command = [KUBECTL or "kubectl", "--server", url, "--cache-dir", str(tmp_path / "cache"), *args]
    return await asyncio.to_thread(subprocess.run, command, input=stdin, env=env, capture_output=True,
                                   text=True, timeout=60)


async def test_create_sends_strict_field_validation(server: tuple[StubServer, str], tmp_path: Path) -> None:
    stub, url = server
    result = await kubectl(url, tmp_path, "create", "-f", "-", stdin=DEPLOYMENT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/web created"
    [(path, body)] = stub.posts
    assert path.startswith("/apis/apps/v1/namespaces/default/deployments?")
    assert "fieldValidation=Strict" in path
    assert body["spec"]["replicas"] == 2


async def test_unknown_field_is_rejected_as_on_a_real_cluster(server: tuple[StubServer, str], tmp_path: Path) -> None:
    stub, url = server
    manifest = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replica: 3\n")
    result = await kubectl(url, tmp_path, "create", "-f", "-", stdin=manifest)
    assert result.returncode != 0
    assert ('Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be '
            'handled as a Deployment: strict decoding error: unknown field "spec.replica"') in result.stderr
    assert stub.posts == []


async def test_validate_warn_prints_the_server_warning(server: tuple[StubServer, str], tmp_path: Path) -> None:
    stub, url = server
    manifest = DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  replica: 3\n")
    result = await kubectl(url, tmp_path, "create", "--validate=warn", "-f", "-", stdin=manifest)
    assert result.returncode == 0, result.stderr
    assert 'Warning: unknown field "spec.replica"' in result.stderr
    assert "replica" not in stub.posts[0][1]["spec"]


async def test_explain_reads_the_schemas(server: tuple[StubServer, str], tmp_path: Path) -> None:
    _, url = server
    result = await kubectl(url, tmp_path, "explain", "deployment.spec.replicas")
    assert result.returncode == 0, result.stderr
    assert "GROUP:      apps" in result.stdout
    assert "FIELD: replicas <integer>" in result.stdout
    assert "Number of desired pods." in result.stdout
