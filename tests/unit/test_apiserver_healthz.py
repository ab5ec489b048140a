"""The API server's health endpoints (`kinn.apiserver.healthz`), as k8s.io/apiserver answers them."""

from __future__ import annotations

from kinn.apiserver.healthz import health_check


def test_plain_endpoints_answer_ok() -> None:
    for path in ("/healthz", "/livez", "/readyz", "/readyz/"):
        assert health_check(path, {}, []) == (200, "ok")


def test_verbose_lists_every_check_then_the_verdict() -> None:
    assert health_check("/readyz", {"verbose": ""}, []) == (200, (
        "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]etcd-readiness ok\n[+]shutdown ok\nreadyz check passed\n"))
    assert health_check("/livez", {"verbose": ""}, [])[1].endswith("[+]etcd ok\nlivez check passed\n")


def test_one_check_by_name() -> None:
    assert health_check("/livez/etcd", {}, []) == (200, "ok")
    assert health_check("/readyz/shutdown", {}, []) == (200, "ok")
    assert health_check("/livez/shutdown", {}, []) is None  # readyz only, as upstream
    assert health_check("/healthz/nonexistent", {}, []) is None


def test_excluded_checks_and_unknown_names() -> None:
    status, text = health_check("/readyz", {"verbose": "", "exclude": "etcd"}, ["etcd", "nope", "bogus"])
    assert status == 200
    assert "[+]etcd excluded: ok\n" in text
    assert text.endswith('warn: some health checks cannot be excluded: no matches for "bogus","nope"\n'
                         "readyz check passed\n")


def test_other_paths_are_not_health_checks() -> None:
    assert health_check("/version", {}, []) is None
    assert health_check("/", {}, []) is None
