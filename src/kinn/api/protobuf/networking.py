"""networking.k8s.io/v1 messages (k8s.io/api/networking/v1/generated.proto): Ingress."""

from kinn.api.protobuf.schema import define

API_VERSION = "networking.k8s.io/v1"
KINDS = ("Ingress",)

define("Ingress", {
    1: "metadata ObjectMeta",
    2: "spec IngressSpec",
    3: "status IngressStatus",
})
define("IngressSpec", {
    4: "ingressClassName string?",
    1: "defaultBackend IngressBackend?",
    2: "tls []IngressTLS",
    3: "rules []IngressRule",
})
define("IngressBackend", {
    4: "service IngressServiceBackend?",
    3: "resource TypedLocalObjectReference?",
})
define("IngressServiceBackend", {
    1: "name string!",
    2: "port ServiceBackendPort",
})
define("ServiceBackendPort", {
    1: "name string",
    2: "number int32",
})
define("IngressTLS", {
    1: "hosts []string",
    2: "secretName string",
})
define("IngressRule", {
    1: "host string",
    2: "... IngressRuleValue",
})
define("IngressRuleValue", {
    1: "http HTTPIngressRuleValue?",
})
define("HTTPIngressRuleValue", {
    1: "paths []HTTPIngressPath!",
})
define("HTTPIngressPath", {
    1: "path string",
    3: "pathType string?",
    2: "backend IngressBackend",
})
define("IngressStatus", {
    1: "loadBalancer IngressLoadBalancerStatus",
})
define("IngressLoadBalancerStatus", {
    1: "ingress []IngressLoadBalancerIngress",
})
define("IngressLoadBalancerIngress", {
    1: "ip string",
    2: "hostname string",
    4: "ports []IngressPortStatus",
})
define("IngressPortStatus", {
    1: "port int32!",
    2: "protocol string!",
    3: "error string?",
})
