"""Glue every Likeness Registry service shares: settings, logging, gRPC server bootstrap and
interceptors, Postgres pool and migrations, the transactional outbox and its Kafka relay, the
embedded development stack.

Domain code imports only `errors` and `principal` from here: both are free of gRPC, asyncpg and
aiokafka imports.
"""
