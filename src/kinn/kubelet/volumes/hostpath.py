"""hostPath: a path of the node itself, checked or created according to the source's `type`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kinn.kubelet.volumes.host import VolumeError

Obj = dict[str, Any]


def host_path(source: Obj) -> Path:
    """A hostPath honouring `type`: DirectoryOrCreate and FileOrCreate create, the others check."""
    path, kind = Path(source["path"]), source.get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    elif kind == "Directory" and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise VolumeError(f"hostPath type check failed: {path} is not a file")
    elif kind == "" and not path.exists():
        path.mkdir(parents=True)  # the unset type creates nothing upstream; runc then creates the dir
    return path
