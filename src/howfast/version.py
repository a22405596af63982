"""The package version, in one place (the CLI's --version, the environment of every measurement)."""

__version__ = "0.1.0"
