"""core/v1 messages (k8s.io/api/core/v1/generated.proto): the kinds `kubectl create` sends as
protobuf (ConfigMap, Secret, Namespace, Service, ServiceAccount, ResourceQuota), the Pod `kubectl
debug --copy-to` and `kubectl debug node/…` send, and the pod template every workload kind embeds.

PodSpec and Container cover the fields manifests commonly set and every pod the API server returns
carries (the service-account token's projected volume, `securityContext: {}`), which a debug copy
sends back; rarer ones (affinity, topology spread, exotic volume sources, ...) are absent and so
skipped when sent. A Pod's status is skipped too: a create resets it.
"""

from kinn.api.protobuf.schema import define

API_VERSION = "v1"
KINDS = ("ConfigMap", "Secret", "Namespace", "Service", "ServiceAccount", "ResourceQuota", "Pod")

# --- the kinds ---------------------------------------------------------------------------------
define("ConfigMap", {
    1: "metadata ObjectMeta",
    4: "immutable bool?",
    2: "data {}string",
    3: "binaryData {}bytes",
})
define("Secret", {
    1: "metadata ObjectMeta",
    5: "immutable bool?",
    2: "data {}bytes",
    4: "stringData {}string",
    3: "type string",
})
define("Namespace", {
    1: "metadata ObjectMeta",
    2: "spec NamespaceSpec",
    3: "status NamespaceStatus",
})
define("NamespaceSpec", {
    1: "finalizers []string",
})
define("NamespaceStatus", {
    1: "phase string",
})
define("ServiceAccount", {
    1: "metadata ObjectMeta",
    2: "secrets []ObjectReference",
    3: "imagePullSecrets []LocalObjectReference",
    4: "automountServiceAccountToken bool?",
})
define("ResourceQuota", {
    1: "metadata ObjectMeta",
    2: "spec ResourceQuotaSpec",
    3: "status ResourceQuotaStatus",
})
define("ResourceQuotaSpec", {
    1: "hard {}Quantity",
    2: "scopes []string",
    3: "scopeSelector ScopeSelector?",
})
define("ScopeSelector", {
    1: "matchExpressions []ScopedResourceSelectorRequirement",
})
define("ScopedResourceSelectorRequirement", {
    1: "scopeName string!",
    2: "operator string!",
    3: "values []string",
})
define("ResourceQuotaStatus", {
    1: "hard {}Quantity",
    2: "used {}Quantity",
})

define("Pod", {
    1: "metadata ObjectMeta",
    2: "spec PodSpec",
    3: "status PodStatus",
})
define("PodStatus", {})

# --- Service -----------------------------------------------------------------------------------
define("Service", {
    1: "metadata ObjectMeta",
    2: "spec ServiceSpec",
    3: "status ServiceStatus",
})
define("ServiceSpec", {
    1: "ports []ServicePort",
    2: "selector {}string",
    3: "clusterIP string",
    18: "clusterIPs []string",
    4: "type string",
    5: "externalIPs []string",
    7: "sessionAffinity string",
    8: "loadBalancerIP string",
    9: "loadBalancerSourceRanges []string",
    10: "externalName string",
    11: "externalTrafficPolicy string",
    12: "healthCheckNodePort int32",
    13: "publishNotReadyAddresses bool",
    14: "sessionAffinityConfig SessionAffinityConfig?",
    19: "ipFamilies []string",
    17: "ipFamilyPolicy string?",
    20: "allocateLoadBalancerNodePorts bool?",
    21: "loadBalancerClass string?",
    22: "internalTrafficPolicy string?",
    23: "trafficDistribution string?",
})
define("ServicePort", {
    1: "name string",
    2: "protocol string",
    6: "appProtocol string?",
    3: "port int32!",
    4: "targetPort IntOrString",
    5: "nodePort int32",
})
define("SessionAffinityConfig", {
    1: "clientIP ClientIPConfig?",
})
define("ClientIPConfig", {
    1: "timeoutSeconds int32?",
})
define("ServiceStatus", {
    1: "loadBalancer LoadBalancerStatus",
    2: "conditions []Condition",
})
define("LoadBalancerStatus", {
    1: "ingress []LoadBalancerIngress",
})
define("LoadBalancerIngress", {
    1: "ip string",
    2: "hostname string",
    3: "ipMode string?",
    4: "ports []PortStatus",
})
define("PortStatus", {
    1: "port int32!",
    2: "protocol string!",
    3: "error string?",
})

# --- references --------------------------------------------------------------------------------
define("ObjectReference", {
    1: "kind string",
    2: "namespace string",
    3: "name string",
    4: "uid string",
    5: "apiVersion string",
    6: "resourceVersion string",
    7: "fieldPath string",
})
define("LocalObjectReference", {
    1: "name string",
})
define("TypedLocalObjectReference", {
    1: "apiGroup string?!",
    2: "kind string!",
    3: "name string!",
})

