"""scheduling.k8s.io/v1 messages (k8s.io/api/scheduling/v1/generated.proto): PriorityClass."""

from kinn.api.protobuf.schema import define

API_VERSION = "scheduling.k8s.io/v1"
KINDS = ("PriorityClass",)

define("PriorityClass", {
    1: "metadata ObjectMeta",
    2: "value int32!",
    3: "globalDefault bool",
    4: "description string",
    5: "preemptionPolicy string?",
})
