"""`python -m verification`: run the verification service. It reads the enrollment service's
template tables (one database, see README): start it after enrollment has migrated."""

from likeness_common.app import run_service

from .bootstrap import MIGRATIONS, VerificationSettings, build_app

if __name__ == "__main__":
    run_service([MIGRATIONS], lambda pool, common: build_app(
        pool, common.database_url, common.load_kek(), VerificationSettings(), client_tls=common.client_tls()
    ))  # fmt: skip
