"""Changing objects with the real kubectl: create/apply (client- and server-side), edit, the three patch
types, label/annotate, scale, replace, delete, and the typed `create` subcommands that send protobuf."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from kubectl_output import manifest, table

CONFLICT = ('Operation cannot be fulfilled on deployments.apps "{name}": the object has been modified; '
            'please apply your changes to the latest version and try again')


def get(apiserver, *args: str) -> dict:
    return json.loads(apiserver.kubectl("get", *args, "-o", "json").stdout)


def request_bodies(stderr: str, verb: str) -> list[dict]:
    """The JSON bodies kubectl sent with `verb`, read from its -v=8 log (which logs a body, then its request)."""
    bodies, body = [], ""
    for line in stderr.splitlines():
        if '"Request Body" body=' in line:
            body = json.loads(line.split(" body=", 1)[1])
        elif "round_trippers.go" in line and " https://" in line:
            if f"] {verb} https://" in line and body:
                bodies.append(json.loads(body))
            body = ""
    return bodies


def test_create_then_apply_twice_uses_strategic_merge(apiserver):
    assert apiserver.kubectl("create", "-f", manifest("web.yaml"), "-n", "default").stdout == (
        "deployment.apps/web created\n")
    apiserver.kubectl("delete", "deploy", "web")
    assert apiserver.kubectl("apply", "-f", manifest("web.yaml")).stdout == "deployment.apps/web created\n"
    second = apiserver.kubectl("apply", "-f", manifest("web-v2.yaml"), "-v=8")
    assert second.stdout == "deployment.apps/web configured\n"
    [patch] = request_bodies(second.stderr, "PATCH")
    assert patch["metadata"]["labels"] == {"tier": None}
    assert patch["spec"]["template"]["spec"] == {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.27", "name": "nginx"}, {"$patch": "delete", "name": "sidecar"}],
    }
    web = get(apiserver, "deploy", "web")
    assert web["metadata"]["labels"] == {"app": "web"}
    assert web["metadata"]["generation"] == 2
    [nginx] = web["spec"]["template"]["spec"]["containers"]
    assert (nginx["name"], nginx["image"], nginx["ports"]) == ("nginx", "nginx:1.27",
                                                                 [{"containerPort": 80, "protocol": "TCP"}])
    assert apiserver.kubectl("apply", "-f", manifest("web-v2.yaml")).stdout == "deployment.apps/web unchanged\n"


def test_edit_with_an_editor_script(apiserver, tmp_path: Path):
    apiserver.kubectl("create", "deployment", "edited", "--image=nginx:1.26")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/image: nginx:1.26/image: nginx:1.27/' \"$1\"\n")
    editor.chmod(0o755)
    result = apiserver.kubectl("edit", "deployment", "edited", env={"EDITOR": str(editor)})
    assert result.stdout == "deployment.apps/edited edited\n"
    assert apiserver.kubectl("get", "deploy", "edited", "-o",
                             "jsonpath={.spec.template.spec.containers[0].image}").stdout == "nginx:1.27"
    unchanged = apiserver.kubectl("edit", "deployment", "edited", env={"EDITOR": "true"})
    assert unchanged.stderr == "Edit cancelled, no changes made.\n"


def test_patch_types(apiserver):
    apiserver.kubectl("create", "-f", manifest("web.yaml"), "-n", "kube-public")
    target = ("deploy", "web", "-n", "kube-public")
    image_patch = '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}'

    # Strategic merge: containers merge by name, so the sidecar stays.
    assert apiserver.kubectl("patch", *target, "-p", image_patch).stdout == "deployment.apps/web patched\n"
    containers = get(apiserver, *target)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.28"), ("sidecar", "busybox:1.36")]
    assert apiserver.kubectl("patch", *target, "-p", image_patch).stdout == (
        "deployment.apps/web patched (no change)\n")

    # JSON merge patch: a list is replaced whole.
    merge = apiserver.kubectl("patch", *target, "--type=merge", "-p", image_patch.replace("1.28", "1.29"))
    assert merge.stdout == "deployment.apps/web patched\n"
    containers = get(apiserver, *target)["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.29")]

    # JSON patch, and a failing test operation.
    assert apiserver.kubectl("patch", *target, "--type=json", "-p",
                             '[{"op":"replace","path":"/spec/replicas","value":4}]').stdout == (
        "deployment.apps/web patched\n")
    assert get(apiserver, *target)["spec"]["replicas"] == 4
    failed = apiserver.kubectl("patch", *target, "--type=json", "-p",
                               '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
    assert (failed.returncode, failed.stderr) == (
        1, "The request is invalid: the server rejected our request due to an error in our request\n")


def test_label_and_annotate(apiserver):
    apiserver.kubectl("create", "configmap", "tagged")
    assert apiserver.kubectl("label", "cm", "tagged", "env=prod").stdout == "configmap/tagged labeled\n"
    refused = apiserver.kubectl("label", "cm", "tagged", "env=dev", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "error: 'env' already has a value (prod), and --overwrite is false\n")
    apiserver.kubectl("label", "cm", "tagged", "env=dev", "--overwrite")
    assert get(apiserver, "cm", "tagged")["metadata"]["labels"] == {"env": "dev"}
    assert apiserver.kubectl("label", "cm", "tagged", "env-").stdout == "configmap/tagged unlabeled\n"
    assert "labels" not in get(apiserver, "cm", "tagged")["metadata"]

    assert apiserver.kubectl("annotate", "cm", "tagged", "note=first").stdout == "configmap/tagged annotated\n"
    refused = apiserver.kubectl("annotate", "cm", "tagged", "note=second", check=False)
    assert (refused.returncode, refused.stderr) == (
        1, "error: --overwrite is false but found the following declared annotation(s): "
           "'note' already has a value (first)\n")
    apiserver.kubectl("annotate", "cm", "tagged", "note=second", "--overwrite")
    assert get(apiserver, "cm", "tagged")["metadata"]["annotations"] == {"note": "second"}
    assert apiserver.kubectl("annotate", "cm", "tagged", "note-").stdout == "configmap/tagged annotated\n"
    assert "annotations" not in get(apiserver, "cm", "tagged")["metadata"]


def test_scale(apiserver):
    apiserver.kubectl("create", "deployment", "scaled", "--image=nginx:1.27", "--replicas=1")
    assert apiserver.kubectl("scale", "deploy", "scaled", "--replicas=3").stdout == "deployment.apps/scaled scaled\n"
    assert get(apiserver, "deploy", "scaled")["spec"]["replicas"] == 3
    refused = apiserver.kubectl("scale", "deploy", "scaled", "--replicas=1", "--current-replicas=2", check=False)
    assert (refused.returncode, refused.stderr) == (1, "error: Expected replicas to be 2, was 3\n")


def test_replace_and_a_stale_resource_version(apiserver, tmp_path: Path):
    apiserver.kubectl("create", "deployment", "replaced", "--image=nginx:1.26")
    saved = tmp_path / "replaced.yaml"
    saved.write_text(apiserver.kubectl("get", "deploy", "replaced", "-o", "yaml").stdout.replace(
        "image: nginx:1.26", "image: nginx:1.27"))
    assert apiserver.kubectl("replace", "-f", str(saved)).stdout == "deployment.apps/replaced replaced\n"
    stale = apiserver.kubectl("replace", "-f", str(saved), check=False)
    assert (stale.returncode, stale.stderr) == (
        1, f'Error from server (Conflict): error when replacing "{saved}": {CONFLICT.format(name="replaced")}\n')


def test_replace_with_the_defaulted_fields_left_out_keeps_the_generation(apiserver):
    """The manifest lacks what defaulting added (strategy, probes' defaults …): its spec is unchanged."""
    apiserver.kubectl("create", "namespace", "replacing")
    apiserver.kubectl("create", "-f", manifest("web.yaml"), "-n", "replacing")
    target = ("deploy", "web", "-n", "replacing")
    assert apiserver.kubectl("replace", "-f", manifest("web.yaml"), "-n", "replacing").stdout == (
        "deployment.apps/web replaced\n")
    assert get(apiserver, *target)["metadata"]["generation"] == 1


def test_delete(apiserver):
    apiserver.kubectl("create", "deployment", "doomed", "--image=nginx:1.27")
    assert apiserver.kubectl("delete", "deploy", "doomed", "--wait").stdout == 'deployment.apps "doomed" deleted\n'
    gone = apiserver.kubectl("get", "deploy", "doomed", check=False)
    assert (gone.returncode, gone.stderr) == (1, 'Error from server (NotFound): deployments.apps "doomed" not found\n')
    missing = apiserver.kubectl("delete", "deploy", "doomed", check=False)
    assert (missing.returncode, missing.stderr) == (
        1, 'Error from server (NotFound): deployments.apps "doomed" not found\n')


def test_delete_waits_for_finalizers(apiserver):
    apiserver.kubectl("create", "-f", manifest("held-pod.yaml"))
    assert apiserver.kubectl("delete", "pod", "held", "--wait=false").stdout == 'pod "held" deleted\n'
    held = get(apiserver, "pod", "held")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["deletionGracePeriodSeconds"] == 0  # never scheduled: nothing to wait for
    assert table(apiserver.kubectl("get", "pod", "held").stdout)[1] == ["held", "0/1", "Terminating", "0", "<age>"]
    with apiserver.kubectl_stream("delete", "pod", "held", "--timeout=30s") as waiting:
        waiting.wait_for_line(lambda line: line == 'pod "held" deleted')
        assert waiting.process.poll() is None, "kubectl delete --wait returned while a finalizer holds the pod"
        apiserver.kubectl("patch", "pod", "held", "--type=json", "-p",
                          '[{"op":"remove","path":"/metadata/finalizers"}]')
        assert waiting.wait() == (0, "")
    assert apiserver.kubectl("get", "pod", "held", check=False).returncode == 1


def test_graceful_and_forced_pod_deletion(apiserver):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound"},
           "spec": {"nodeName": "worker-1", "containers": [{"name": "app", "image": "busybox:1.36"}]}}
    apiserver.kubectl("create", "-f", "-", input=json.dumps(pod))
    apiserver.kubectl("delete", "pod", "bound", "--wait=false")
    assert get(apiserver, "pod", "bound")["metadata"]["deletionGracePeriodSeconds"] == 30  # the node must confirm
    forced = apiserver.kubectl("delete", "pod", "bound", "--grace-period=0", "--force")
    assert forced.stdout == 'pod "bound" force deleted\n'
    assert forced.stderr == ("Warning: Immediate deletion does not wait for confirmation that the running resource "
                             "has been terminated. The resource may continue to run on the cluster indefinitely.\n")
    assert apiserver.kubectl("get", "pod", "bound", check=False).returncode == 1


