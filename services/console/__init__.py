"""The agency console: a small server-rendered web gateway over the services' gRPC APIs."""

SERVICE_NAME = "console"
