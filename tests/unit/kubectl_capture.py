"""A stub API server that records the bodies the real kubectl sends.

Serves just what `kubectl create <kind>` needs before it POSTs: `/version` (the /usr/bin/kubectl
dispatcher picks the binary by the server's minor version) and aggregated discovery for `/api` and
`/apis` built from `kinn.api.resources.TABLE`. Every POST is recorded and answered 201 with whatever
`respond` makes of it, so kubectl prints its usual `<kind>/<name> created`.

Run as a script to refresh the fixtures of tests/unit/test_protobuf.py:
`python tests/unit/kubectl_capture.py` (needs kubectl on PATH).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from kinn.api.protobuf import decode_protobuf_object
from kinn.api.resources import GROUP_ORDER, TABLE, Resource

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
DISCOVERY_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kinn", "goVersion": "go1.23.4",
           "platform": "linux/amd64"}

# fixture name → kubectl arguments; the first six are the `create` commands users reach for most.
COMMANDS: dict[str, list[str]] = {
    "deployment": ["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"],
    "configmap": ["create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
    "secret": ["create", "secret", "generic", "creds", "--from-literal=user=admin", "--from-literal=pass=s3cr3t"],
    "namespace": ["create", "namespace", "team-a"],
    "service_clusterip": ["create", "service", "clusterip", "api", "--tcp=80:8080", "--tcp=443:8443"],
    "job": ["create", "job", "once", "--image=busybox", "--", "echo", "hello"],
    "service_nodeport": ["create", "service", "nodeport", "edge", "--tcp=80:8080", "--node-port=30080"],
    "service_loadbalancer": ["create", "service", "loadbalancer", "lb", "--tcp=443:8443"],
    "service_externalname": ["create", "service", "externalname", "ext", "--external-name=example.com"],
    "cronjob": ["create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "--", "date"],
    "serviceaccount": ["create", "serviceaccount", "robot"],
    "priorityclass": ["create", "priorityclass", "high", "--value=1000", "--description=important",
                      "--preemption-policy=Never"],
    "role": ["create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps",
             "--resource-name=web"],
    "rolebinding": ["create", "rolebinding", "read", "--role=reader", "--user=alice",
                    "--serviceaccount=default:robot", "--group=devs"],
    "clusterrole": ["create", "clusterrole", "viewer", "--verb=get", "--non-resource-url=/healthz"],
    "clusterrole_aggregated": ["create", "clusterrole", "monitoring", "--aggregation-rule=rbac.example.com/aggregate=true"],
    "clusterrolebinding": ["create", "clusterrolebinding", "view-all", "--clusterrole=view", "--group=devs"],
    "quota": ["create", "quota", "limits", "--hard=cpu=2,memory=1Gi,pods=10", "--scopes=NotTerminating"],
    "poddisruptionbudget": ["create", "poddisruptionbudget", "keep", "--selector=app=web", "--min-available=50%"],
    "ingress": ["create", "ingress", "site", "--class=nginx", "--rule=example.com/api*=api:80,tls=site-tls",
                "--default-backend=web:http", "--annotation=team=a"],
    "token": ["create", "token", "robot", "--duration=1h", "--audience=api", "--bound-object-kind=Pod",
              "--bound-object-name=web", "--bound-object-uid=1234"],
    "can_i": ["auth", "can-i", "delete", "deployments.apps", "--subresource=scale", "-n", "prod"],
    "can_i_list": ["auth", "can-i", "--list", "-n", "prod"],
    "whoami": ["auth", "whoami"],
}
# These have no --dry-run: their expected JSON is written by hand from the Go types.
NO_DRY_RUN = frozenset({"token", "can_i", "can_i_list", "whoami"})


@dataclass
class Request:
    content_type: str
    body: bytes


@dataclass
class StubServer:
    """The stub's recorded POSTs; `respond(request)` makes the 201 reply from one."""

    respond: Callable[[Request], dict[str, Any]]
    posts: list[Request] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/version", self._version)
        app.router.add_get("/api", self._core_discovery)
        app.router.add_get("/apis", self._group_discovery)
        app.router.add_post("/{tail:.*}", self._post)
        return app

    async def _version(self, _: web.Request) -> web.Response:
        return web.json_response(VERSION)

    async def _core_discovery(self, _: web.Request) -> web.Response:
        return _discovery([""])

    async def _group_discovery(self, _: web.Request) -> web.Response:
        return _discovery([g for g in GROUP_ORDER if g])

    async def _post(self, request: web.Request) -> web.Response:
        recorded = Request(request.headers.get("Content-Type", ""), await request.read())
        self.posts.append(recorded)
        return web.json_response(self.respond(recorded), status=201)


def _discovery(groups: list[str]) -> web.Response:
    items = []
    for group in groups:
        versions: dict[str, list[dict[str, Any]]] = {}
        for r in TABLE.resources:
            if r.group == group and r.plural != "bindings":
                versions.setdefault(r.version, []).append(_discovered(r))
        items.append({"metadata": {"name": group},
                      "versions": [{"version": v, "resources": rs, "freshness": "Current"}
                                   for v, rs in versions.items()]})
    body = {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}
    return web.Response(text=json.dumps(body), headers={"Content-Type": DISCOVERY_TYPE})


def _discovered(r: Resource) -> dict[str, Any]:
    return {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
        "shortNames": list(r.short_names),
        "categories": list(r.categories),
    }


async def run_kubectl(stub: StubServer, args: list[str], *extra: str) -> str:
    """Run `kubectl <args>` plus `extra` flags (before any `--`) against a fresh stub; returns stdout."""
    cut = args.index("--") if "--" in args else len(args)
    argv = [*args[:cut], *extra, *args[cut:]]
    runner = web.AppRunner(stub.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with tempfile.TemporaryDirectory() as home:
            kubeconfig = Path(home) / "config"
            kubeconfig.write_text(json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": "stub",
                "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
                "users": [{"name": "stub", "user": {}}],
            }))
            env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": f"{home}/cache",
                   "HOME": home}
            proc = await asyncio.create_subprocess_exec(
                "kubectl", *argv, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            if proc.returncode:
                raise RuntimeError(f"kubectl {' '.join(args)} failed: {err.decode()}")
            return out.decode()
    finally:
        await runner.cleanup()


def kubectl_available() -> bool:
    return shutil.which("kubectl") is not None


# The status a real server fills in, without which kubectl reports failure (`can-i` exits 1 on "no").
SERVER_STATUS: dict[str, dict[str, Any]] = {
    "SelfSubjectAccessReview": {"allowed": True},
    "TokenRequest": {"token": "stub-token"},
}


def echo(request: Request) -> dict[str, Any]:
    """Answer with the object decoded, its status filled in as the server would."""
    obj = decode_protobuf_object(request.body)
    obj.setdefault("status", {}).update(SERVER_STATUS.get(obj["kind"], {}))
    return obj


async def record_fixtures() -> None:
    """Write `<name>.pb` (the POSTed body) and `<name>.json` (kubectl's client dry-run) per command."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, args in COMMANDS.items():
        stub = StubServer(echo)
        await run_kubectl(stub, args)
        (posted,) = stub.posts
        (FIXTURES / f"{name}.pb").write_bytes(posted.body)
        if name in NO_DRY_RUN:
            continue
        printed = await run_kubectl(stub, args, "--dry-run=client", "-o", "json")
        (FIXTURES / f"{name}.json").write_text(json.dumps(json.loads(printed), indent=2) + "\n")
        print(f"{name}: {posted.content_type}, {len(posted.body)} bytes", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(record_fixtures())
