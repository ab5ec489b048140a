"""nft without a process per transaction: libnftables, the library the `nft` command is a thin
front end of (Debian's libnftables1, which the nftables package depends on), called through ctypes.

Starting `nft` for each sync costs 10–20 ms on this kind of machine: a one-endpoint sync of 100
Services × 10 endpoints takes 22 ms with `nft -f` and 15 ms here, of 1,000 Services 80 and 63 ms.
The same script text, the same parser, the same error messages; only the process start-up is gone.
"""

from __future__ import annotations

import ctypes
import json as jsonlib

NFT_CTX_OUTPUT_JSON = 1 << 4  # `nft -j`


class NftError(RuntimeError):
    """nft refused a command; the message is nft's own."""


class _Library:
    """The few libnftables functions kinn uses, typed once."""

    def __init__(self) -> None:
        lib = ctypes.CDLL("libnftables.so.1")
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_set_dry_run.argtypes = [ctypes.c_void_p, ctypes.c_bool]
        self.lib = lib


_library: _Library | None = None


def _load() -> _Library:
    """The library, loaded on first use (an OSError if it is not installed)."""
    global _library
    if _library is None:
        _library = _Library()
    return _library


def run(script: str, *, json: bool = False, check: bool = False) -> str:
    """Run `script` as one nft invocation (a whole transaction); its output, or NftError.
    `json` is `nft -j`, `check` is `nft --check` (evaluated, never committed).

    Each run has a context of its own. Kept open, a context refetches on every command whatever it
    cached for earlier ones (the ruleset changed since): with 55,000 chains, listing the small
    canary set took 42 ms instead of 1 ms. A fresh context also opens its netlink socket in the
    calling thread's network namespace, which is the one meant."""
    lib = _load().lib
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise OSError("libnftables: nft_ctx_new failed")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON if json else 0)
        lib.nft_ctx_set_dry_run(ctx, check)
        failed = lib.nft_run_cmd_from_buffer(ctx, script.encode()) != 0
        output = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode()
        error = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode().strip()
    finally:
        lib.nft_ctx_free(ctx)
    if failed:
        raise NftError(error or "nft failed without a message")
    return output


def names(kind: str, family: str, table: str) -> list[str]:
    """The names of a table's `chains` or `sets`, from `nft -j list <kind> <family>` (what
    knftables' List reads); NftError if nft cannot list them."""
    singular = kind[:-1]
    listing = jsonlib.loads(run(f"list {kind} {family}", json=True))["nftables"]
    return [item[singular]["name"] for item in listing if item.get(singular, {}).get("table") == table]
