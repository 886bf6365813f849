"""bench/accuracy: the verification service's own decision on the real media in ../shared/data (see __main__.py)."""
