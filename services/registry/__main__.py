"""`python -m registry`: run the registration service."""

from likeness_common.app import run_service

from .bootstrap import MIGRATIONS, RegistrySettings, build_app

if __name__ == "__main__":
    run_service([MIGRATIONS], lambda pool, common: build_app(pool, RegistrySettings()))
