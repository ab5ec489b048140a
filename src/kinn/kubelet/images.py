"""Images without a registry: kinn resolves a small catalog of image names to programs on the node.

No registry is reachable from a kinn cluster, and a kinn container has no root filesystem of its
own, so "pulling" an image means finding the Debian program that plays it on this host
(hack/setup.sh installs them):

- `busybox[:tag]`: /bin/busybox (busybox-static). A command that names an applet (`sh`, `sleep`,
  `wget`, `nc`, `httpd`, `ping`, also as `/bin/<applet>` as the image has them) runs as that
  applet, and busybox's shell prefers its own applets, as in the image.
- `nginx[:tag]`: nginx-light, configured as the official image: /etc/nginx/conf.d/default.conf
  serves the welcome page on port 80, the access log goes to stdout, the error log to stderr.
  nginx.conf, the pid file and temp dirs are private to the container, and its own conf.d is
  bind-mounted on /etc/nginx/conf.d (a configMap volume mounted there replaces it, as with the image).
- `python[:tag]`: the host's python3 (`python` and `python3` both name it).
- `kinn/kinn[:tag]`: kinn itself, for the cluster's own add-ons (DNS): `kinn …` runs the node's
  `python -m kinn …` (the interpreter the kubelet runs on), and is the image's ENTRYPOINT.

Tags are accepted and shown as containerd shows them (`docker.io/library/nginx:1.25`, imageID
`docker.io/library/nginx@sha256:<digest of the program>`, `docker.io/kinn/kinn:0.1.0`). Any other image fails as Kubernetes
shows a missing one: `ErrImagePull`, then `ImagePullBackOff`, with a message that names the
image and the catalog.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from kinn.kubelet.runtime import Mount

BUSYBOX = Path("/bin/busybox")
NGINX = Path("/usr/sbin/nginx")
NGINX_CONF_D = Path("/etc/nginx/conf.d")
CATALOG_TEXT = ("busybox (busybox-static), nginx (nginx-light), python (the host's python3), "
                "kinn/kinn (kinn itself)")
DOCKER_HUB = ("docker.io", "index.docker.io")  # catalog images are Docker Hub names

Program = Callable[[str, Path], Sequence[str]]


class ImagePullError(Exception):
    """The image cannot be resolved on this node (kubelet reason `ErrImagePull`)."""


def _as_is(name: str, directory: Path) -> Sequence[str]:
    return (name,)


def _no_mounts(directory: Path) -> Sequence[Mount]:
    return ()


@dataclass(frozen=True)
class Image:
    """A resolved image: its names as the runtime reports them, ENTRYPOINT and CMD, how argv[0]
    becomes a host program, and per-container setup (nginx writes its private config and returns
    the bind mounts that put it where the image has it)."""

    reference: str  # as the pod spec names it
    name: str  # containerStatuses[].image
    image_id: str  # containerStatuses[].imageID
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    program: Program = _as_is
    prepare: Callable[[Path], Sequence[Mount]] = _no_mounts

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
    """`docker.io/library/busybox:1.36` → ("busybox", "1.36"), `docker.io/kinn/kinn` → ("kinn/kinn",
    "latest"); the tag defaults to latest.

    Only Docker Hub names are catalog names; `quay.io/x/busybox` keeps its full name and so is not found.
    """
    name, _, digest = reference.partition("@")
    prefix, _, last = name.rpartition("/")
    repository, _, tag = last.partition(":")
    path = prefix.split("/") if prefix else []
    if path[:1] and path[0] in DOCKER_HUB:
        path = path[1:]
    if path != ["library"]:
        repository = "/".join([*path, repository])
    return repository, tag or digest or "latest"


def _hub_name(repository: str) -> str:
    """Docker Hub's full name: official images live under `library/`."""
    return f"docker.io/{repository}" if "/" in repository else f"docker.io/library/{repository}"


def normalized_name(repository: str, tag: str) -> str:
    """The reference as containerd reports it: `nginx` → `docker.io/library/nginx:latest`."""
    separator = "@" if tag.startswith("sha256:") else ":"
    return f"{_hub_name(repository)}{separator}{tag}"


@functools.lru_cache(maxsize=16)
def _digest(path: Path, mtime_ns: int) -> str:
    """sha256 of the program file: the content address kinn gives the image (cached per version)."""
    hasher = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def image_id(repository: str, program: Path) -> str:
    """`docker.io/library/<repository>@sha256:<digest>`, the repo digest shape containerd reports."""
    real = program.resolve()
    return f"{_hub_name(repository)}@sha256:{_digest(real, real.stat().st_mtime_ns)}"


