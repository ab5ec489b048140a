"""core/v1 ⇄ events.k8s.io/v1 Event: two views of one stored object."""

from kinn.api.conversion.events import from_events_v1, to_events_v1

CORE = {
    "kind": "Event",
    "apiVersion": "v1",
    "metadata": {"name": "web.1", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u1"},
    "reason": "Pulled",
    "message": "Successfully pulled image",
    "source": {"component": "kubelet", "host": "worker-1"},
    "firstTimestamp": "2024-01-01T00:00:00Z",
    "lastTimestamp": "2024-01-01T00:00:05Z",
    "count": 2,
    "type": "Normal",
    "eventTime": None,
    "reportingComponent": "kubelet",
    "reportingInstance": "worker-1",
}


def test_core_event_seen_through_events_api():
    ev = to_events_v1(CORE)
    assert ev == {
        "kind": "Event",
        "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "web.1", "namespace": "default"},
        "regarding": CORE["involvedObject"],
        "reason": "Pulled",
        "note": "Successfully pulled image",
        "deprecatedSource": {"component": "kubelet", "host": "worker-1"},
        "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z",
        "deprecatedLastTimestamp": "2024-01-01T00:00:05Z",
        "deprecatedCount": 2,
        "type": "Normal",
        "eventTime": None,
        "reportingController": "kubelet",
        "reportingInstance": "worker-1",
    }


def test_round_trip_is_lossless():
    assert from_events_v1(to_events_v1(CORE)) == CORE


def test_new_style_event_stored_in_core_form():
    ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "eventTime": "2024-01-01T00:00:00.000000Z",
        "series": {"count": 3, "lastObservedTime": "2024-01-01T00:01:00.000000Z"},
        "reportingController": "example.com/ctrl",
        "reportingInstance": "ctrl-1",
        "action": "Sync",
        "reason": "Synced",
        "regarding": {"kind": "Node", "name": "n1"},
        "related": {"kind": "Pod", "name": "p"},
        "note": "done",
        "type": "Warning",
    }
    core = from_events_v1(ev)
    assert core["apiVersion"] == "v1"
    assert core["involvedObject"] == {"kind": "Node", "name": "n1"} and core["message"] == "done"
    assert core["reportingComponent"] == "example.com/ctrl" and core["series"] == ev["series"]
    # Go writes zero times as null and empty structs as {} in core/v1.
    assert (core["firstTimestamp"], core["lastTimestamp"], core["source"]) == (None, None, {})
    assert "count" not in core
    assert to_events_v1(core) == {**ev, "deprecatedSource": {}, "deprecatedFirstTimestamp": None,
                                  "deprecatedLastTimestamp": None}
