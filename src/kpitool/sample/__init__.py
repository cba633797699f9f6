"""The seeded sample-data generator, with the work plan's failures planted."""
