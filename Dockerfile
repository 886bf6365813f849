# One image for every service and the relay; the compose `command` picks which.
# Layers from least to most often changed: system libraries, Python dependencies (dlib, PyAV,
# faiss and the model weights that ship in face_recognition_models and Resemblyzer; no torch: both
# networks run on numpy; cached until requirements/ changes), then the code.

# Resemblyzer's pretrained.pt converted once to the safetensors file the numpy voice encoder reads
# (scripts/convert_voice_weights.py, as `make setup` does): torch, at requirements/bio-reference.txt's
# pin, reads the pickle in this stage only, and only the converted file leaves it.
FROM python:3.11-slim AS voice-weights
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements/ requirements/
RUN python -m venv /venv \
 && /venv/bin/pip install $(grep -h -E '^(torch|numpy)==' requirements/bio-reference.txt requirements/bio.txt) \
 && /venv/bin/pip install --no-deps $(grep -E '^Resemblyzer==' requirements/bio-nodeps.txt)
COPY scripts/convert_voice_weights.py scripts/
RUN /venv/bin/python scripts/convert_voice_weights.py /out/resemblyzer-ge2e-0.1.4.safetensors

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /venv && /venv/bin/pip install 'setuptools<82' wheel
COPY requirements/ requirements/
RUN /venv/bin/pip install -r requirements/base.txt \
 && /venv/bin/pip install -r requirements/bio.txt \
 && /venv/bin/pip install --no-deps -r requirements/bio-nodeps.txt
# Where likeness_biometrics.models.voice_weights_path() looks by default: <sys.prefix>/share/likeness.
COPY --from=voice-weights /out/ /venv/share/likeness/
COPY pyproject.toml README.md ./
COPY libs/ libs/
COPY services/ services/
# Loading the voice encoder checks the converted file against its pinned SHA-256: a conversion
# that differs fails the build, not the first worker.
RUN /venv/bin/pip install --no-deps . \
 && /venv/bin/python -c 'from likeness_biometrics.models import load_voice_encoder; load_voice_encoder()'

FROM python:3.11-slim
# libgomp: the OpenMP runtime of dlib and faiss.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home likeness
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 LIKENESS_LOG_JSON=true OMP_NUM_THREADS=1
USER 10001
EXPOSE 50051 50052 50053 50054 8080
CMD ["python", "-m", "registry"]
