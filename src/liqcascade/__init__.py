"""liqcascade: cascading liquidation risk for DeFi lending protocols."""

from liqcascade.errors import ConfigError, DataError, LiqcascadeError

__all__ = ["ConfigError", "DataError", "LiqcascadeError", "__version__"]


def __getattr__(name: str) -> str:
    # the version is looked up on first use: importlib.metadata costs ~25 ms of every start-up
    # (`liqcascade --help` among them), and most commands never print it
    if name != "__version__":
        raise AttributeError(f"module 'liqcascade' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("liqcascade")
    except PackageNotFoundError:  # running from a source tree without install
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
