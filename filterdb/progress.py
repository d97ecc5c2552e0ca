"""Progress bars for long steps, on stderr, which ``rule_script`` sends to the job's log."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(
    total: int | None,
    desc: str,
    unit: str,
    *,
    enabled: bool = True,
    unit_scale: bool = False,
    mininterval: float = 0.1,
) -> tqdm:
    """A bar over ``total`` units; ``mininterval`` seconds between redraws keeps logs short."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=unit_scale,
        mininterval=mininterval,
        disable=not enabled,
        file=sys.stderr,
    )
