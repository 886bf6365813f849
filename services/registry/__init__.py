"""Registration service: agencies, platforms, talent, representation mandates, API keys."""

SERVICE_NAME = "likeness.registry.v1.RegistryService"
