"""authentication.k8s.io/v1 messages (k8s.io/api/authentication/v1/generated.proto): TokenRequest,
which `kubectl create token` POSTs as protobuf to `serviceaccounts/<name>/token`, and the
SelfSubjectReview of `kubectl auth whoami` (its UserInfo.extra, response-only, is not described).

Its spec fields have no `omitempty`: an unset expiration or bound object prints `null`.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "authentication.k8s.io/v1"
KINDS = ("TokenRequest", "SelfSubjectReview")

define("TokenRequest", {
    1: "metadata ObjectMeta",
    2: "spec TokenRequestSpec",
    3: "status TokenRequestStatus",
})
define("TokenRequestSpec", {
    1: "audiences []string!",
    4: "expirationSeconds int64?!",
    3: "boundObjectRef BoundObjectReference?!",
})
define("BoundObjectReference", {
    1: "kind string",
    2: "apiVersion string",
    3: "name string",
    4: "uid string",
})
define("TokenRequestStatus", {
    1: "token string!",
    2: "expirationTimestamp Time",
})
define("SelfSubjectReview", {
    1: "metadata ObjectMeta",
    2: "status SelfSubjectReviewStatus",
})
define("SelfSubjectReviewStatus", {
    1: "userInfo UserInfo",
})
define("UserInfo", {
    1: "username string",
    2: "uid string",
    3: "groups []string",
})
