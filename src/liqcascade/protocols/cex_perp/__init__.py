"""A centralised exchange's USDⓈ-M perp margin engine, Binance-like (see :mod:`.rules`)."""
