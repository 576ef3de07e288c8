"""The one error of the configuration: the file, the key, what was expected and what was found."""
from __future__ import annotations


class ConfigError(Exception):
    """The configuration is unusable; the message says file, key, expected and found."""
