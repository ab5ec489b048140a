"""Workloads on `kinn server` with hollow nodes, driven by the real kubectl and the official Python client.

A rolling update stays within maxSurge/maxUnavailable at every moment of a watch trace; a paused
Deployment makes no new ReplicaSet; cascading deletion in the foreground and orphaning; a Job, a
StatefulSet with bound PVCs and a DaemonSet run to their goal; an unschedulable pod reports
upstream's FailedScheduling message and is scheduled once a node gains the label it selects.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import kubernetes
import urllib3
from kubernetes import watch

from kubectl_output import get_json, wait_until

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: %(ns)s}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: %(name)s}, finalizers: %(finalizers)s}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}
"""


def create_deployment(cluster, ns: str, name: str, replicas: int, finalizers: tuple[str, ...] = ()) -> None:
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"ns": ns, "name": name, "replicas": replicas,
                                                            "finalizers": json.dumps(list(finalizers))})
    cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", ns, "--timeout=30s")


def running_ready(pod: Any) -> bool:
    conditions = pod.status.conditions or []
    return pod.status.phase == "Running" and any(c.type == "Ready" and c.status == "True" for c in conditions)


class PodWatchTrace:
    """(pods not terminating, Running+Ready pods) after every watch event on a namespace's pods.

    The official client lists, then watches from the list's resourceVersion in a thread; between two
    events nothing changes, so the samples cover every moment the server exposed.
    """

    def __init__(self, cluster, namespace: str) -> None:
        self.core = kubernetes.client.CoreV1Api(cluster.api_client())
        self.namespace = namespace
        self.pods: dict[str, Any] = {}
        self.samples: list[tuple[int, int]] = []
        self.images: set[str] = set()
        self.watch = watch.Watch()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        listed = self.core.list_namespaced_pod(self.namespace)
        self.pods = {p.metadata.name: p for p in listed.items}
        self._sample()
        try:
            self._follow(listed.metadata.resource_version)
        except urllib3.exceptions.ProtocolError:
            if not self.stopped:  # the server ending the stream is expected only after the test is done
                raise

    def _follow(self, resource_version: str) -> None:
        for event in self.watch.stream(self.core.list_namespaced_pod, self.namespace,
                                       resource_version=resource_version, timeout_seconds=60):
            pod = event["object"]
            if event["type"] == "DELETED":
                self.pods.pop(pod.metadata.name, None)
            else:
                self.pods[pod.metadata.name] = pod
            self.images.add(pod.spec.containers[0].image)
            self._sample()

    def _sample(self) -> None:
        live = [p for p in self.pods.values() if p.metadata.deletion_timestamp is None]
        self.samples.append((len(live), sum(1 for p in live if running_ready(p))))

    def __enter__(self) -> "PodWatchTrace":
        self.thread.start()
        wait_until(lambda: self.samples, what="the watch to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped = True
        self.watch.stop()  # takes effect at the next event; the thread is a daemon either way


def replica_set_names(cluster, ns: str) -> list[str]:
    return sorted(rs["metadata"]["name"] for rs in get_json(cluster, "rs", "-n", ns)["items"])


def test_set_image_stays_within_surge_and_unavailability_then_pause_resume_history(control_plane):
    ns, replicas = "rolling", 6
    control_plane.kubectl("create", "namespace", ns)
    create_deployment(control_plane, ns, "web", replicas)
    with PodWatchTrace(control_plane, ns) as trace:
        control_plane.kubectl("set", "image", "deployment/web", "web=nginx:1.27", "-n", ns)
        control_plane.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
        wait_until(lambda: trace.samples[-1] == (replicas, replicas), what="the trace to see the end state")
    assert "nginx:1.27" in trace.images and len(trace.samples) > 2 * replicas
    for live, ready in trace.samples:
        assert live <= replicas + 1, f"{live} pods exceed replicas + maxSurge: {trace.samples}"
        assert ready >= replicas - 1, f"{ready} Ready pods below replicas - maxUnavailable: {trace.samples}"

    control_plane.kubectl("rollout", "pause", "deployment/web", "-n", ns)
    before = replica_set_names(control_plane, ns)
    control_plane.kubectl("set", "image", "deployment/web", "web=nginx:1.28", "-n", ns)

    def paused_and_observed() -> bool:
        deployment = get_json(control_plane, "deployment", "web", "-n", ns)
        progressing = {c["type"]: c for c in deployment["status"].get("conditions", [])}.get("Progressing", {})
        return (deployment["status"].get("observedGeneration") == deployment["metadata"]["generation"]
                and progressing.get("reason") == "DeploymentPaused")

    wait_until(paused_and_observed, what="the controller to observe the paused template change")
    assert replica_set_names(control_plane, ns) == before, "a paused Deployment made a new ReplicaSet"

    control_plane.kubectl("rollout", "resume", "deployment/web", "-n", ns)
    control_plane.kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s")
    pods = get_json(control_plane, "pods", "-n", ns)["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.28"} and len(live) == replicas
    history = control_plane.kubectl("rollout", "history", "deployment/web", "-n", ns).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]


