"""Argument types shared by the subcommands' flags, each refusing a bad value in one line
(`societas: error: run: argument --max-calls: expected a whole number >= 0, got 'x'`), and
usable by subcommands other packages add (`sim.cli.plugins`)."""

from __future__ import annotations

import argparse
import math


def _whole_number_at_least(text: str, least: int) -> int:
    # the message names the bound the flag has, whatever the wrong value was
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (a count that may be zero)."""
    return _whole_number_at_least(text, 0)


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _whole_number_at_least(text, 1)


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def usd_amount(text: str) -> float:
    """An amount in US dollars >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected an amount in USD >= 0, got {text!r}")
    return value
