"""State: assets, risk parameters, the position book. No engines, IO or UI here."""

from liqcascade.model.book import HealthOrder, PositionBook, account_dtype, asset_dtype
from liqcascade.model.params import AssetParams, EModeCategory, RiskParams
from liqcascade.model.perps import PerpBook

__all__ = ["AssetParams", "EModeCategory", "HealthOrder", "PerpBook", "PositionBook", "RiskParams", "account_dtype",
           "asset_dtype"]
