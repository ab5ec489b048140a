"""Flag value types shared by the commands, in the syntax Kubernetes components accept."""

from __future__ import annotations

import re
from datetime import timedelta

import click

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(click.ParamType):
    """Go's time.Duration syntax (`40s`, `5m`, `1h30m`, `500ms`), as `--node-monitor-grace-period` takes."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip()
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"invalid duration {text!r} (e.g. 40s, 5m, 1h30m)", param, ctx)
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


DURATION = Duration()
