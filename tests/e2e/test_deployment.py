"""Deployments end to end: the ReplicaSet and Deployment controllers run in the test loop against a real
API server, a scripted kubelet makes pods Ready, and the real kubectl drives and checks each step."""

from __future__ import annotations

import asyncio
import json

from workload_harness import running

from kinn.client.informer import EventHandler, SharedInformerFactory
from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.deployment import DeploymentController
from kinn.controllers.replicaset import ReplicaSetController

PODS = resource("v1", "pods")
RS = resource("apps/v1", "replicasets")
DEPLOYMENTS = resource("apps/v1", "deployments")
EVENTS = resource("v1", "events")


async def kubectl(apiserver, *args: str) -> str:
    """kubectl in a thread: the controllers it waits on run in this event loop."""
    return (await asyncio.to_thread(apiserver.kubectl, *args)).stdout


async def get_json(apiserver, *args: str) -> dict:
    return json.loads(await kubectl(apiserver, "get", *args, "-o", "json"))


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions") or [])


class PodTrace:
    """(active pods, ready active pods) after every pod event of a namespace, from an informer cache."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.factory = SharedInformerFactory(client)
        self.informer = self.factory.informer(PODS, namespace=namespace)
        self.samples: list[tuple[int, int]] = []
        record = lambda *_: self._record()  # noqa: E731
        self.informer.add_event_handler(EventHandler(record, record, record))

    def _record(self) -> None:
        live = [p for p in self.informer.indexer.list() if not p["metadata"].get("deletionTimestamp")]
        self.samples.append((len(live), sum(1 for p in live if ready(p))))

    async def __aenter__(self) -> "PodTrace":
        self.factory.start()
        await self.factory.wait_for_cache_sync(10)
        self.samples.clear()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.factory.stop()


async def events(client: Client, namespace: str, name: str) -> list[tuple[str, str]]:
    items = (await client.list(EVENTS, namespace))["items"]
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


async def replica_sets(client: Client, namespace: str) -> dict[str, dict]:
    return {rs["metadata"]["name"]: rs for rs in (await client.list(RS, namespace))["items"]}


async def test_create_rollout_set_image_undo_scale_pause_resume(apiserver, client):
    ns = "deploy-e2e"
    async with running(client, ReplicaSetController, DeploymentController, kubelet_namespace=ns):
        await kubectl(apiserver, "create", "namespace", ns)
        await kubectl(apiserver, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=4", "-n", ns)
        out = await kubectl(apiserver, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
        assert 'deployment "web" successfully rolled out' in out

        [first] = (await replica_sets(client, ns)).values()
        hash1 = first["metadata"]["labels"]["pod-template-hash"]
        assert first["metadata"]["name"] == f"web-{hash1}"
        assert first["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": hash1}
        assert first["metadata"]["annotations"] == {
            "deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": "4",
            "deployment.kubernetes.io/max-replicas": "5"}
        owner = first["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"], owner["blockOwnerDeletion"]) == (
            "Deployment", "web", True, True)
        pods = (await client.list(PODS, ns))["items"]
        assert len(pods) == 4
        for pod in pods:
            assert pod["metadata"]["generateName"] == f"web-{hash1}-"
            assert pod["metadata"]["ownerReferences"][0]["uid"] == first["metadata"]["uid"]
        assert ("ScalingReplicaSet", f"Scaled up replica set web-{hash1} to 4") in await events(client, ns, "web")
        rs_events = await events(client, ns, f"web-{hash1}")
        assert sorted(m for r, m in rs_events if r == "SuccessfulCreate") == sorted(
            f"Created pod: {p['metadata']['name']}" for p in pods)

        web = await get_json(apiserver, "deployment", "web", "-n", ns)
        assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        status = web["status"]
        assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
                status["availableReplicas"], status["observedGeneration"]) == (4, 4, 4, 4, web["metadata"]["generation"])
        conditions = {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}
        assert conditions == {
            "Available": ("True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            "Progressing": ("True", "NewReplicaSetAvailable", f'ReplicaSet "web-{hash1}" has successfully progressed.'),
        }

        # A rolling update with maxSurge 1 / maxUnavailable 1: at every pod event at most 5 pods, at least 3 ready.
        await kubectl(apiserver, "patch", "deployment", "web", "-n", ns, "-p",
                      '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}}}')
        async with PodTrace(client, ns) as trace:
            await kubectl(apiserver, "set", "image", "deployment/web", "nginx=nginx:1.26", "-n", ns)
            await kubectl(apiserver, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
            await wait_for(lambda: trace.samples and trace.samples[-1] == (4, 4), 10)
        assert len(trace.samples) > 8
        assert max(active for active, _ in trace.samples) <= 5
        assert min(available for _, available in trace.samples) >= 3
        sets = await replica_sets(client, ns)
        [second] = [rs for name, rs in sets.items() if name != first["metadata"]["name"]]
        assert second["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
        assert second["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        assert sets[first["metadata"]["name"]]["spec"]["replicas"] == 0
        scaling = [m for r, m in await events(client, ns, "web") if r == "ScalingReplicaSet"]
        assert f"Scaled down replica set web-{hash1} to 3 from 4" in scaling

        history = await kubectl(apiserver, "rollout", "history", "deployment/web", "-n", ns)
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]

        # Undo: kubectl copies revision 1's template back; its ReplicaSet becomes the new one, as revision 3.
        assert "rolled back" in await kubectl(apiserver, "rollout", "undo", "deployment/web", "-n", ns)
        await kubectl(apiserver, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
        sets = await replica_sets(client, ns)
        assert len(sets) == 2
        revived = sets[first["metadata"]["name"]]
        assert revived["spec"]["replicas"] == 4
        assert revived["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert revived["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        web = await get_json(apiserver, "deployment", "web", "-n", ns)
        assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
        assert web["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"

        await kubectl(apiserver, "scale", "deployment/web", "--replicas=6", "-n", ns)
        await kubectl(apiserver, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
        assert len([p for p in (await client.list(PODS, ns))["items"] if ready(p)]) == 6
        assert (await replica_sets(client, ns))[first["metadata"]["name"]]["metadata"]["annotations"][
            "deployment.kubernetes.io/desired-replicas"] == "6"

        # Paused: a template change is recorded but rolls nothing until resumed.
        await kubectl(apiserver, "rollout", "pause", "deployment/web", "-n", ns)
        await kubectl(apiserver, "set", "image", "deployment/web", "nginx=nginx:1.27", "-n", ns)

        async def paused_observed() -> bool:
            d = await client.get(DEPLOYMENTS, "web", ns)
            progressing = [c for c in d["status"]["conditions"] if c["type"] == "Progressing"]
            return (d["status"]["observedGeneration"] == d["metadata"]["generation"]
                    and progressing[0]["reason"] == "DeploymentPaused")

        await wait_for(paused_observed, 10)
        assert len(await replica_sets(client, ns)) == 2
        await kubectl(apiserver, "rollout", "resume", "deployment/web", "-n", ns)
        await kubectl(apiserver, "rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
        images = {p["spec"]["containers"][0]["image"] for p in (await client.list(PODS, ns))["items"]
                  if not p["metadata"].get("deletionTimestamp")}
        assert images == {"nginx:1.27"}
        history = await kubectl(apiserver, "rollout", "history", "deployment/web", "-n", ns)
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3", "4"]


async def test_recreate_never_overlaps_old_and_new_pods(apiserver, client):
    ns = "recreate-e2e"
    async with running(client, ReplicaSetController, DeploymentController, kubelet_namespace=ns):
        await kubectl(apiserver, "create", "namespace", ns)
        await kubectl(apiserver, "create", "deployment", "db", "--image=postgres:15", "--replicas=3", "-n", ns)
        await kubectl(apiserver, "patch", "deployment", "db", "-n", ns, "--type=json", "-p",
                      '[{"op":"replace","path":"/spec/strategy","value":{"type":"Recreate"}}]')
        await kubectl(apiserver, "rollout", "status", "deployment/db", "-n", ns, "--timeout=30s")
        images: list[set[str]] = []
        async with PodTrace(client, ns) as trace:
            trace.informer.add_event_handler(EventHandler(on_update=lambda o, n: images.append({
                p["spec"]["containers"][0]["image"] for p in trace.informer.indexer.list()
                if not p["metadata"].get("deletionTimestamp")})))
            await kubectl(apiserver, "set", "image", "deployment/db", "postgres=postgres:16", "-n", ns)
            await kubectl(apiserver, "rollout", "status", "deployment/db", "-n", ns, "--timeout=30s")
        assert all(len(seen) <= 1 for seen in images)
        assert (0, 0) in trace.samples  # everything old went away before anything new came


async def test_progress_deadline_exceeded_when_pods_never_become_ready(apiserver, client):
    ns = "deadline-e2e"
    async with running(client, ReplicaSetController, DeploymentController):  # no kubelet: pods stay Pending
        await kubectl(apiserver, "create", "namespace", ns)
        await kubectl(apiserver, "create", "deployment", "stuck", "--image=nginx", "--replicas=2", "-n", ns)
        await kubectl(apiserver, "patch", "deployment", "stuck", "-n", ns, "-p",
                      '{"spec":{"progressDeadlineSeconds":1}}')

        async def timed_out() -> dict | None:
            d = await client.get(DEPLOYMENTS, "stuck", ns)
            found = [c for c in d.get("status", {}).get("conditions") or [] if c["type"] == "Progressing"]
            return found[0] if found and found[0]["reason"] == "ProgressDeadlineExceeded" else None

        condition = await wait_for(timed_out, 15)
        [rs_name] = await replica_sets(client, ns)
        assert (condition["status"], condition["message"]) == (
            "False", f'ReplicaSet "{rs_name}" has timed out progressing.')
        result = await asyncio.to_thread(apiserver.kubectl, "rollout", "status", "deployment/stuck", "-n", ns,
                                         "--timeout=10s", check=False)
        assert result.returncode != 0 and 'deployment "stuck" exceeded its progress deadline' in result.stderr
        d = await client.get(DEPLOYMENTS, "stuck", ns)
        available = [c for c in d["status"]["conditions"] if c["type"] == "Available"][0]
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
