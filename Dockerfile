# One image for every service and the relay; the command picks which (see docker-compose.yml).
# First draft (issue 2); issue 6 adds the model layer and hardening.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/ requirements/
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir 'setuptools<82' wheel \
    && /venv/bin/pip install --no-cache-dir -r requirements/base.txt
COPY pyproject.toml README.md ./
COPY libs/ libs/
COPY services/ services/
RUN /venv/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
RUN useradd --system --uid 10001 likeness
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 LIKENESS_LOG_JSON=true
USER likeness
CMD ["python", "-m", "registry"]
