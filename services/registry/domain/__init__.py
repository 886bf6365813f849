"""Registry domain: plain classes and rules, no I/O imports."""
