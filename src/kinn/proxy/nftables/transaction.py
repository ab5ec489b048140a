"""An `nft -f` transaction for one table, written the way knftables writes it.

kube-proxy builds its changes with knftables (sigs.k8s.io/knftables) and hands the text to
`nft -f -`, which applies it atomically: the kernel sees the whole batch or none of it. Writing the
same statements in the same syntax means a kinn node's transaction reads like a real node's
`--v=9` log, and `nft` parses it exactly as it parses upstream's.

A transaction is a list of commands kept as data; its text is rendered from them. The data is what
commands.py encodes for the kernel without nft, for the commands it knows.
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


@dataclass(frozen=True)
class Command:
    """One line of a transaction: `verb` (add | flush | delete) an `object` (table | chain | rule |
    set | map | element) named `name` (the chain, set or map; empty for the table)."""

    verb: str
    object: str
    name: str = ""
    statement: str = ""  # a rule's statements
    key: str = ""  # an element's key, its fields joined with " . "
    value: str = ""  # a map element's verdict
    type: str = ""  # a set's or map's
    flags: str = ""
    timeout: int = 0  # seconds
    comment: str = ""
    base: BaseChain | None = None  # a chain attached to a hook

    def text(self, prefix: str) -> str:
        """The command as knftables writes it, `prefix` being "family table"."""
        head = f"{self.verb} {self.object} {prefix}" + (f" {self.name}" if self.name else "")
        if self.object == "rule":
            return f"{head} {self.statement}" + (f" comment {_quote(self.comment)}" if self.comment else "")
        if self.object == "element":
            body = self.key + (f" comment {_quote(self.comment)}" if self.comment else "")
            return f"{head} {{ {body}" + (f" : {self.value}" if self.value else "") + " }"
        if self.object in ("set", "map") and self.verb == "add":
            options = [f"type {self.type}"] + ([f"flags {self.flags}"] if self.flags else [])
            options += [f"timeout {self.timeout}s"] if self.timeout else []
            return f"{head} {{ " + "".join(f"{o} ; " for o in options + self._comment()) + "}"
        if self.base:
            return f"{head} {{ type {self.base.type} hook {self.base.hook} priority {self.base.priority} ; }}"
        if self.verb == "add" and self.comment:
            return f"{head} {{ {self._comment()[0]} ; }}"
        return head

    def _comment(self) -> list[str]:
        return [f"comment {_quote(self.comment)}"] if self.comment else []


class Transaction:
    def __init__(self, family: str, table: str) -> None:
        self.family, self.table = family, table
        self.commands: list[Command] = []

    def __bool__(self) -> bool:
        return bool(self.commands)

    def text(self) -> str:
        prefix = f"{self.family} {self.table}"
        return "".join(command.text(prefix) + "\n" for command in self.commands)

    def add_table(self, comment: str) -> None:
        self.commands.append(Command("add", "table", comment=comment))

    def add_chain(self, name: str, comment: str = "") -> None:
        self.commands.append(Command("add", "chain", name, comment=comment))

    def add_base_chain(self, chain: BaseChain) -> None:
        self.commands.append(Command("add", "chain", chain.name, base=chain))

    def flush_chain(self, name: str) -> None:
        self.commands.append(Command("flush", "chain", name))

    def delete_chain(self, name: str) -> None:
        self.commands.append(Command("delete", "chain", name))

    def add_rule(self, chain: str, rule: str, comment: str = "") -> None:
        self.commands.append(Command("add", "rule", chain, statement=rule, comment=comment))

    def add_set(self, name: str, type: str, flags: str = "", timeout: int = 0, comment: str = "") -> None:
        self.commands.append(Command("add", "set", name, type=type, flags=flags, timeout=timeout, comment=comment))

    def add_map(self, name: str, type: str, comment: str = "") -> None:
        self.commands.append(Command("add", "map", name, type=type, comment=comment))

    def flush(self, kind: str, name: str) -> None:
        """`flush set` or `flush map`: every element goes, the container stays."""
        self.commands.append(Command("flush", kind, name))

    def delete_set(self, name: str) -> None:
        self.commands.append(Command("delete", "set", name))

    def add_element(self, container: str, key: str, value: str = "", comment: str = "") -> None:
        self.commands.append(Command("add", "element", container, key=key, value=value, comment=comment))

    def delete_element(self, container: str, key: str) -> None:
        self.commands.append(Command("delete", "element", container, key=key))


def _quote(text: str) -> str:
    """An nft string: nft has no escapes, so a double quote cannot be written and is dropped (kube-proxy's
    comments are object names, which never contain one)."""
    return '"' + text.replace('"', "") + '"'
