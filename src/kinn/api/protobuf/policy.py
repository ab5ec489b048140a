"""policy/v1 messages (k8s.io/api/policy/v1/generated.proto): PodDisruptionBudget.

Its status counters have no `omitempty`, so even a new PDB's JSON carries them as 0.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "policy/v1"
KINDS = ("PodDisruptionBudget",)

define("PodDisruptionBudget", {
    1: "metadata ObjectMeta",
    2: "spec PodDisruptionBudgetSpec",
    3: "status PodDisruptionBudgetStatus",
})
define("PodDisruptionBudgetSpec", {
    1: "minAvailable IntOrString?",
    2: "selector LabelSelector?",
    3: "maxUnavailable IntOrString?",
    4: "unhealthyPodEvictionPolicy string?",
})
define("PodDisruptionBudgetStatus", {
    1: "observedGeneration int64",
    2: "disruptedPods {}Time",
    3: "disruptionsAllowed int32!",
    4: "currentHealthy int32!",
    5: "desiredHealthy int32!",
    6: "expectedPods int32!",
    7: "conditions []Condition",
})
