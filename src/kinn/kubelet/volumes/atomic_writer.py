"""Volume contents replaced atomically, as the kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go).

A configMap, secret, downwardAPI or projected volume is read by running programs while the
kubelet refreshes it, so a reader must see either all old files or all new ones:

    <volume>/..2024_05_01_12_00_00.k3j2h1/   the files of one version (timestamped directory)
    <volume>/..data -> ..2024_05_01_12_00_00.k3j2h1
    <volume>/token  -> ..data/token           one symlink per top-level path of the payload

A new version is written beside the old, `..data_tmp` is pointed at it and renamed over `..data`
(rename(2) is atomic), then stale top-level links and the old directory go. Nothing is written
when no file's content changed and none disappeared, so a refresh is cheap and quiet.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

DATA_DIR_NAME = "..data"
NEW_DATA_DIR_NAME = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


class PayloadError(ValueError):
    """A payload path that would escape or shadow the volume's own layout."""


def validate_path(target: str) -> None:
    """Relative, no `..` component, and not starting with `..` (the writer's own names), as validatePath."""
    if not target:
        raise PayloadError(f"invalid path: must not be empty: {target!r}")
    if target.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH_LENGTH:
        raise PayloadError(f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise PayloadError(f"invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} "
                               "characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {target}")


def _clean(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    cleaned = {}
    for target, projection in payload.items():
        validate_path(target)
        cleaned[str(PurePosixPath(target))] = projection
    return cleaned


def _files_under(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if not path.is_dir()}


def _needs_write(current: Path | None, payload: Mapping[str, FileProjection]) -> bool:
    if current is None:
        return True
    if _files_under(current) - set(payload):
        return True
    for target, projection in payload.items():
        try:
            if (current / target).read_bytes() != projection.data:
                return True
        except OSError:
            return True
    return False


def _new_timestamped_dir(target_dir: Path) -> Path:
    prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=target_dir))
    directory.chmod(0o755)  # others must be able to walk into it, whatever the umask
    return directory


def _write_payload(directory: Path, payload: Mapping[str, FileProjection]) -> None:
    for target, projection in payload.items():
        path = directory / target
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.write_bytes(projection.data)
        path.chmod(projection.mode)  # the exact mode, not mode & ~umask


def write(target_dir: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make `target_dir` show exactly `payload`; True if anything was written."""
    payload = _clean(payload)
    target_dir.mkdir(parents=True, exist_ok=True)
    data_link = target_dir / DATA_DIR_NAME
    current = target_dir / os.readlink(data_link) if data_link.is_symlink() else None
    if not _needs_write(current, payload):
        return False
    old_visible = {p.split("/")[0] for p in _files_under(current)} if current is not None else set()
    new_dir = _new_timestamped_dir(target_dir)
    _write_payload(new_dir, payload)
    tmp_link = target_dir / NEW_DATA_DIR_NAME
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(new_dir.name)
    tmp_link.rename(data_link)
    visible = {target.split("/")[0] for target in payload}
    for name in visible:
        link = target_dir / name
        if not os.path.lexists(link):
            link.symlink_to(f"{DATA_DIR_NAME}/{name}")
    for name in old_visible - visible:
        (target_dir / name).unlink(missing_ok=True)
    if current is not None:
        shutil.rmtree(current, ignore_errors=True)
    return True