def test_foreground_deletion_removes_dependents_first(control_plane):
    ns, hold = "foreground", "kinn.test/hold"
    control_plane.kubectl("create", "namespace", ns)
    create_deployment(control_plane, ns, "web", 2, finalizers=(hold,))  # pods outlive their deletion
    control_plane.kubectl("delete", "deployment", "web", "-n", ns, "--cascade=foreground", "--wait=false")

    def deletion_blocked_on_dependents() -> bool:
        deployment = get_json(control_plane, "deployment", "web", "-n", ns)
        meta = deployment["metadata"]
        return bool(meta.get("deletionTimestamp")) and "foregroundDeletion" in meta.get("finalizers", [])

    wait_until(deletion_blocked_on_dependents, what="the Deployment to wait in foregroundDeletion")
    pods = get_json(control_plane, "pods", "-n", ns)["items"]
    assert len(pods) == 2 and all(p["metadata"].get("deletionTimestamp") for p in pods)
    (replica_set,) = get_json(control_plane, "rs", "-n", ns)["items"]
    # The ReplicaSet has dependents of its own, so it too is deleted in the foreground (attemptToDeleteItem).
    assert "foregroundDeletion" in replica_set["metadata"].get("finalizers", [])
    assert get_json(control_plane, "deployment", "web", "-n", ns)["metadata"].get("deletionTimestamp")

    for pod in pods:
        control_plane.kubectl("patch", "pod", pod["metadata"]["name"], "-n", ns, "--type=json",
                              "-p", '[{"op": "remove", "path": "/metadata/finalizers"}]')
    control_plane.kubectl("wait", "--for=delete", "deployment/web", "-n", ns, "--timeout=30s")
    assert get_json(control_plane, "rs,pods", "-n", ns)["items"] == []


def test_orphan_deletion_keeps_dependents_without_owner_references(control_plane):
    ns = "orphan"
    control_plane.kubectl("create", "namespace", ns)
    create_deployment(control_plane, ns, "web", 3)
    deployment_uid = get_json(control_plane, "deployment", "web", "-n", ns)["metadata"]["uid"]
    control_plane.kubectl("delete", "deployment", "web", "-n", ns, "--cascade=orphan", "--timeout=30s")
    out = control_plane.kubectl("get", "deployment", "web", "-n", ns, check=False)
    assert 'deployments.apps "web" not found' in out.stderr
    replica_sets = get_json(control_plane, "rs", "-n", ns)["items"]
    assert len(replica_sets) == 1 and not replica_sets[0]["metadata"].get("ownerReferences")
    pods = get_json(control_plane, "pods", "-n", ns)["items"]
    assert len(pods) == 3 and not any(p["metadata"].get("deletionTimestamp") for p in pods)
    owners = {ref["uid"] for p in pods for ref in p["metadata"]["ownerReferences"]}
    assert owners == {replica_sets[0]["metadata"]["uid"]} and deployment_uid not in owners


JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: batch, namespace: jobs}
spec:
  completions: 3
  parallelism: 2
  template:
    spec: {restartPolicy: Never, containers: [{name: work, image: busybox}]}
"""


def test_job_completes_on_hollow_nodes(control_plane):
    control_plane.kubectl("create", "namespace", "jobs")
    control_plane.kubectl("apply", "-f", "-", input=JOB)
    out = control_plane.kubectl("wait", "--for=condition=complete", "job/batch", "-n", "jobs", "--timeout=30s")
    assert out.stdout.strip() == "job.batch/batch condition met"
    job = get_json(control_plane, "job", "batch", "-n", "jobs")
    assert job["status"]["succeeded"] == 3 and not job["status"].get("active")
    pods = get_json(control_plane, "pods", "-n", "jobs")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"] * 3
    starts = sorted(p["status"]["startTime"] for p in pods)
    assert starts[0] <= starts[1] < starts[2], "the third pod starts only after one of the first two finished"


STATEFULSET = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: stateful}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: stateful}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25", volumeMounts: [{name: www, mountPath: /data}]}]}
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], storageClassName: manual, resources: {requests: {storage: 1Gi}}}
"""
PV = """
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-%d}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: /tmp/pv-%d}
"""


