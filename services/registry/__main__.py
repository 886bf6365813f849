"""`python -m registry`: run the registration service."""

from likeness_common.app import ServiceApp, run_service

from .bootstrap import MIGRATIONS, RegistrySettings, build_server

if __name__ == "__main__":
    run_service([MIGRATIONS], lambda pool, common: ServiceApp(build_server(pool, RegistrySettings())))
