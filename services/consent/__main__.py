"""`python -m consent`: run the consent service."""

from likeness_common.app import run_service

from .bootstrap import MIGRATIONS, ConsentSettings, build_app

if __name__ == "__main__":
    run_service([MIGRATIONS], lambda pool, common: build_app(pool, common.database_url, common.load_kek(), ConsentSettings()))