# --- the pod template --------------------------------------------------------------------------
define("PodTemplateSpec", {
    1: "metadata ObjectMeta",
    2: "spec PodSpec",
})
define("PodSpec", {
    1: "volumes []Volume",
    20: "initContainers []Container",
    2: "containers []Container!",
    3: "restartPolicy string",
    4: "terminationGracePeriodSeconds int64?",
    5: "activeDeadlineSeconds int64?",
    6: "dnsPolicy string",
    7: "nodeSelector {}string",
    8: "serviceAccountName string",
    9: "serviceAccount string",
    21: "automountServiceAccountToken bool?",
    10: "nodeName string",
    11: "hostNetwork bool",
    12: "hostPID bool",
    13: "hostIPC bool",
    27: "shareProcessNamespace bool?",
    14: "securityContext PodSecurityContext?",
    15: "imagePullSecrets []LocalObjectReference",
    16: "hostname string",
    17: "subdomain string",
    19: "schedulerName string",
    22: "tolerations []Toleration",
    24: "priorityClassName string",
    25: "priority int32?",
    29: "runtimeClassName string?",
    30: "enableServiceLinks bool?",
    31: "preemptionPolicy string?",
    32: "overhead {}Quantity",
    35: "setHostnameAsFQDN bool?",
    37: "hostUsers bool?",
    40: "resources ResourceRequirements?",
})
define("Container", {
    1: "name string!",
    2: "image string",
    3: "command []string",
    4: "args []string",
    5: "workingDir string",
    6: "ports []ContainerPort",
    19: "envFrom []EnvFromSource",
    7: "env []EnvVar",
    8: "resources ResourceRequirements",
    24: "restartPolicy string?",
    9: "volumeMounts []VolumeMount",
    10: "livenessProbe Probe?",
    11: "readinessProbe Probe?",
    22: "startupProbe Probe?",
    12: "lifecycle Lifecycle?",
    13: "terminationMessagePath string",
    20: "terminationMessagePolicy string",
    14: "imagePullPolicy string",
    15: "securityContext SecurityContext?",
    16: "stdin bool",
    17: "stdinOnce bool",
    18: "tty bool",
})
define("ContainerPort", {
    1: "name string",
    2: "hostPort int32",
    3: "containerPort int32!",
    4: "protocol string",
    5: "hostIP string",
})
define("EnvVar", {
    1: "name string!",
    2: "value string",
    3: "valueFrom EnvVarSource?",
})
define("EnvVarSource", {
    1: "fieldRef ObjectFieldSelector?",
    2: "resourceFieldRef ResourceFieldSelector?",
    3: "configMapKeyRef ConfigMapKeySelector?",
    4: "secretKeyRef SecretKeySelector?",
})
define("ObjectFieldSelector", {
    1: "apiVersion string",
    2: "fieldPath string!",
})
define("ResourceFieldSelector", {
    1: "containerName string",
    2: "resource string!",
    3: "divisor Quantity",
})
define("ConfigMapKeySelector", {
    1: "... LocalObjectReference",
    2: "key string!",
    3: "optional bool?",
})
define("SecretKeySelector", {
    1: "... LocalObjectReference",
    2: "key string!",
    3: "optional bool?",
})
define("EnvFromSource", {
    1: "prefix string",
    2: "configMapRef ConfigMapEnvSource?",
    3: "secretRef SecretEnvSource?",
})
define("ConfigMapEnvSource", {
    1: "... LocalObjectReference",
    2: "optional bool?",
})
define("SecretEnvSource", {
    1: "... LocalObjectReference",
    2: "optional bool?",
})
define("ResourceRequirements", {
    1: "limits {}Quantity",
    2: "requests {}Quantity",
    3: "claims []ResourceClaim",
})
define("ResourceClaim", {
    1: "name string!",
    2: "request string",
})
define("VolumeMount", {
    1: "name string!",
    2: "readOnly bool",
    7: "recursiveReadOnly string?",
    3: "mountPath string!",
    4: "subPath string",
    5: "mountPropagation string?",
    6: "subPathExpr string",
})
define("Probe", {
    1: "... ProbeHandler",
    2: "initialDelaySeconds int32",
    3: "timeoutSeconds int32",
    4: "periodSeconds int32",
    5: "successThreshold int32",
    6: "failureThreshold int32",
    7: "terminationGracePeriodSeconds int64?",
})
define("ProbeHandler", {
    1: "exec ExecAction?",
    2: "httpGet HTTPGetAction?",
    3: "tcpSocket TCPSocketAction?",
    4: "grpc GRPCAction?",
})
define("ExecAction", {
    1: "command []string",
})
define("HTTPGetAction", {
    1: "path string",
    2: "port IntOrString",
    3: "host string",
    4: "scheme string",
    5: "httpHeaders []HTTPHeader",
})
define("HTTPHeader", {
    1: "name string!",
    2: "value string!",
})
define("TCPSocketAction", {
    1: "port IntOrString",
    2: "host string",
})
define("GRPCAction", {
    1: "port int32!",
    2: "service string?!",
})
define("Lifecycle", {
    1: "postStart LifecycleHandler?",
    2: "preStop LifecycleHandler?",
})
define("LifecycleHandler", {
    1: "exec ExecAction?",
    2: "httpGet HTTPGetAction?",
    3: "tcpSocket TCPSocketAction?",
    4: "sleep SleepAction?",
})
define("SleepAction", {
    1: "seconds int64!",
})
define("PodSecurityContext", {
    2: "runAsUser int64?",
    6: "runAsGroup int64?",
    3: "runAsNonRoot bool?",
    4: "supplementalGroups []int64",
    5: "fsGroup int64?",
    7: "sysctls []Sysctl",
    9: "fsGroupChangePolicy string?",
    10: "seccompProfile SeccompProfile?",
})
define("Sysctl", {
    1: "name string!",
    2: "value string!",
})
define("SecurityContext", {
    1: "capabilities Capabilities?",
    2: "privileged bool?",
    4: "runAsUser int64?",
    8: "runAsGroup int64?",
    5: "runAsNonRoot bool?",
    6: "readOnlyRootFilesystem bool?",
    7: "allowPrivilegeEscalation bool?",
    9: "procMount string?",
    11: "seccompProfile SeccompProfile?",
})
define("Capabilities", {
    1: "add []string",
    2: "drop []string",
})
define("SeccompProfile", {
    1: "type string!",
    2: "localhostProfile string?",
})
define("Toleration", {
    1: "key string",
    2: "operator string",
    3: "value string",
    4: "effect string",
    5: "tolerationSeconds int64?",
})

