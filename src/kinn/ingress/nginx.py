"""nginx as the ingress controller runs it: a child process in the controller's container, driven
the way ingress-nginx drives it.

A new configuration is first checked with `nginx -t` on a copy; only a text that passes replaces
nginx.conf, and `nginx -s reload` then makes the master start workers on it while the old ones
finish their requests. Certificates are files next to it, written before the test (nginx loads
them while checking). Everything lives in one private directory; `-e stderr` keeps nginx from
opening its compiled-in error log before it has read the configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from pathlib import Path
from typing import Iterable

from kinn.ingress.model import Certificate
from kinn.ingress.template import certificate_path

NGINX = Path("/usr/sbin/nginx")
STOP_TIMEOUT = 10.0  # seconds for a graceful quit (SIGQUIT) before SIGKILL


RULE = "-" * 79


class NginxError(RuntimeError):
    """nginx rejected a configuration or a signal; the message carries its exit status and output."""


class Nginx:
    def __init__(self, directory: Path, binary: Path = NGINX) -> None:
        self.directory = directory
        self.binary = binary
        self.process: asyncio.subprocess.Process | None = None

    @property
    def config_file(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def write_certificates(self, certificates: Iterable[Certificate]) -> None:
        """Write each certificate's PEM (certificate and key, owner-only) unless it is there already."""
        for certificate in certificates:
            path = certificate_path(self.directory, certificate)
            if path.exists() and path.read_text() == certificate.pem:
                continue
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write(path, certificate.pem, 0o600)

    def remove_certificates_except(self, keep: Iterable[Certificate]) -> None:
        wanted = {certificate_path(self.directory, certificate) for certificate in keep}
        for path in (self.directory / "ssl").glob("*.pem"):
            if path not in wanted:
                path.unlink(missing_ok=True)

    async def test(self, text: str) -> None:
        """Raise NginxError if `text` is not a valid configuration, framed as ingress-nginx frames
        `nginx -t`'s output ("it must be clear why nginx is not working")."""
        candidate = self.directory / "nginx.conf.test"
        _write(candidate, text, 0o644)
        try:
            await self._run("-t", "-c", str(candidate))
        except NginxError as e:
            raise NginxError(f"\n{RULE}\n{e}\n{RULE}\n") from None
        finally:
            candidate.unlink(missing_ok=True)

    async def start(self, text: str) -> None:
        """Start the master (in the foreground: `daemon off;`) on `text`; its output is the controller's."""
        _write(self.config_file, text, 0o644)
        self.process = await asyncio.create_subprocess_exec(
            str(self.binary), "-e", "stderr", "-p", str(self.directory), "-c", str(self.config_file),
            stdin=asyncio.subprocess.DEVNULL)

    async def reload(self, text: str) -> None:
        _write(self.config_file, text, 0o644)
        await self._run("-c", str(self.config_file), "-s", "reload")

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self) -> None:
        """Quit gracefully (SIGQUIT: finish open requests), SIGKILL after STOP_TIMEOUT."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    async def _run(self, *args: str) -> None:
        """Run an nginx command; its output goes through a file, not a pipe: nginx opens /dev/stdout and
        /dev/stderr by name, which fails on the socket pairs uvloop uses as pipes (ENXIO)."""
        with tempfile.TemporaryFile(dir=self.directory) as output:
            process = await asyncio.create_subprocess_exec(
                str(self.binary), "-e", "stderr", "-p", str(self.directory), *args,
                stdin=asyncio.subprocess.DEVNULL, stdout=output, stderr=output)
            code = await process.wait()
            output.seek(0)
            text = output.read().decode(errors="replace").strip()
        if code != 0:
            raise NginxError(f"Error: exit status {code}\n{text}")


def _write(path: Path, text: str, mode: int) -> None:
    """Replace `path` atomically: nginx never reads half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.chmod(partial, mode)
    partial.replace(path)
