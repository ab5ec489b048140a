"""`kinn lab`: run a seed article's experiments on a cluster built like the article's."""

from __future__ import annotations

import subprocess
import sys

import click

from kinn.cluster import config
from kinn.cluster.cluster import cluster_names
from kinn.lab.lab import Lab, LabError, find, lab_dirs, load
from kinn.lab.runner import run_step, step_environment
from kinn.lab.walkthrough import command_lines, markdown_intro, markdown_step, trim


@click.command()
@click.option("--name", help="The lab's cluster name (default: the name in the lab's cluster.yaml).")
@click.option("--list", "list_labs", is_flag=True, help="List the labs in the checkout's examples/.")
@click.option("--run", "run_all", is_flag=True, help="Run every step without waiting for Enter; stop at the first "
                                                     "step whose observation does not hold (exit status 1).")
@click.option("--keep", is_flag=True, help="Leave the cluster running afterwards (remove it with kinn down --name).")
@click.option("--markdown", is_flag=True, help="With --run: print the walkthrough README (Markdown) of this run.")
@click.argument("seed", required=False)
def lab(name: str | None, list_labs: bool, run_all: bool, keep: bool, markdown: bool, seed: str | None) -> None:
    """Run SEED's lab (000 … 004, a lab folder's name or path): bring its cluster up with `kinn up --config`,
    then show each step and run it when you press Enter (or all of them with --run), and tear the
    cluster down at the end unless --keep."""
    try:
        if list_labs:
            _list()
            return
        if seed is None:
            raise click.UsageError("give a lab (kinn lab --list shows them), e.g. kinn lab 003 --run")
        if markdown and not run_all:
            raise click.UsageError("--markdown records a run: use it with --run")
        chosen = find(seed)
    except LabError as error:
        raise click.ClickException(str(error)) from error
    cluster = name or str(config.load(chosen.cluster_config).get("name") or chosen.name)
    if cluster in cluster_names():
        raise click.ClickException(f'cluster "{cluster}" already exists (kept by an earlier --keep?): remove it with '
                                   f'`kinn down --name {cluster}`, or pass --name for another')
    try:
        _up(chosen, cluster, markdown)
        _run(chosen, cluster, run_all, markdown)
    finally:
        if keep:
            click.echo(f'Cluster "{cluster}" kept: kubectl context kinn-{cluster}; `kinn down --name {cluster}` '
                       "removes it.", err=True)
        else:
            subprocess.run([sys.executable, "-m", "kinn", "down", "--name", cluster], stdout=subprocess.DEVNULL,
                           check=False)


def _list() -> None:
    for directory in lab_dirs():
        entry: Lab = load(directory)
        click.echo(f"{entry.seed}  {entry.name:<34} {entry.title} ({len(entry.steps)} steps)")


def _up(chosen: Lab, cluster: str, markdown: bool) -> None:
    """`kinn up --config`, shown as the walkthrough's first command; its failure ends the lab."""
    argv = ["kinn", "up", "--config", str(chosen.cluster_config.relative_to(chosen.directory)), "--name", cluster]
    shown = " ".join(argv)
    if not markdown:
        click.echo(click.style(command_lines(shown), bold=True))
    done = subprocess.run([sys.executable, "-m", "kinn", *argv[1:]], cwd=chosen.directory, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    click.echo(markdown_intro(chosen, shown, done.stdout) if markdown else done.stdout.rstrip())
    if done.returncode != 0:
        raise click.ClickException(f"kinn up failed for lab {chosen.name}")


def _run(chosen: Lab, cluster: str, run_all: bool, markdown: bool) -> None:
    env = step_environment(cluster)
    total = len(chosen.steps)
    for index, step in enumerate(chosen.steps, 1):
        if not markdown:
            click.echo(click.style(f"\n=== Step {index}/{total}: {step.title}", bold=True))
            if step.explain:
                click.echo(step.explain)
            click.echo(click.style(command_lines(step.run), bold=True))
        answer = "" if run_all else click.prompt("[Enter] run, [s] skip, [q] quit", default="", show_default=False,
                                                 err=True).strip().lower()
        if answer == "q":
            return
        if answer == "s":
            continue
        result = run_step(step, chosen.directory, env)
        failure = result.failure(step)
        if markdown:
            click.echo(markdown_step(index, step, result))
        else:
            click.echo(trim(result.output, step.lines * 5, step.expect))
            click.echo(click.style(f"✓ {result.observed(step) or 'done'}", fg="green") if failure is None
                       else click.style(f"✗ {failure}", fg="red"))
            if step.notice:
                click.echo(step.notice)
        if failure is not None and run_all:
            raise click.ClickException(f'lab {chosen.name}: step {index} "{step.title}" {failure}')
