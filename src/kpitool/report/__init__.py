"""Reports: the context of a branch or company page, charts, labels, HTML and PDF."""
