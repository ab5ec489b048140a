"""A cluster on this host, found by name: its saved config, state paths and nodes."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from kinn.cluster import config
from kinn.cluster.config import ClusterSpec
from kinn.cluster.node import Node
from kinn.cluster.paths import ClusterPaths, state_root


class ClusterNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Cluster:
    spec: ClusterSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def paths(self) -> ClusterPaths:
        return ClusterPaths(self.spec.name)

    @property
    def nodes(self) -> list[Node]:
        return [Node(spec, self.paths.node(spec.name)) for spec in self.spec.nodes]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ClusterNotFound(f'node "{name}" not found in cluster "{self.name}"; its nodes: '
                              f'{", ".join(node.name for node in self.nodes)}')

    def save(self) -> None:
        self.paths.dir.mkdir(parents=True, exist_ok=True)
        self.paths.config.write_text(yaml.safe_dump(self.spec.to_document(), sort_keys=False))

    @classmethod
    def load(cls, name: str) -> Cluster:
        path = ClusterPaths(name).config
        if not path.exists():
            raise ClusterNotFound(f'cluster "{name}" not found (known: {", ".join(cluster_names()) or "none"}); '
                                  "create it with `kinn up --name " + name + "`")
        return cls(config.parse(config.load(path)))


def cluster_names() -> list[str]:
    """Clusters with state on this host, as `kinn get clusters` lists them."""
    root = state_root() / "clusters"
    return sorted(entry.name for entry in root.iterdir() if (entry / "cluster.yaml").exists()) if root.exists() else []