def _installed(reference: str, program: Path, package: str) -> Path:
    if not program.exists():
        raise ImagePullError(f'failed to pull image "{reference}": kinn resolves images locally and {program} is '
                             f"not installed on this node (install the Debian package {package}); "
                             f"catalog: {CATALOG_TEXT}")
    return program


@functools.lru_cache(maxsize=1)
def busybox_applets() -> frozenset[str]:
    listing = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    return frozenset(listing.split())


def _busybox_applet(name: str, directory: Path) -> Sequence[str]:
    """An applet name, bare or as the image's /bin/<applet>, runs as that applet (`sleep` → busybox sleep)."""
    applet = name.removeprefix("/bin/")
    return (str(BUSYBOX), applet) if "/" not in applet and applet in busybox_applets() else (name,)


def _busybox(reference: str, name: str) -> Image:
    program = _installed(reference, BUSYBOX, "busybox-static")
    return Image(reference, name, image_id("busybox", program), cmd=("sh",), program=_busybox_applet)


def _python_program(name: str, directory: Path) -> Sequence[str]:
    """`python`/`python3` are the host's python3, as in the image's PATH."""
    return (shutil.which("python3") or "/usr/bin/python3",) if name in ("python", "python3") else (name,)


def _python(reference: str, name: str) -> Image:
    program = _installed(reference, Path(shutil.which("python3") or "/usr/bin/python3"), "python3")
    return Image(reference, name, image_id("python", program), cmd=("python3",), program=_python_program)


def nginx_config(directory: Path) -> str:
    """The image's /etc/nginx/nginx.conf, with everything nginx writes moved into `directory`.

    One worker instead of `auto` (one per host CPU): kinn runs many pods on one host. The error log
    is /dev/stderr, which the image reaches through a symlink: opened as its own file, nginx also
    echoes start-up errors as `nginx: [emerg] …`, so the log shows both lines as the image's does.
    """
    return f"""user root;
worker_processes 1;
error_log /dev/stderr notice;
pid {directory}/nginx.pid;
events {{
    worker_connections 1024;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log /dev/stdout main;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path {directory}/client_temp;
    proxy_temp_path {directory}/proxy_temp;
    fastcgi_temp_path {directory}/fastcgi_temp;
    uwsgi_temp_path {directory}/uwsgi_temp;
    scgi_temp_path {directory}/scgi_temp;
    include {NGINX_CONF_D}/*.conf;
}}
"""


def nginx_default_server(ipv6: bool) -> str:
    """The image's conf.d/default.conf; its entrypoint adds the IPv6 listener where IPv6 exists."""
    listen6 = "    listen       [::]:80;\n" if ipv6 else ""
    return f"""server {{
    listen       80;
{listen6}    server_name  localhost;
    location / {{
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }}
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {{
        root   /usr/share/nginx/html;
    }}
}}
"""


def _prepare_nginx(directory: Path) -> Sequence[Mount]:
    conf_d = directory / "conf.d"
    conf_d.mkdir(parents=True, exist_ok=True)
    (directory / "nginx.conf").write_text(nginx_config(directory))
    (conf_d / "default.conf").write_text(nginx_default_server(Path("/proc/net/if_inet6").exists()))
    return (Mount(conf_d, NGINX_CONF_D),)


def _nginx_program(name: str, directory: Path) -> Sequence[str]:
    if name not in ("nginx", str(NGINX)):
        return (name,)
    return (str(NGINX), "-p", str(directory), "-c", str(directory / "nginx.conf"))


def _nginx(reference: str, name: str) -> Image:
    program = _installed(reference, NGINX, "nginx-light")
    return Image(reference, name, image_id("nginx", program), cmd=("nginx", "-g", "daemon off;"),
                 program=_nginx_program, prepare=_prepare_nginx)


def _kinn_program(name: str, directory: Path) -> Sequence[str]:
    """`kinn` is this node's kinn: the kubelet's own interpreter running the package."""
    return (sys.executable, "-m", "kinn") if name == "kinn" else (name,)


def _kinn(reference: str, name: str) -> Image:
    program = Path(sys.executable)
    return Image(reference, name, image_id("kinn/kinn", program), entrypoint=("kinn",), program=_kinn_program)


CATALOG: dict[str, Callable[[str, str], Image]] = {"busybox": _busybox, "python": _python, "nginx": _nginx,
                                                   "kinn/kinn": _kinn}


def resolve(reference: str) -> Image:
    """The catalog entry for `reference`, or ImagePullError with the message the pod status shows."""
    repository, tag = split_reference(reference)
    factory = CATALOG.get(repository)
    if factory is None:
        raise ImagePullError(f'failed to pull and unpack image "{reference}": kinn resolves images locally '
                             f"and has no image named {repository!r}; catalog: {CATALOG_TEXT}")
    return factory(reference, normalized_name(repository, tag))
