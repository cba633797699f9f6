"""KPI rules as data: the typed model of a rule file, its loader and checks, and the SQL
subset rule expressions are written in."""
