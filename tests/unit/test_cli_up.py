"""`kinn up`'s command line: what it hands `kinn.cluster.up`, and what it tells the user to try next."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from kinn.cli.cluster import up
from kinn.cluster import config
from kinn.cluster.config import ClusterSpec
from kinn.cluster.up import next_steps


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> list[ClusterSpec]:
    """The specs `kinn up` would create, instead of creating them."""
    specs: list[ClusterSpec] = []

    async def create(spec: ClusterSpec, *_: object) -> None:
        specs.append(spec)

    monkeypatch.setattr("kinn.cluster.up.up", create)
    monkeypatch.delenv("KINN_CLUSTER_NAME", raising=False)
    return specs


def test_a_negative_worker_count_is_a_usage_error(created: list[ClusterSpec]) -> None:
    """`--workers -1` once made a cluster of the control plane alone, without a word."""
    result = CliRunner().invoke(up, ["--name", "x", "--workers", "-1"])
    assert result.exit_code == 2 and "-1 is not in the range x>=0" in result.output, result.output
    assert created == []


def test_name_on_the_command_line_wins_over_the_file_s_even_the_default(created: list[ClusterSpec],
                                                                       tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text(yaml.safe_dump({"kind": "Cluster", "name": "seed-003"}))
    for args, name in ((["--name", "kinn"], "kinn"), (["--name", "other"], "other"), ([], "seed-003")):
        result = CliRunner().invoke(up, ["--config", str(file), *args])
        assert result.exit_code == 0, result.output
        assert created.pop().name == name, args


def test_what_to_try_next_names_the_cluster() -> None:
    """Without --name, `kinn node exec` would look for the cluster "kinn", not the one just created."""
    steps = next_steps(config.parse(config.default_document("wt", 1)))
    assert "  kinn node exec --name wt worker-1 -- ip route\n" in steps and steps.endswith("kinn down --name wt")
