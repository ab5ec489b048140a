"""k8s.io/apimachinery meta/v1 messages shared by every kind (apimachinery's generated.proto).

Time, IntOrString and Quantity are not listed: they have their own JSON forms (see `decode`).
managedFields is left out on purpose: clients never send it on create, and unknown fields are skipped.
"""

from kinn.api.protobuf.schema import define

define("ObjectMeta", {
    1: "name string",
    2: "generateName string",
    3: "namespace string",
    4: "selfLink string",
    5: "uid string",
    6: "resourceVersion string",
    7: "generation int64",
    8: "creationTimestamp Time",
    9: "deletionTimestamp Time?",
    10: "deletionGracePeriodSeconds int64?",
    11: "labels {}string",
    12: "annotations {}string",
    13: "ownerReferences []OwnerReference",
    14: "finalizers []string",
})
define("OwnerReference", {
    5: "apiVersion string!",
    1: "kind string!",
    3: "name string!",
    4: "uid string!",
    6: "controller bool?",
    7: "blockOwnerDeletion bool?",
})
define("LabelSelector", {
    1: "matchLabels {}string",
    2: "matchExpressions []LabelSelectorRequirement",
})
define("LabelSelectorRequirement", {
    1: "key string!",
    2: "operator string!",
    3: "values []string",
})
define("Condition", {
    1: "type string!",
    2: "status string!",
    3: "observedGeneration int64",
    4: "lastTransitionTime Time",
    5: "reason string!",
    6: "message string!",
})
