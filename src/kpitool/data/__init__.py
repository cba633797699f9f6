"""Reading extracts: the canonical schema, the dataset catalogue, CSV/Parquet readers, the
data-quality check and the masking of personal data. Imports nothing of kpitool but errors."""
