"""MarketStream Lambda package: one module per function over a shared core (`handlers.core`)."""
