"""bench/robustness: matching accuracy on generated and platform-transformed media (see __main__.py)."""
