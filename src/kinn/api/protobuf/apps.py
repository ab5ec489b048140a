"""apps/v1 messages (k8s.io/api/apps/v1/generated.proto): Deployment, as `kubectl create deployment` sends it."""

from kinn.api.protobuf.schema import define

API_VERSION = "apps/v1"
KINDS = ("Deployment",)

define("Deployment", {
    1: "metadata ObjectMeta",
    2: "spec DeploymentSpec",
    3: "status DeploymentStatus",
})
define("DeploymentSpec", {
    1: "replicas int32?",
    2: "selector LabelSelector?",
    3: "template PodTemplateSpec",
    4: "strategy DeploymentStrategy",
    5: "minReadySeconds int32",
    6: "revisionHistoryLimit int32?",
    7: "paused bool",
    9: "progressDeadlineSeconds int32?",
})
define("DeploymentStrategy", {
    1: "type string",
    2: "rollingUpdate RollingUpdateDeployment?",
})
define("RollingUpdateDeployment", {
    1: "maxUnavailable IntOrString?",
    2: "maxSurge IntOrString?",
})
define("DeploymentStatus", {
    1: "observedGeneration int64",
    2: "replicas int32",
    3: "updatedReplicas int32",
    7: "readyReplicas int32",
    4: "availableReplicas int32",
    5: "unavailableReplicas int32",
    8: "collisionCount int32?",
})
