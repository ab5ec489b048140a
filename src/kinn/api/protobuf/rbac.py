"""rbac.authorization.k8s.io/v1 messages (k8s.io/api/rbac/v1/generated.proto).

`rules` has no `omitempty` upstream, so an aggregated ClusterRole (no rules) prints `"rules": null`.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "rbac.authorization.k8s.io/v1"
KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")

define("Role", {
    1: "metadata ObjectMeta",
    2: "rules []PolicyRule!",
})
define("ClusterRole", {
    1: "metadata ObjectMeta",
    2: "rules []PolicyRule!",
    3: "aggregationRule AggregationRule?",
})
define("PolicyRule", {
    1: "verbs []string!",
    2: "apiGroups []string",
    3: "resources []string",
    4: "resourceNames []string",
    5: "nonResourceURLs []string",
})
define("AggregationRule", {
    1: "clusterRoleSelectors []LabelSelector",
})
define("RoleBinding", {
    1: "metadata ObjectMeta",
    2: "subjects []Subject",
    3: "roleRef RoleRef",
})
define("ClusterRoleBinding", {
    1: "metadata ObjectMeta",
    2: "subjects []Subject",
    3: "roleRef RoleRef",
})
define("Subject", {
    1: "kind string!",
    2: "apiGroup string",
    3: "name string!",
    4: "namespace string",
})
define("RoleRef", {
    1: "apiGroup string!",
    2: "kind string!",
    3: "name string!",
})
