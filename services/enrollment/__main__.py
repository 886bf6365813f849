"""`python -m enrollment`: run the enrollment service."""

from likeness_common.app import run_service

from .bootstrap import MIGRATIONS, EnrollmentSettings, build_app

if __name__ == "__main__":
    run_service([MIGRATIONS], lambda pool, common: build_app(pool, common.database_url, common.load_kek(), EnrollmentSettings()))
