"""`python -m console`: serve the agency console over HTTP (or HTTPS with LIKENESS_CONSOLE_TLS_*)."""

import uvicorn

from likeness_common.logging import configure_logging
from likeness_common.settings import CommonSettings

from .bootstrap import ConsoleSettings, build_app

if __name__ == "__main__":
    common, settings = CommonSettings(), ConsoleSettings()
    configure_logging(common.log_level, common.log_json)
    uvicorn.run(
        build_app(settings, common.client_tls()), host=settings.host, port=settings.port, log_config=None, access_log=False,
        ssl_certfile=settings.tls_cert_file, ssl_keyfile=settings.tls_key_file, timeout_graceful_shutdown=5,
    )  # fmt: skip
