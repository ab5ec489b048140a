"""The resources kinn serves: group, version, kind, names, scope, verbs and subresources.

One table drives discovery, routing, storage keys, OpenAPI and printing, so a resource is added
in one place. Names, short names and categories are those `kubectl api-resources` shows on a
Kubernetes 1.32 cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # The storage key segment; two group-versions can share one (core/v1 and events.k8s.io/v1 events).
    storage_name: str = ""
    singular: str = field(default="")

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if not self.storage_name:
            object.__setattr__(self, "storage_name", self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def qualified(self) -> str:
        """`deployments.apps`, as in error messages and RBAC."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def key_prefix(self, namespace: str | None = None) -> str:
        """`/registry/<resource>/` or `/registry/<resource>/<namespace>/`, as etcd and kine lay it out."""
        if namespace and self.namespaced:
            return f"/registry/{self.storage_name}/{namespace}/"
        return f"/registry/{self.storage_name}/"

    def key(self, namespace: str | None, name: str) -> str:
        return self.key_prefix(namespace) + name


def _r(group: str, version: str, kind: str, plural: str, **kw: object) -> Resource:
    return Resource(group, version, kind, plural, **kw)  # type: ignore[arg-type]


_ALL = ("all",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("", "v1", "Binding", "bindings", verbs=("create",)),
    _r("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _r("", "v1", "Endpoints", "endpoints", short_names=("ep",), singular="endpoints"),
    _r("", "v1", "Event", "events", short_names=("ev",)),
    _r("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _r("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",), subresources=("finalize", "status"),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _r("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("proxy", "status")),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=("status",)),
    _r("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",),
       subresources=("status",)),
    _r("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL,
       subresources=("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy",
                     "status")),
    _r("", "v1", "PodTemplate", "podtemplates"),
    _r("", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=_ALL,
       subresources=("scale", "status")),
    _r("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",), subresources=("token",)),
    _r("", "v1", "Service", "services", short_names=("svc",), categories=_ALL, subresources=("proxy", "status")),
    # apiregistration.k8s.io/v1 (stored only: kinn aggregates no servers)
    _r("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False,
       categories=("api-extensions",), subresources=("status",)),
    # apps/v1
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _r("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL, subresources=("status",)),
    _r("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL,
       subresources=("scale", "status")),
    _r("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL,
       subresources=("scale", "status")),
    _r("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL,
       subresources=("scale", "status")),
    # authentication.k8s.io/v1 and authorization.k8s.io/v1: reviews, answered and never stored
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False, verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False,
       verbs=("create",)),
    # batch/v1
    _r("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL, subresources=("status",)),
    _r("batch", "v1", "Job", "jobs", categories=_ALL, subresources=("status",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1: the same stored objects as core/v1 events, another shape
    _r("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), subresources=("status",)),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    # policy/v1
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",), subresources=("status",)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # scheduling.k8s.io/v1 (priority classes, used by the scheduler's preemption)
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",)),
    # storage.k8s.io/v1 (storage classes, used by the volume binder)
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",)),
)

# The order `/apis` lists groups in, as a 1.32 API server does.
GROUP_ORDER: tuple[str, ...] = (
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "batch",
    "coordination.k8s.io",
    "discovery.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "scheduling.k8s.io", "storage.k8s.io",
)


class ResourceTable:
    """Lookups over `RESOURCES` by group/version/plural and by group/kind."""

    def __init__(self, resources: tuple[Resource, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.group, r.version, r.kind): r for r in resources}

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def for_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_kind.get((group, version, kind))

    def group_versions(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for group in GROUP_ORDER:
            for r in self.resources:
                if r.group == group:
                    seen.setdefault(r.group_version)
        return list(seen)

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]


TABLE = ResourceTable()


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version
