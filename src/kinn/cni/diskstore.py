"""host-local's on-disk store (ipam/host-local/backend/disk), byte for byte: one file per address
named by the address and holding `<containerID>\\r\\n<ifname>`, `last_reserved_ip.<set index>`,
and a `lock` file flocked around every operation so concurrent plugin runs do not collide."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

DEFAULT_DATA_DIR = Path("/var/lib/cni/networks")
LINE_BREAK = "\r\n"


class Store:
    def __init__(self, network: str, data_dir: Path = DEFAULT_DATA_DIR) -> None:
        self.dir = data_dir / network
        self._lock_fd: int | None = None

    def __enter__(self) -> "Store":
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        self._lock_fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._lock_fd is not None
        os.close(self._lock_fd)  # closing releases the flock
        self._lock_fd = None

    def reserve(self, container_id: str, ifname: str, ip: str, range_set: int) -> bool:
        """Claim `ip` (False if taken) and remember it as the last reserved address of the set."""
        try:
            fd = os.open(self.dir / ip, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", newline="") as f:
            f.write(f"{container_id.strip()}{LINE_BREAK}{ifname}")
        (self.dir / f"last_reserved_ip.{range_set}").write_text(ip)
        return True

    def last_reserved(self, range_set: int) -> str | None:
        try:
            return (self.dir / f"last_reserved_ip.{range_set}").read_text().strip()
        except FileNotFoundError:
            return None

    def taken(self, ip: str) -> bool:
        return (self.dir / ip).exists()

    def owned_by(self, container_id: str, ifname: str) -> list[str]:
        """The addresses held by this container interface."""
        return [path.name for path in self._ip_files() if self._matches(path, container_id, ifname)]

    def release_by_id(self, container_id: str, ifname: str) -> list[str]:
        """Release every address whose file names this container interface; returns them."""
        released = self.owned_by(container_id, ifname)
        for ip in released:
            (self.dir / ip).unlink(missing_ok=True)
        return released

    def _ip_files(self) -> list[Path]:
        return [p for p in self.dir.iterdir() if p.name != "lock" and not p.name.startswith("last_reserved_ip")]

    @staticmethod
    def _matches(path: Path, container_id: str, ifname: str) -> bool:
        """Content match as upstream: `<id>\\r\\n<ifname>`, or just `<id>` for files of older versions."""
        try:
            content = path.read_bytes().decode().strip()
        except OSError:
            return False
        return content in (f"{container_id.strip()}{LINE_BREAK}{ifname}", container_id.strip())