def test_typed_create_subcommands_send_protobuf(apiserver):
    commands = {
        "deployment.apps/proto created": ("deployment", "proto", "--image=nginx:1.27", "--replicas=2", "--port=80"),
        "configmap/proto created": ("configmap", "proto", "--from-literal=mode=fast"),
        "secret/proto created": ("secret", "generic", "proto", "--from-literal=password=s3cret"),
        "namespace/proto created": ("namespace", "proto"),
        "service/proto created": ("service", "clusterip", "proto", "--tcp=80:8080"),
        "job.batch/proto created": ("job", "proto", "--image=busybox:1.36", "--", "echo", "hi"),
    }
    for printed, args in commands.items():
        result = apiserver.kubectl("-v=8", "create", *args)
        assert result.stdout == printed + "\n"
        assert "Content-Type: application/vnd.kubernetes.protobuf" in result.stderr.replace('"', "")

    deployment = get(apiserver, "deploy", "proto")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "proto"}}
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert (container["image"], container["ports"]) == ("nginx:1.27", [{"containerPort": 80, "protocol": "TCP"}])
    assert get(apiserver, "cm", "proto")["data"] == {"mode": "fast"}
    secret = get(apiserver, "secret", "proto")
    assert (secret["type"], base64.b64decode(secret["data"]["password"])) == ("Opaque", b"s3cret")
    assert get(apiserver, "ns", "proto")["status"] == {"phase": "Active"}
    service = get(apiserver, "svc", "proto")
    assert service["spec"]["selector"] == {"app": "proto"}
    assert service["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    job = get(apiserver, "job", "proto")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert table(apiserver.kubectl("get", "job", "proto").stdout) == [
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], ["proto", "Running", "0/1", "", "<age>"]]

    duplicate = apiserver.kubectl("create", "deployment", "proto", "--image=nginx:1.27", check=False)
    assert (duplicate.returncode, duplicate.stderr) == (
        1, 'error: failed to create deployment: deployments.apps "proto" already exists\n')


