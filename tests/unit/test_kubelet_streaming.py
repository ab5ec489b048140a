"""The pure pieces of `kubectl logs`/`exec`: log options, CRI line reading, tail, which run's log,
the remote command channels and statuses, the API server's WebSocket frames and kubelet lookup."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from aiohttp import WSMessage, WSMsgType

from kinn.api.errors import StatusError
from kinn.apiserver import proxy, websocket
from kinn.kubelet import logs, remotecommand
from kinn.kubelet.status import ContainerRecord

SECOND = 1_000_000_000


def cri(seconds: int, stream: str, tag: str, content: str) -> str:
    return f"2024-01-02T03:04:{seconds:02d}.{seconds * 10:09d}Z {stream} {tag} {content}\n"


# -- log options ------------------------------------------------------------------------------

def test_log_options_decode_validate_and_alias_tail() -> None:
    options = logs.parse_log_options({"follow": "true", "tail": "5", "sinceSeconds": "10", "timestamps": "1"},
                                     now_ns=100 * SECOND)
    assert options == logs.LogOptions(follow=True, timestamps=True, tail_lines=5, since_ns=90 * SECOND)
    assert logs.parse_log_options({"tail": "all"}).tail_lines is None
    assert logs.parse_log_options({"sinceTime": "1970-01-01T00:01:00Z"}).since_ns == 60 * SECOND
    for query, status in (({"follow": "yes"}, 400), ({"tailLines": "x"}, 400), ({"tailLines": "-1"}, 422),
                          ({"limitBytes": "0"}, 422), ({"sinceSeconds": "0"}, 422),
                          ({"sinceSeconds": "5", "sinceTime": "2024-01-02T03:04:05Z"}, 422)):
        with pytest.raises(logs.LogOptionsError) as raised:
            logs.parse_log_options(query)
        assert raised.value.status == status
    assert str(raised.value) == '{"message": "Invalid request."}'


def test_cri_lines_render_as_the_containers_output() -> None:
    line = logs.parse_line(b"2024-01-02T03:04:05.120000000Z stderr P half a line")
    assert (line.stream, line.partial, line.content) == ("stderr", True, b"half a line")
    assert logs.render(line, timestamps=False) == b"half a line"
    assert logs.render(line, timestamps=True) == b"2024-01-02T03:04:05.12Z half a line"
    whole = logs.parse_line(b"2024-01-02T03:04:05.000000000Z stdout F ")
    assert logs.render(whole, timestamps=True) == b"2024-01-02T03:04:05Z \n"
    with pytest.raises(ValueError):
        logs.parse_line(b"garbage")


def test_tail_offset_counts_lines_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(3000)))  # several tail blocks
    fd = os.open(path, os.O_RDONLY)
    try:
        data = path.read_bytes()
        assert data[logs.tail_offset(fd, 2):] == b"line 2998\nline 2999\n"
        assert logs.tail_offset(fd, 0) == len(data)
        assert logs.tail_offset(fd, 5000) == 0
    finally:
        os.close(fd)


def read_log(path: Path, options: logs.LogOptions) -> list[tuple[str, bytes]]:
    written: list[tuple[str, bytes]] = []

    async def write(stream: str, data: bytes) -> None:
        written.append((stream, data))

    asyncio.run(logs.stream_log(path, options, lambda: False, write))
    return written


def test_stream_log_since_limit_and_streams(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_text(cri(1, "stdout", "F", "old") + cri(2, "stdout", "P", "new ") + cri(2, "stdout", "F", "line")
                    + cri(3, "stderr", "F", "oops") + cri(4, "stdout", "F", "end"))
    assert read_log(path, logs.LogOptions()) == [("stdout", b"old\nnew line\n"), ("stderr", b"oops\n"),
                                                 ("stdout", b"end\n")]
    since = logs.parse_rfc3339("2024-01-02T03:04:02Z")
    assert b"".join(data for _, data in read_log(path, logs.LogOptions(since_ns=since))) == b"new line\noops\nend\n"
    assert read_log(path, logs.LogOptions(limit_bytes=6)) == [("stdout", b"old\nne")]
    assert read_log(path, logs.LogOptions(tail_lines=1)) == [("stdout", b"end\n")]


def test_follow_reads_what_is_written_until_the_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_text(cri(1, "stdout", "F", "first"))

    async def follow() -> bytes:
        written, running = [], True

        async def write(_stream: str, data: bytes) -> None:
            written.append(data)
            nonlocal running
            if data == b"first\n":  # the run writes one more line, then ends
                with path.open("a") as log:
                    log.write(cri(2, "stdout", "F", "second"))
                running = False

        await asyncio.wait_for(logs.stream_log(path, logs.LogOptions(follow=True), lambda: running, write), 5)
        return b"".join(written)

    assert asyncio.run(follow()) == b"first\nsecond\n"


def test_which_run_logs_show() -> None:
    waiting = ContainerRecord("app", "busybox", waiting_reason="ContainerCreating")
    with pytest.raises(logs.LogsUnavailable, match='container "app" in pod "p" is waiting to start: ContainerCreating'):
        logs.log_run(waiting, "p", previous=False)
    with pytest.raises(logs.LogsUnavailable, match='previous terminated container "app" in pod "p" not found'):
        logs.log_run(waiting, "p", previous=True)
    pulling = ContainerRecord("app", "nope", waiting_reason="ImagePullBackOff")
    with pytest.raises(logs.LogsUnavailable, match="trying and failing to pull image"):
        logs.log_run(pulling, "p", previous=False)
    # Backing off after run 0 ended: both the current and the previous log are run 0's.
    backing_off = ContainerRecord("app", "busybox", last_terminated={"exitCode": 1}, waiting_reason="CrashLoopBackOff")
    assert logs.log_run(backing_off, "p", previous=False) == (0, False)
    assert logs.log_run(backing_off, "p", previous=True) == (0, False)


# -- remote command ---------------------------------------------------------------------------

def test_stream_options_as_the_kubelet_reads_them() -> None:
    options = remotecommand.StreamOptions.from_query({"stdin": "1", "stdout": "1", "stderr": "1", "tty": "1"})
    assert options == remotecommand.StreamOptions(stdin=True, stdout=True, stderr=False, tty=True)
    with pytest.raises(remotecommand.StreamOptionsError, match="at least 1 of stdin, stdout, stderr"):
        remotecommand.StreamOptions.from_query({"stdout": "true"})  # "1" only, as the kubelet


def test_channels_and_statuses() -> None:
    assert remotecommand.frame(remotecommand.STDERR, b"oops") == b"\x02oops"
    assert remotecommand.unframe(b"\xff\x00") == (remotecommand.CLOSE, b"\x00")
    assert remotecommand.unframe(b"") == (-1, b"")
    status = remotecommand.exit_status(["sh", "-c", "exit 3"], 3)
    assert status["reason"] == "NonZeroExitCode" and status["details"] == {
        "causes": [{"reason": "ExitCode", "message": "3"}]}
    assert status["message"] == ("command terminated with non-zero exit code: error executing command "
                                 "[sh -c exit 3], exit code 3")
    assert remotecommand.success_status() == {"metadata": {}, "status": "Success"}
    sizes, rest = remotecommand.terminal_sizes(b'{"Width":80,"Height":24}{"Width":100,"Height":30}{"Wid')
    assert (sizes, rest) == ([(80, 24), (100, 30)], b'{"Wid')


def test_client_frames_binary_or_text() -> None:
    """The Python client's `write_stdin("…")` and resize JSON come as text frames: read them, as
    upstream's wsstream does, not only binary ones."""
    binary = WSMessage(WSMsgType.BINARY, b"\x00hi\n", None)
    text = WSMessage(WSMsgType.TEXT, '\x04{"Width":100,"Height":33}', None)
    assert remotecommand.unframe(remotecommand.client_frame(binary)) == (remotecommand.STDIN, b"hi\n")
    assert remotecommand.unframe(remotecommand.client_frame(text)) == (remotecommand.RESIZE,
                                                                        b'{"Width":100,"Height":33}')
    assert remotecommand.client_frame(WSMessage(WSMsgType.CLOSE, 1000, "")) is None


