"""The API server's loopback socket: its address, however deep the data directory, and its tokens."""

from __future__ import annotations

import socket
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from kinn.apiserver.authn import AUTHENTICATED_GROUP, Authenticator
from kinn.apiserver.certs import ensure_pki
from kinn.apiserver.server import unix_address
from kinn.storage.sqlite import SQLiteStore


def test_a_short_path_is_its_own_address(tmp_path: Path) -> None:
    assert unix_address(tmp_path / "apiserver.sock") == str(tmp_path / "apiserver.sock")


def test_a_path_too_long_for_sun_path_is_reached_through_its_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    address = unix_address(deep / "apiserver.sock")
    assert address.startswith("/proc/self/fd/") and len(address) < 108
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(address)
        server.listen()
        client.connect(address)
        server.accept()[0].close()
    assert (deep / "apiserver.sock").is_socket()  # bound at the real path


async def test_issued_tokens_authenticate_as_their_user(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db")
    authenticator = Authenticator(ensure_pki(tmp_path / "pki", ["127.0.0.1"]), store)
    token = authenticator.issue_token("system:kube-scheduler")
    assert authenticator.issue_token("system:kube-scheduler") != token

    def bearing(token: str) -> web.Request:
        return make_mocked_request("GET", "/api/v1/pods", headers={"Authorization": f"Bearer {token}"})

    assert await authenticator.authenticate(bearing(token)) == ("system:kube-scheduler", (AUTHENTICATED_GROUP,))
    assert await authenticator.authenticate(bearing(token[:-1])) is None
    store.close()
