"""The package version, recorded in every file this project writes."""

__version__ = "0.1.0"
