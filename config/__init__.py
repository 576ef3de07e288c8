"""Configuration: the YAML defaults and the strict loader (see config/loader.py)."""
from config.loader import ConfigError, load_config  # noqa: F401
