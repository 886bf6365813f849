"""Console domain: who is signed in and which pages each kind may use, the roster cache's rules,
and how facts read for people. Plain values, no I/O imports."""
