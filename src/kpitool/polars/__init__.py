"""The embedded engine: the neutral plan translated to Polars lazy frames."""