def test_statefulset_creates_ordinal_pods_in_order_with_bound_claims(control_plane):
    control_plane.kubectl("create", "namespace", "stateful")
    control_plane.kubectl("apply", "-f", "-", input="---".join(PV % (i, i) for i in range(3)))
    with control_plane.kubectl_stream("get", "pods", "-n", "stateful", "-w", "--output-watch-events", "-o",
                                      "jsonpath={.type} {.object.metadata.name}{\"\\n\"}") as watch_pods:
        control_plane.kubectl("apply", "-f", "-", input=STATEFULSET)
        control_plane.kubectl("rollout", "status", "statefulset/web", "-n", "stateful", "--timeout=30s")
        watch_pods.wait_for_line(lambda line: line == "MODIFIED web-2")
        added = [line.split()[1] for line in watch_pods.lines if line.startswith("ADDED")]
    assert added == ["web-0", "web-1", "web-2"]
    pods = {p["metadata"]["name"]: p for p in get_json(control_plane, "pods", "-n", "stateful")["items"]}
    for earlier, later in (("web-0", "web-1"), ("web-1", "web-2")):  # OrderedReady: each waits for its predecessor
        ready_at = next(c["lastTransitionTime"] for c in pods[earlier]["status"]["conditions"] if c["type"] == "Ready")
        assert ready_at <= pods[later]["metadata"]["creationTimestamp"]
    claims = {c["metadata"]["name"]: c for c in get_json(control_plane, "pvc", "-n", "stateful")["items"]}
    assert sorted(claims) == ["www-web-0", "www-web-1", "www-web-2"]
    assert all(c["status"]["phase"] == "Bound" for c in claims.values())
    assert sorted(c["spec"]["volumeName"] for c in claims.values()) == ["pv-0", "pv-1", "pv-2"]


DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: daemons}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: fluentd}]}
"""


def test_daemonset_runs_one_pod_per_node(control_plane):
    control_plane.kubectl("create", "namespace", "daemons")
    control_plane.kubectl("apply", "-f", "-", input=DAEMONSET)
    control_plane.kubectl("rollout", "status", "daemonset/agent", "-n", "daemons", "--timeout=30s")
    nodes = sorted(n["metadata"]["name"] for n in get_json(control_plane, "nodes")["items"])
    pods = get_json(control_plane, "pods", "-n", "daemons")["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == nodes
    assert all(p["status"]["phase"] == "Running" for p in pods)
    status = get_json(control_plane, "daemonset", "agent", "-n", "daemons")["status"]
    assert status["desiredNumberScheduled"] == status["numberReady"] == len(nodes) == 3


UNSCHEDULABLE = ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
                 "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


def test_unmatched_node_selector_waits_with_failed_scheduling_until_a_node_is_labelled(control_plane):
    ns = "selector"
    control_plane.kubectl("create", "namespace", ns)
    control_plane.kubectl("run", "picky", "-n", ns, "--image=nginx", "--overrides",
                          json.dumps({"spec": {"nodeSelector": {"disktype": "ssd"}}}))

    def failed_scheduling() -> list[str]:
        events = get_json(control_plane, "events", "-n", ns, "--field-selector",
                          "reason=FailedScheduling,involvedObject.name=picky")["items"]
        return [e["message"] for e in events]

    assert wait_until(failed_scheduling, what="a FailedScheduling event") == [UNSCHEDULABLE]
    pod = get_json(control_plane, "pod", "picky", "-n", ns)
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == ("False", "Unschedulable", UNSCHEDULABLE)

    control_plane.kubectl("label", "node", "hollow-1", "disktype=ssd")
    try:
        control_plane.kubectl("wait", "--for=condition=Ready", "pod/picky", "-n", ns, "--timeout=30s")
        assert get_json(control_plane, "pod", "picky", "-n", ns)["spec"]["nodeName"] == "hollow-1"
    finally:
        control_plane.kubectl("label", "node", "hollow-1", "disktype-")
