"""The local voice detector hears a voice, not tones, noise or silence, and shares one model."""

import numpy as np

from agent.media import mulaw
from agent.testing.voice import speech
from agent.media.vad import SileroModel


def frames(samples: np.ndarray):
    data = samples.astype("<i2").tobytes()
    return [data[i : i + 320] for i in range(0, len(data), 320)]  # 20 ms, like Twilio


def first_trigger_ms(detector, samples) -> int | None:
    for index, frame in enumerate(frames(samples)):
        if detector.feed(frame):
            return (index + 1) * 20
    return None


def counted_detector(monkeypatch):
    """A detector on a fresh model, and the list that grows by one per model inference."""
    model = SileroModel()
    runs: list[int] = []
    real = model.probability
    monkeypatch.setattr(model, "probability", lambda window, state: runs.append(1) or real(window, state))
    return model.detector(min_speech_ms=200), runs


def test_a_voice_triggers_after_the_minimum_speech_time():
    detector = SileroModel.shared().detector(min_speech_ms=200)
    at = first_trigger_ms(detector, speech(1500))
    assert at is not None and 200 <= at <= 1000


def test_tones_noise_and_silence_do_not_trigger():
    detector = SileroModel.shared().detector()
    rng = np.random.default_rng(1)
    tone = mulaw.decode(mulaw.tone(440, 1500))
    noise = (rng.standard_normal(12000) * 2000).astype(np.int16)
    for samples in (tone, noise, np.zeros(12000, dtype=np.int16)):
        detector.reset()
        assert first_trigger_ms(detector, samples) is None


def test_one_model_many_detectors_with_their_own_state():
    model = SileroModel.shared()
    assert SileroModel.shared() is model
    talking, quiet = model.detector(), model.detector()
    voice, silence = frames(speech(1500)), frames(np.zeros(12000, dtype=np.int16))
    heard = [talking.feed(a) for a in voice]
    assert not any(quiet.feed(b) for b in silence)
    assert any(heard)


def test_quiet_windows_cost_no_inference_and_speech_after_them_still_triggers(monkeypatch):
    detector, runs = counted_detector(monkeypatch)
    rng = np.random.default_rng(2)
    line_noise = (rng.standard_normal(16000) * 40).astype(np.int16)  # about -58 dBFS: a quiet phone line
    assert first_trigger_ms(detector, line_noise) is None
    assert runs == []
    at = first_trigger_ms(detector, speech(1500))
    assert at is not None and 200 <= at <= 1000 and runs


def test_mulaw_as_twilio_sends_it_triggers_like_pcm_and_its_silence_costs_nothing(monkeypatch):
    detector, runs = counted_detector(monkeypatch)
    for _ in range(100):
        assert not detector.feed_mulaw(mulaw.SILENCE * 160)
    assert runs == []
    voice = mulaw.encode(speech(1500))
    frames_ = [voice[i : i + 160] for i in range(0, len(voice), 160)]
    at = next((i + 1) * 20 for i, f in enumerate(frames_) if detector.feed_mulaw(f))
    assert 200 <= at <= 1000
