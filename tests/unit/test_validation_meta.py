"""ObjectMeta, label and selector validation word their errors exactly as the API server does."""

from kinn.api.field import Path
from kinn.api.validation.meta import (
    validate_immutable_field,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
    validate_object_meta_update,
)
from kinn.api.validation.names import (
    is_c_identifier,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_valid_cidr,
    is_valid_ip,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns_label,
    name_is_dns_subdomain,
    validate_path_segment_name,
)

DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def strings(errs) -> list[str]:
    return [str(e) for e in errs]


def test_dns_names() -> None:
    assert is_dns1123_label("web-1") == []
    assert is_dns1123_label("Web") == [DNS_LABEL_MSG]
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert is_dns1123_subdomain("a.b-c") == []
    assert is_dns1123_subdomain("a_b") == [DNS_SUBDOMAIN_MSG]
    assert is_dns1035_label("1abc")[0].startswith("a DNS-1035 label must consist of")


def test_generate_name_may_end_with_dash() -> None:
    assert name_is_dns_subdomain("web-", True) == []
    assert name_is_dns_subdomain("web-", False) == [DNS_SUBDOMAIN_MSG]


def test_ports_identifiers_and_addresses() -> None:
    assert is_valid_port_num(0) == ["must be between 1 and 65535, inclusive"]
    assert is_valid_port_name("http") == []
    assert is_valid_port_name("HTTP") == ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", "must contain at least one letter (a-z)"]
    assert is_valid_port_name("a--b") == ["must not contain consecutive hyphens"]
    assert is_c_identifier("MY_VAR") == []
    assert is_env_var_name("my.var-1") == []
    assert is_env_var_name("A=B") == [
        "a valid environment variable name must consist only of printable ASCII characters other than '='"
    ]
    assert is_valid_ip("10.0.0.1") == [] and is_valid_ip("2001:db8::1") == []
    assert is_valid_ip("10.0.0") == ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    assert is_valid_cidr("10.0.0.1/24") == []
    assert is_valid_cidr("10.0.0.0") == ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    assert validate_path_segment_name("..", False) == ["may not be '..'"]
    assert validate_path_segment_name("a/b%", False) == ["may not contain '/'", "may not contain '%'"]


def test_object_meta_requires_name_and_namespace() -> None:
    errs = validate_object_meta({"metadata": {}}, True, name_is_dns_subdomain)
    assert strings(errs) == [
        "metadata.name: Required value: name or generateName is required",
        "metadata.namespace: Required value",
    ]


def test_object_meta_namespace_forbidden_on_cluster_scoped() -> None:
    errs = validate_object_meta({"metadata": {"name": "n", "namespace": "x"}}, False, name_is_dns_label)
    assert strings(errs) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_invalid_name_and_labels() -> None:
    obj = {"metadata": {"name": "Web", "namespace": "default", "labels": {"app": "-bad", "a/b/c": "x"}}}
    errs = strings(validate_object_meta(obj, True, name_is_dns_label))
    assert errs[0] == f'metadata.name: Invalid value: "Web": {DNS_LABEL_MSG}'
    assert errs[1].startswith('metadata.labels: Invalid value: "a/b/c": a qualified name must consist of')
    assert errs[2].startswith('metadata.labels: Invalid value: "-bad": a valid label must be an empty string')


def test_annotation_size_limit() -> None:
    obj = {"metadata": {"name": "a", "annotations": {"big": "x" * (256 * 1024)}}}
    assert strings(validate_object_meta(obj, False, name_is_dns_label)) == [
        "metadata.annotations: Too long: must have at most 262144 bytes"
    ]


def test_two_controllers() -> None:
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "uid": "u", "controller": True}
    refs = [dict(ref, name="a"), dict(ref, name="b")]
    errs = strings(validate_object_meta({"metadata": {"name": "p", "ownerReferences": refs}}, False, name_is_dns_label))
    assert errs[0].endswith(
        'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b'
    )


def test_update_keeps_identity() -> None:
    old = {"metadata": {"name": "a", "namespace": "d", "uid": "1", "resourceVersion": "5"}}
    new = {"metadata": {"name": "a", "namespace": "d", "uid": "2", "resourceVersion": "5"}}
    assert strings(validate_object_meta_update(new, old)) == ['metadata.uid: Invalid value: "2": field is immutable']
    assert strings(validate_object_meta_update({"metadata": {"name": "a", "namespace": "d", "uid": "1"}}, old)) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update'
    ]


def test_no_new_finalizers_while_terminating() -> None:
    old = {"metadata": {"name": "a", "resourceVersion": "1", "deletionTimestamp": "t", "finalizers": ["x/a"]}}
    new = {"metadata": {"name": "a", "resourceVersion": "1", "deletionTimestamp": "t", "finalizers": ["x/a", "x/b"]}}
    assert strings(validate_object_meta_update(new, old)) == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, '
        'found new finalizers []string{"x/b"}'
    ]


def test_immutable_field() -> None:
    assert strings(validate_immutable_field("b", "a", Path("spec", "clusterIP"))) == [
        'spec.clusterIP: Invalid value: "b": field is immutable'
    ]


def test_label_selector() -> None:
    sel = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In"},
            {"key": "x", "operator": "Exists", "values": ["a"]},
            {"key": "y", "operator": "Gt", "values": ["1"]},
        ],
    }
    assert strings(validate_label_selector(sel, Path("spec", "selector"))) == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Gt": not a valid selector operator',
    ]
    assert validate_labels({"app.kubernetes.io/name": "web"}, Path("l")) == []
