"""The informer cache: keys and secondary indexes stay consistent through updates and deletes."""

import gc

import orjson

from kinn.client import informer
from kinn.client.informer import Indexer, object_key, shared, strip_managed_fields
from kinn.client.rest import resource

PODS = resource("v1", "pods")


def pod(name: str, node: str, ns: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}, "spec": {"nodeName": node}}


def test_index_follows_updates_and_deletes():
    indexer = Indexer({"node": lambda o: [o["spec"]["nodeName"]]})
    indexer.upsert(pod("a", "n1"))
    indexer.upsert(pod("b", "n1"))
    indexer.upsert(pod("c", "n2", ns="other"))
    assert {object_key(p) for p in indexer.by_index("node", "n1")} == {"default/a", "default/b"}
    indexer.upsert(pod("a", "n2"))
    assert [p["metadata"]["name"] for p in indexer.by_index("node", "n1")] == ["b"]
    indexer.remove("default/b")
    assert indexer.by_index("node", "n1") == []
    assert {p["metadata"]["name"] for p in indexer.by_index("node", "n2")} == {"a", "c"}
    assert [p["metadata"]["name"] for p in indexer.by_index("namespace", "other")] == ["c"]


def test_indexer_added_later_indexes_existing_objects():
    indexer = Indexer()
    indexer.upsert(pod("a", "n1"))
    indexer.add_indexer("node", lambda o: [o["spec"]["nodeName"]])
    assert [p["metadata"]["name"] for p in indexer.by_index("node", "n1")] == ["a"]


def test_cluster_scoped_keys_have_no_namespace():
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"


def test_one_revision_is_shared_and_forgotten_when_no_cache_holds_it():
    first = shared(pod("a", "n1"), PODS, strip_managed_fields)
    assert shared(pod("a", "n1"), PODS, strip_managed_fields) is first
    assert first == pod("a", "n1")
    assert shared(pod("a", "n1"), PODS, None) is not first  # cached differently: not the same object
    newer = {**pod("a", "n1"), "metadata": {"name": "a", "namespace": "default", "resourceVersion": "2"}}
    assert shared(newer, PODS, strip_managed_fields) is not first
    del first
    gc.collect()
    assert not any(key[3] == "a" and key[5] is strip_managed_fields and key[4] == "1" for key in informer._CACHED)


def test_cached_objects_share_equal_string_values():
    """Two pods decoded apart hold one copy of each value they have in common, lists included."""
    def decoded(name: str) -> dict:
        return orjson.loads(orjson.dumps({**pod(name, "node-7"), "status": {"conditions": [{"type": "Ready"}]}}))

    a, b = shared(decoded("a"), PODS, None), shared(decoded("b"), PODS, None)
    assert a["spec"]["nodeName"] is b["spec"]["nodeName"]
    assert a["status"]["conditions"][0]["type"] is b["status"]["conditions"][0]["type"]
    assert a["metadata"]["name"] == "a" and b["metadata"]["name"] == "b"


def test_cached_objects_share_equal_members_and_keep_their_own_unequal_ones():
    """The pods of one template hold one tolerations list and one labels dict; a member that
    differs, or one not in SHARED_MEMBERS, stays each pod's own; every pod reads as sent."""
    tolerations = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]

    def decoded(name: str, ready_at: str) -> dict:
        obj = {**pod(name, "node-7"), "status": {"conditions": [{"type": "Ready", "lastTransitionTime": ready_at}]}}
        obj["metadata"]["labels"] = {"app": "web"}
        obj["spec"].update(tolerations=tolerations, nodeSelector={"disk": "ssd"})
        return orjson.loads(orjson.dumps(obj))

    a, b, c = (shared(decoded(name, at), PODS, None) for name, at in (("a", "t1"), ("b", "t1"), ("c", "t2")))
    assert a["spec"]["tolerations"] is b["spec"]["tolerations"] is c["spec"]["tolerations"]
    assert a["metadata"]["labels"] is c["metadata"]["labels"]
    assert a["status"]["conditions"] is b["status"]["conditions"] is not c["status"]["conditions"]
    assert a["spec"]["nodeSelector"] is not b["spec"]["nodeSelector"]
    assert a["metadata"] is not b["metadata"]
    assert c == decoded("c", "t2") and a["spec"]["tolerations"] == tolerations


def test_what_is_shared_stays_bounded_however_many_unique_values_pass():
    for revision in range(max(informer._STRINGS_LIMIT, informer._MEMBERS_LIMIT) + 10):
        informer.share_values({"metadata": {"resourceVersion": f"rv-{revision}", "labels": {"n": str(revision)}}})
    assert len(informer._STRINGS) <= informer._STRINGS_LIMIT
    assert len(informer._MEMBERS) <= informer._MEMBERS_LIMIT
