"""authorization.k8s.io/v1 messages (k8s.io/api/authorization/v1/generated.proto): the reviews
`kubectl auth can-i` POSTs as protobuf (SelfSubjectAccessReview, and SelfSubjectRulesReview for
`--list`).

The field and label selector attributes of ResourceAttributes (1.31+) are not described; kubectl
does not send them.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "authorization.k8s.io/v1"
KINDS = ("SelfSubjectAccessReview", "SelfSubjectRulesReview")

define("SelfSubjectAccessReview", {
    1: "metadata ObjectMeta",
    2: "spec SelfSubjectAccessReviewSpec",
    3: "status SubjectAccessReviewStatus",
})
define("SelfSubjectAccessReviewSpec", {
    1: "resourceAttributes ResourceAttributes?",
    2: "nonResourceAttributes NonResourceAttributes?",
})
define("ResourceAttributes", {
    1: "namespace string",
    2: "verb string",
    3: "group string",
    4: "version string",
    5: "resource string",
    6: "subresource string",
    7: "name string",
})
define("NonResourceAttributes", {
    1: "path string",
    2: "verb string",
})
define("SubjectAccessReviewStatus", {
    1: "allowed bool!",
    4: "denied bool",
    2: "reason string",
    3: "evaluationError string",
})
define("SelfSubjectRulesReview", {
    1: "metadata ObjectMeta",
    2: "spec SelfSubjectRulesReviewSpec",
    3: "status SubjectRulesReviewStatus",
})
define("SelfSubjectRulesReviewSpec", {
    1: "namespace string",
})
define("SubjectRulesReviewStatus", {
    1: "resourceRules []ResourceRule!",
    2: "nonResourceRules []NonResourceRule!",
    3: "incomplete bool!",
    4: "evaluationError string",
})
define("ResourceRule", {
    1: "verbs []string!",
    2: "apiGroups []string",
    3: "resources []string",
    4: "resourceNames []string",
})
define("NonResourceRule", {
    1: "verbs []string!",
    2: "nonResourceURLs []string",
})
