# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The GE2E voice weights, converted once from Resemblyzer's pretrained.pt (torch, which only setup
# installs) to the safetensors file the numpy encoder reads: likeness_biometrics.models.voice_weights_path().
VOICE_WEIGHTS := $(VENV)/share/likeness/resemblyzer-ge2e-0.1.4.safetensors

.PHONY: setup demo test test-fast protos bench clean

setup: $(STAMP) $(VOICE_WEIGHTS)

$(STAMP): pyproject.toml requirements/*.txt scripts/install-system-deps.sh
	./scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 'setuptools<82' wheel
	$(PY) -m pip install -q -r requirements/dev.txt -r requirements/bio.txt -r requirements/bio-reference.txt
	$(PY) -m pip install -q --no-deps -r requirements/bio-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	# libs/ and services/ on sys.path, so a new package needs no reinstall.
	printf '%s\n' "$(CURDIR)/libs" "$(CURDIR)/services" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/likeness-src.pth"
	touch $(STAMP)

# Reconverted when the packages or the script change; loading the encoder checks the pinned SHA-256.
$(VOICE_WEIGHTS): $(STAMP) scripts/convert_voice_weights.py
	$(PY) scripts/convert_voice_weights.py $@
	$(PY) -c 'from likeness_biometrics.models import load_voice_encoder; load_voice_encoder()'

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m pytest -ra

test-fast: setup
	$(PY) -m pytest -ra -m "not e2e"

protos: setup
	$(PY) scripts/gen_protos.py

# protos/baseline.binpb: the image `buf breaking` compares protos/ against (tests/unit/test_protos_compatible.py).
# Run it with every proto change; it refuses a breaking change unless BREAKING=1.
.PHONY: protos-baseline
protos-baseline: setup
	$(PY) -m tests.unit.test_protos_compatible $(if $(BREAKING),--allow-breaking)

clean:
	rm -rf $(VENV) .likeness .pytest_cache
