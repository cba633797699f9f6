"""The library API: each call normalises its inputs once, picks the engine and masks
personal data by default."""