SSA_CONFLICT_HELP = """\
Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
"""


def config_map(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def managers(apiserver, name: str) -> dict[str, tuple[str, dict]]:
    fields = get(apiserver, "cm", name, "--show-managed-fields")["metadata"]["managedFields"]
    return {entry["manager"]: (entry["operation"], entry["fieldsV1"]) for entry in fields}


def test_server_side_apply_create_update_conflict_force(apiserver):
    ssa = ("apply", "--server-side", "-f", "-")
    assert apiserver.kubectl(*ssa, input=config_map("ssa", a="1")).stdout == "configmap/ssa serverside-applied\n"
    assert apiserver.kubectl(*ssa, input=config_map("ssa", a="2", b="x")).stdout == (
        "configmap/ssa serverside-applied\n")
    assert get(apiserver, "cm", "ssa")["data"] == {"a": "2", "b": "x"}
    assert managers(apiserver, "ssa") == {"kubectl": ("Apply", {"f:data": {"f:a": {}, "f:b": {}}})}

    other = (*ssa[:-2], "--field-manager=other", "-f", "-")
    conflict = apiserver.kubectl(*other, input=config_map("ssa", a="3"), check=False)
    assert (conflict.returncode, conflict.stderr) == (
        1, 'error: Apply failed with 1 conflict: conflict with "kubectl": .data.a\n' + SSA_CONFLICT_HELP)
    assert get(apiserver, "cm", "ssa")["data"] == {"a": "2", "b": "x"}

    assert apiserver.kubectl(*other, "--force-conflicts", input=config_map("ssa", a="3")).stdout == (
        "configmap/ssa serverside-applied\n")
    assert get(apiserver, "cm", "ssa")["data"] == {"a": "3", "b": "x"}
    assert managers(apiserver, "ssa") == {"kubectl": ("Apply", {"f:data": {"f:b": {}}}),
                                          "other": ("Apply", {"f:data": {"f:a": {}}})}


def test_server_side_apply_conflicts_with_an_updater(apiserver):
    apiserver.kubectl("create", "configmap", "csa", "--from-literal=a=1")
    conflict = apiserver.kubectl("apply", "--server-side", "-f", "-", input=config_map("csa", a="2"), check=False)
    assert (conflict.returncode, conflict.stderr) == (
        1, 'error: Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.a\n'
           + SSA_CONFLICT_HELP)



def test_server_side_apply_takes_over_from_client_side_apply(apiserver):
    """The documented upgrade: `kubectl apply --server-side` after `kubectl apply` changes what the
    client-side apply set without a conflict, and kubectl then moves the fields of
    kubectl-client-side-apply to its "kubectl" manager (a write of managedFields alone)."""
    assert apiserver.kubectl("apply", "-f", "-", input=config_map("upgraded", a="1")).stdout == (
        "configmap/upgraded created\n")
    assert apiserver.kubectl("apply", "--server-side", "-f", "-", input=config_map("upgraded", a="2")).stdout == (
        "configmap/upgraded serverside-applied\n")
    upgraded = get(apiserver, "cm", "upgraded")
    assert upgraded["data"] == {"a": "2"}
    assert json.loads(upgraded["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])[
        "data"] == {"a": "2"}
    assert managers(apiserver, "upgraded") == {  # kubectl keeps the annotation up to date as its own manager
        "kubectl": ("Apply", {"f:data": {"f:a": {}}}),
        "kubectl-last-applied": ("Apply", {"f:metadata": {"f:annotations": {
            "f:kubectl.kubernetes.io/last-applied-configuration": {}}}})}
    # Client-side apply still works from the annotation (rewritten once in its own format: `"annotations":{}`).
    for printed in ("configured", "unchanged"):
        assert apiserver.kubectl("apply", "-f", "-", input=config_map("upgraded", a="2")).stdout == (
            f"configmap/upgraded {printed}\n")


def test_server_side_apply_after_client_side_apply_keeps_what_the_server_set(apiserver):
    """A Job's selector and its pods' controller-uid labels are the API server's, not the creator's:
    once kubectl moved its client-side fields to "kubectl", applying the manifest again must not prune them."""
    job = yaml.safe_dump({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}})
    apiserver.kubectl("apply", "-f", "-", input=job)
    selector = get(apiserver, "job", "once")["spec"]["selector"]
    for _ in range(2):  # the first takes over from client-side apply, the second applies as "kubectl" alone
        assert apiserver.kubectl("apply", "--server-side", "-f", "-", input=job).stdout == (
            "job.batch/once serverside-applied\n")
    assert get(apiserver, "job", "once")["spec"]["selector"] == selector
