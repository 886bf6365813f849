#!/usr/bin/env bash
# Install the biometric extras into a virtualenv and check they load:
#   scripts/install-bio.sh .venv/bin/python            # what the services run (requirements/bio.txt)
#   scripts/install-bio.sh .venv/bin/python --reference # plus torch + librosa for the equivalence tests
# Order and flags matter; see the headers of requirements/bio*.txt.
set -euo pipefail

PY="${1:?usage: $0 /path/to/venv/bin/python [--reference]}"
cd "$(dirname "$0")/.."

"$PY" -m pip install -q "setuptools<82"
"$PY" -m pip install -q -r requirements/bio.txt
"$PY" -m pip install -q --no-deps -r requirements/bio-nodeps.txt
if [ "${2:-}" = "--reference" ]; then
  "$PY" -m pip install -q -r requirements/bio-reference.txt
  # a wrong torch build only shows at import
  "$PY" -c 'import torch; assert not torch.version.cuda, f"CUDA build of torch installed ({torch.__version__}); expected the CPU wheel"'
fi
# The voice weights: Resemblyzer's pretrained.pt converted to safetensors with torch (as `make setup`
# does), where likeness_biometrics.models.voice_weights_path() looks. Without torch, the load below
# fails until the converted file is there (or LIKENESS_VOICE_WEIGHTS names it).
if "$PY" -c 'import torch' 2>/dev/null; then
  "$PY" scripts/convert_voice_weights.py "$(PYTHONPATH="$PWD/libs" "$PY" -c 'from likeness_biometrics.models import voice_weights_path; print(voice_weights_path())')"
fi

# face_recognition_models prints a message and exits 0 when pkg_resources is missing: load both
# models once so a broken install fails here.
PYTHONPATH="$PWD/libs${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'PYEOF'
import dlib
from likeness_biometrics.models import FACE_MODEL, VOICE_MODEL, load_face_models, load_voice_encoder

load_face_models()
load_voice_encoder()
print(f"biometrics ok: dlib {dlib.__version__}, "
      f"{FACE_MODEL.name} {FACE_MODEL.version}, {VOICE_MODEL.name} {VOICE_MODEL.version}")
PYEOF
