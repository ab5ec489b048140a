"""The informer cache: keys and secondary indexes stay consistent through updates and deletes."""

from kinn.client.informer import Indexer, object_key


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
