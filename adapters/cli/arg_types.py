"""argparse types shared by commands: a bad value is an exit-2 usage error naming the flag."""
from __future__ import annotations

import argparse
from typing import Callable


def whole_number(minimum: int, of: str = "") -> Callable[[str], int]:
    """A whole number >= `minimum`; `of` names what it counts, for the message ("positions")."""
    unit = f" of {of}" if of else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number{unit}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number{unit} >= {minimum}, got {value}")
        return value

    return parse
