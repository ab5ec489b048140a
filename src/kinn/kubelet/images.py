"""Images without a registry: kinn resolves a small catalog of image names to programs on the node.

No registry is reachable from a kinn cluster, and a kinn container has no root filesystem of its
own, so "pulling" an image means finding the program that plays it on this host:

- `busybox[:tag]`: /bin/busybox (Debian's busybox-static); its commands run as busybox applets.
  Without busybox the node's own /bin/sh and coreutils stand in (`sh -c '…'` works either way).
- `python[:tag]`: the host's python3 (`python` and `python3` both name it).
- `nginx[:tag]`: nginx-light with a private config, pid file and temp dirs per container, serving its
  welcome page on port 80 with the access log on stdout and the error log on stderr, as the image does.

Tags are accepted and shown in the status. Any other image fails as Kubernetes shows a missing one:
`ErrImagePull`, then `ImagePullBackOff`, with a message that names the image and the catalog.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

BUSYBOX = Path("/bin/busybox")
NGINX = Path("/usr/sbin/nginx")
NGINX_WELCOME_DIRS = (Path("/usr/share/nginx/html"), Path("/var/www/html"))
CATALOG_TEXT = ("busybox (/bin/busybox, else the node's /bin/sh), python (the host's python3), "
                "nginx (nginx-light)")


class ImagePullError(Exception):
    """The image cannot be resolved on this node (kubelet reason `ErrImagePull`)."""


@dataclass(frozen=True)
class Image:
    """A resolved image: its ENTRYPOINT and CMD, how argv[0] becomes a host program, and per-container
    setup (nginx writes its private config into the container's directory before starting)."""

    reference: str
    image_id: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    program: Callable[[str, Path], Sequence[str]] = lambda name, directory: (name,)
    prepare: Callable[[Path], None] = field(default=lambda directory: None)

    def argv(self, command: Sequence[str], args: Sequence[str], directory: Path) -> list[str]:
        """Docker's rules, as the kubelet applies them: `command` replaces ENTRYPOINT (and drops CMD),
        `args` replaces CMD; argv[0] is then mapped to the program that provides it, which may need
        the container's private `directory`."""
        entrypoint = list(command) if command else list(self.entrypoint)
        rest = list(args) if args else ([] if command else list(self.cmd))
        full = entrypoint + rest
        if not full:
            raise ImagePullError(f'image "{self.reference}" has no command: set command or args')
        return [*self.program(full[0], directory), *full[1:]]


def split_reference(reference: str) -> tuple[str, str]:
    """`docker.io/library/busybox:1.36` → ("busybox", "1.36"); the tag defaults to latest.

    Only Docker Hub's official images are catalog names; `quay.io/x/busybox` keeps its full name
    and so is not found.
    """
    name, _, digest = reference.partition("@")
    prefix, _, last = name.rpartition("/")
    repository, _, tag = last.partition(":")
    if prefix not in ("", "library", "docker.io/library", "index.docker.io/library"):
        repository = f"{prefix}/{repository}"
    return repository, tag or digest or "latest"


def _busybox_applet(name: str, directory: Path) -> Sequence[str]:
    """With busybox present, a bare command name runs as its applet (`sleep` → busybox sleep)."""
    if "/" in name or not BUSYBOX.exists():
        return (name,)
    return (str(BUSYBOX), name)


def _busybox(reference: str) -> Image:
    return Image(reference, f"kinn://busybox@{BUSYBOX if BUSYBOX.exists() else '/bin/sh'}", cmd=("sh",),
                 program=_busybox_applet)


def _python_program(name: str, directory: Path) -> Sequence[str]:
    """`python`/`python3` are the host's python3, as in the image's PATH."""
    return (shutil.which("python3") or "/usr/bin/python3",) if name in ("python", "python3") else (name,)


def _python(reference: str) -> Image:
    return Image(reference, f"kinn://python@{shutil.which('python3')}", cmd=("python3",), program=_python_program)


def nginx_config(directory: Path, html_root: Path) -> str:
    """nginx.conf for one container: everything writable lives in `directory`, logs go to the CRI log."""
    return f"""user root;
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr notice;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log /dev/stdout;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    server {{
        listen 80;
        listen [::]:80;
        server_name localhost;
        root {html_root};
        index index.html index.htm index.nginx-debian.html;
    }}
}}
"""


def _nginx(reference: str) -> Image:
    if not NGINX.exists():
        raise ImagePullError(f'failed to pull image "{reference}": kinn resolves images locally and nginx '
                             f"is not installed on this host (install nginx-light); catalog: {CATALOG_TEXT}")
    html_root = next((d for d in NGINX_WELCOME_DIRS if d.is_dir()), NGINX_WELCOME_DIRS[0])

    def prepare(directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "nginx.conf").write_text(nginx_config(directory, html_root))

    def program(name: str, directory: Path) -> Sequence[str]:
        if name != "nginx":
            return (name,)
        return (str(NGINX), "-e", "stderr", "-p", str(directory), "-c", str(directory / "nginx.conf"))

    # The image's CMD; the program mapping adds where this container's config lives.
    return Image(reference, f"kinn://nginx@{NGINX}", cmd=("nginx", "-g", "daemon off;"), program=program,
                 prepare=prepare)


CATALOG: dict[str, Callable[[str], Image]] = {"busybox": _busybox, "python": _python, "nginx": _nginx}


def resolve(reference: str) -> Image:
    """The catalog entry for `reference`, or ImagePullError with the message the pod status shows."""
    repository, _ = split_reference(reference)
    factory = CATALOG.get(repository)
    if factory is None:
        raise ImagePullError(f'failed to pull and unpack image "{reference}": kinn resolves images locally '
                             f"and has no image named {repository!r}; catalog: {CATALOG_TEXT}")
    return factory(reference)