# -- the API server's side --------------------------------------------------------------------

def test_websocket_frames_round_trip() -> None:
    assert websocket.accept_value("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3
    for size in (0, 5, 200, 70_000):
        payload = os.urandom(size)
        encoded = websocket.encode_frame(websocket.BINARY, payload, mask_key=b"\x01\x02\x03\x04")
        assert encoded[1] & 0x80  # a client's frames are masked

        async def decode() -> websocket.Message:
            reader = asyncio.StreamReader()
            reader.feed_data(encoded)
            reader.feed_eof()
            return await websocket.read_message(reader)

        assert asyncio.run(decode()) == websocket.Message(websocket.BINARY, payload)
    close = websocket.Message(websocket.CLOSE, websocket.close_payload(1000))
    assert close.close_code == 1000 and websocket.Message(websocket.CLOSE, b"").close_code == 1005


def test_fragmented_messages_are_joined() -> None:
    first = bytes((websocket.BINARY, 2)) + b"ab"  # not final, unmasked (as a server sends)
    last = bytes((0x80 | websocket.CONTINUATION, 1)) + b"c"

    async def decode() -> websocket.Message:
        reader = asyncio.StreamReader()
        reader.feed_data(first + last)
        return await websocket.read_message(reader)

    assert asyncio.run(decode()) == websocket.Message(websocket.BINARY, b"abc")


def pod(*containers: str, init: tuple[str, ...] = ()) -> dict[str, object]:
    return {"metadata": {"name": "web"}, "spec": {"containers": [{"name": c} for c in containers],
                                                  "initContainers": [{"name": c} for c in init]}}


def test_container_validation_texts() -> None:
    assert proxy.validate_container(pod("app"), "") == "app"
    assert proxy.validate_container(pod("a", "b", init=("setup",)), "setup") == "setup"
    with pytest.raises(StatusError, match=r"^a container name must be specified for pod web, choose one of: "
                                          r"\[setup a b\]$"):
        proxy.validate_container(pod("a", "b", init=("setup",)), "")
    with pytest.raises(StatusError, match="^container nope is not valid for pod web$"):
        proxy.validate_container(pod("app"), "nope")


def test_log_options_validation_at_the_api() -> None:
    proxy.validate_log_options("web", {"tailLines": "0", "limitBytes": "1"})
    with pytest.raises(StatusError) as raised:
        proxy.validate_log_options("web", {"tailLines": "-1", "sinceSeconds": "1", "sinceTime": "x"})
    assert raised.value.code == 422 and raised.value.message.startswith(
        'PodLogOptions "web" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, ')
    assert "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified]" in raised.value.message


def test_kubelet_replies_become_statuses() -> None:
    assert proxy.kubelet_error(400, 'container "a" in pod "web" is waiting to start: ContainerCreating', "web") \
        .status()["reason"] == "BadRequest"
    not_found = proxy.kubelet_error(404, 'pod "web" does not exist', "web")
    assert (not_found.reason, not_found.message) == ("NotFound", "the server could not find the requested resource")
    assert proxy.kubelet_error(500, "boom", "web").message == "Internal error occurred: boom"
    assert proxy.stream_params("exec", {"stdin": "true", "stdout": "1", "tty": "false"}, ["sh", "-c", "x"]) == [
        ("stdin", "1"), ("stdout", "1"), ("command", "sh"), ("command", "-c"), ("command", "x")]
    assert proxy.query_bool({"follow": ""}, "follow") and not proxy.query_bool({"follow": "FALSE"}, "follow")
    assert json.loads(json.dumps(remotecommand.internal_error_status("x")))["code"] == 500