# --- volumes -----------------------------------------------------------------------------------
define("Volume", {
    1: "name string!",
    2: "... VolumeSource",
})
define("VolumeSource", {
    1: "hostPath HostPathVolumeSource?",
    2: "emptyDir EmptyDirVolumeSource?",
    6: "secret SecretVolumeSource?",
    10: "persistentVolumeClaim PersistentVolumeClaimVolumeSource?",
    16: "downwardAPI DownwardAPIVolumeSource?",
    19: "configMap ConfigMapVolumeSource?",
    26: "projected ProjectedVolumeSource?",
})
define("HostPathVolumeSource", {
    1: "path string!",
    2: "type string?",
})
define("EmptyDirVolumeSource", {
    1: "medium string",
    2: "sizeLimit Quantity?",
})
define("SecretVolumeSource", {
    1: "secretName string",
    2: "items []KeyToPath",
    3: "defaultMode int32?",
    4: "optional bool?",
})
define("PersistentVolumeClaimVolumeSource", {
    1: "claimName string!",
    2: "readOnly bool",
})
define("ConfigMapVolumeSource", {
    1: "... LocalObjectReference",
    2: "items []KeyToPath",
    3: "defaultMode int32?",
    4: "optional bool?",
})
define("KeyToPath", {
    1: "key string!",
    2: "path string!",
    3: "mode int32?",
})
define("DownwardAPIVolumeSource", {
    1: "items []DownwardAPIVolumeFile",
    2: "defaultMode int32?",
})
define("DownwardAPIVolumeFile", {
    1: "path string!",
    2: "fieldRef ObjectFieldSelector?",
    3: "resourceFieldRef ResourceFieldSelector?",
    4: "mode int32?",
})
define("ProjectedVolumeSource", {
    1: "sources []VolumeProjection!",
    2: "defaultMode int32?",
})
define("VolumeProjection", {
    1: "secret SecretProjection?",
    2: "downwardAPI DownwardAPIProjection?",
    3: "configMap ConfigMapProjection?",
    4: "serviceAccountToken ServiceAccountTokenProjection?",
})
define("SecretProjection", {
    1: "... LocalObjectReference",
    2: "items []KeyToPath",
    4: "optional bool?",
})
define("ConfigMapProjection", {
    1: "... LocalObjectReference",
    2: "items []KeyToPath",
    4: "optional bool?",
})
define("DownwardAPIProjection", {
    1: "items []DownwardAPIVolumeFile",
})
define("ServiceAccountTokenProjection", {
    1: "audience string",
    2: "expirationSeconds int64?",
    3: "path string!",
})
