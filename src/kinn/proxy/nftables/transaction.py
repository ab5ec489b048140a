"""An `nft -f` transaction for one table, written the way knftables writes it.

kube-proxy builds its changes with knftables (sigs.k8s.io/knftables) and hands the text to
`nft -f -`, which applies it atomically: the kernel sees the whole batch or none of it. Writing the
same statements in the same syntax means a kinn node's transaction reads like a real node's
`--v=9` log, and `nft` parses it exactly as it parses upstream's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseChain:
    """A chain attached to a netfilter hook (knftables writes the priority as a number)."""

    name: str
    type: str  # filter | nat
    hook: str
    priority: int


class Transaction:
    def __init__(self, family: str, table: str) -> None:
        self._prefix = f"{family} {table}"
        self._lines: list[str] = []

    def __bool__(self) -> bool:
        return bool(self._lines)

    def text(self) -> str:
        return "".join(line + "\n" for line in self._lines)

    def add_table(self, comment: str) -> None:
        self._lines.append(f"add table {self._prefix} {{ comment {_quote(comment)} ; }}")

    def add_chain(self, name: str, comment: str = "") -> None:
        self._lines.append(f"add chain {self._prefix} {name}" + (f" {{ comment {_quote(comment)} ; }}" if comment else ""))

    def add_base_chain(self, chain: BaseChain) -> None:
        self._lines.append(f"add chain {self._prefix} {chain.name} "
                           f"{{ type {chain.type} hook {chain.hook} priority {chain.priority} ; }}")

    def flush_chain(self, name: str) -> None:
        self._lines.append(f"flush chain {self._prefix} {name}")

    def delete_chain(self, name: str) -> None:
        self._lines.append(f"delete chain {self._prefix} {name}")

    def add_rule(self, chain: str, rule: str, comment: str = "") -> None:
        self._lines.append(f"add rule {self._prefix} {chain} {rule}" + (f" comment {_quote(comment)}" if comment else ""))

    def add_set(self, name: str, type: str, flags: str = "", timeout: int = 0, comment: str = "") -> None:
        self._add_container("set", name, type, flags, timeout, comment)

    def add_map(self, name: str, type: str, comment: str = "") -> None:
        self._add_container("map", name, type, "", 0, comment)

    def flush(self, kind: str, name: str) -> None:
        """`flush set` or `flush map`: every element goes, the container stays."""
        self._lines.append(f"flush {kind} {self._prefix} {name}")

    def delete_set(self, name: str) -> None:
        self._lines.append(f"delete set {self._prefix} {name}")

    def add_element(self, container: str, key: str, value: str = "", comment: str = "") -> None:
        text = f"add element {self._prefix} {container} {{ {key}"
        if comment:
            text += f" comment {_quote(comment)}"
        if value:
            text += f" : {value}"
        self._lines.append(text + " }")

    def delete_element(self, container: str, key: str) -> None:
        self._lines.append(f"delete element {self._prefix} {container} {{ {key} }}")

    def _add_container(self, kind: str, name: str, type: str, flags: str, timeout: int, comment: str) -> None:
        text = f"add {kind} {self._prefix} {name} {{ type {type} ;"
        if flags:
            text += f" flags {flags} ;"
        if timeout:
            text += f" timeout {timeout}s ;"
        if comment:
            text += f" comment {_quote(comment)} ;"
        self._lines.append(text + " }")


def _quote(text: str) -> str:
    """An nft string: nft has no escapes, so a double quote cannot be written and is dropped (kube-proxy's
    comments are object names, which never contain one)."""
    return '"' + text.replace('"', "") + '"'
