"""Which Ingresses this controller serves (ingress-nginx's GetIngressClass).

In order: `spec.ingressClassName` names an IngressClass whose `spec.controller` is this
controller's (`k8s.io/ingress-nginx`); else the legacy annotation `kubernetes.io/ingress.class`
equals the class name (`nginx`); else only with --watch-ingress-without-class. An Ingress without
a class normally gets one from the API server: the DefaultIngressClass admission plugin writes
the IngressClass marked `ingressclass.kubernetes.io/is-default-class: "true"` into it on create.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from kinn.api.validation.networking import INGRESS_CLASS_ANNOTATION

Obj = dict[str, Any]

CONTROLLER_CLASS = "k8s.io/ingress-nginx"
INGRESS_CLASS = "nginx"


@dataclass(frozen=True)
class ClassConfiguration:
    """--controller-class, --ingress-class and --watch-ingress-without-class."""

    controller: str = CONTROLLER_CLASS
    annotation_value: str = INGRESS_CLASS
    watch_without_class: bool = False


def is_ours(ingress: Obj, classes: Mapping[str, Obj], config: ClassConfiguration) -> bool:
    """`classes` are the cluster's IngressClasses by name."""
    class_name = (ingress.get("spec") or {}).get("ingressClassName")
    if class_name is not None:
        ingress_class = classes.get(class_name)
        return ingress_class is not None and (ingress_class.get("spec") or {}).get("controller") == config.controller
    annotation = ((ingress.get("metadata") or {}).get("annotations") or {}).get(INGRESS_CLASS_ANNOTATION)
    if annotation is not None:
        return annotation == config.annotation_value
    return config.watch_without_class
