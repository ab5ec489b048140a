"""The name part of a pods/proxy or services/proxy URL, as upstream's net.SplitSchemeNamePort."""

from __future__ import annotations

import pytest

from kinn.api.errors import StatusError
from kinn.apiserver.resourceproxy import split_scheme_name_port


@pytest.mark.parametrize("target, parts", [
    ("web", ("http", "web", "")),
    ("web:80", ("http", "web", "80")),
    ("web:http", ("http", "web", "http")),
    ("https:web:443", ("https", "web", "443")),
    (":web:80", ("http", "web", "80")),
])
def test_scheme_name_and_port(target: str, parts: tuple[str, str, str]) -> None:
    assert split_scheme_name_port(target) == parts


@pytest.mark.parametrize("target", ["ftp:web:21", "a:b:c:d", ":80", "https::443"])
def test_what_names_no_target_is_a_bad_request(target: str) -> None:
    with pytest.raises(StatusError) as raised:
        split_scheme_name_port(target)
    assert raised.value.code == 400
