"""One module per data source; each exposes loaders ``(DataConfig) -> DataBundle``."""
