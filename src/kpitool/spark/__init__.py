"""The distributed engine: the neutral plan translated to Spark DataFrames (needs the
`spark` extra and Java 17)."""
