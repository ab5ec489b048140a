"""Linux namespace and mount system calls that Python 3.11's `os` lacks (unshare, setns, mount).

These run in forked children between fork and exec (as `preexec_fn`), so they are plain ctypes
calls that raise OSError with the errno, and import nothing at call time.
"""

from __future__ import annotations

import ctypes
import errno as errno_module
import os
from pathlib import Path
from typing import Sequence

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
_libc.unshare.argtypes = (ctypes.c_int,)
_libc.setns.argtypes = (ctypes.c_int, ctypes.c_int)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _optional_bytes(value: str | Path | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces of the given CLONE_NEW* kinds."""
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """Join the namespace that `fd` (an open /proc/<pid>/ns/<kind> file) refers to."""
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | Path | None, target: str | Path, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    """mount(2); `source`/`fstype` may be None for bind remounts and propagation changes, `data` is
    the filesystem's options."""
    _check(_libc.mount(_optional_bytes(source), os.fsencode(target), _optional_bytes(fstype), flags,
                       _optional_bytes(data)), f"mount {target}")


def bind_mount(source: str | Path, target: str | Path, read_only: bool = False) -> None:
    """Bind `source` over `target`; read-only needs a second, remounting call (a kernel rule)."""
    mount(source, target, flags=MS_BIND | MS_REC)
    if read_only:
        mount(None, target, flags=MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY)


def umount(target: str | Path, flags: int = MNT_DETACH) -> None:
    """Unmount `target`; lazily by default, so a process still inside does not make it fail."""
    _check(_libc.umount2(os.fsencode(target), flags), f"umount {target}")


def mount_sys(read_only: bool = False, cgroup_v1: Sequence[tuple[str, str]] = ()) -> None:
    """A fresh /sys, and the cgroup hierarchies under /sys/fs/cgroup, for the caller's network and
    cgroup namespaces: sysfs shows the net devices of the namespace that mounts it, so a node or a
    pod that kept its parent's /sys would list the wrong interfaces (`/sys/class/net/eth0/iflink`),
    and a cgroup hierarchy mounted in a cgroup namespace shows that namespace's root cgroup.

    `cgroup_v1` lists (directory, mount options) of cgroup v1 hierarchies: with any, /sys/fs/cgroup
    is laid out as on a hybrid host (a tmpfs with them and cgroup2 at `unified`); without, it is
    the cgroup2 hierarchy itself.
    """
    flags = MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    try:
        mount("sysfs", "/sys", "sysfs", flags)
    except OSError as error:
        if error.errno not in (errno_module.EBUSY, errno_module.EPERM):
            raise
        # The namespace's sysfs is mounted already with other flags (a hostNetwork pod shares its
        # node's network) and the kernel will not mount it again differently: bind the /sys there
        # is, which shows this namespace's devices, as runc falls back to.
        bind_mount("/sys", "/sys", read_only)
    if not cgroup_v1:
        mount("cgroup2", "/sys/fs/cgroup", "cgroup2", flags)
        return
    mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    for directory, _ in (*cgroup_v1, ("unified", "")):
        os.mkdir(f"/sys/fs/cgroup/{directory}", 0o555)
    mount("cgroup2", "/sys/fs/cgroup/unified", "cgroup2", flags)
    for directory, options in cgroup_v1:
        mount("cgroup", f"/sys/fs/cgroup/{directory}", "cgroup", flags | MS_NOEXEC, options)
    if read_only:
        mount(None, "/sys/fs/cgroup", flags=MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def private_tmp() -> None:
    """Give the caller's mount namespace a /tmp of its own, as an image's writable layer gives a
    container: an overlay whose lower layer is the node's /tmp, so that what is there stays readable
    (a program installed under /tmp keeps working), and whose upper layer, where every write and
    deletion goes, is a fresh tmpfs mounted on /tmp underneath it."""
    lower = os.open("/tmp", os.O_PATH | os.O_CLOEXEC)
    try:
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")
        os.mkdir("/tmp/upper")
        os.chmod("/tmp/upper", 0o1777)  # the mode /tmp shows: anyone may create, only owners remove
        os.mkdir("/tmp/work", 0o700)
        mount("overlay", "/tmp", "overlay", 0, f"lowerdir=/proc/self/fd/{lower},upperdir=/tmp/upper,workdir=/tmp/work")
    finally:
        os.close(lower)


def namespace_path(pid: int, kind: str) -> Path:
    """`/proc/<pid>/ns/<kind>`: the handle through which other processes join a namespace."""
    return Path(f"/proc/{pid}/ns/{kind}")


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None.

    A PID alone does not identify a process once it may have been reused; PID plus start time
    does. A zombie counts as gone: it has exited and only waits to be reaped.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may contain spaces and ')'
    state, start_time = fields[0], fields[19]
    return None if state in ("Z", "X") else int(start_time)
