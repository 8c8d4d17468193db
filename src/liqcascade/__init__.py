"""liqcascade: cascading liquidation risk for DeFi lending protocols."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("liqcascade")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from liqcascade.errors import ConfigError, DataError, LiqcascadeError

__all__ = ["ConfigError", "DataError", "LiqcascadeError", "__version__"]
