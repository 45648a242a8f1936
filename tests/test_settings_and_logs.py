"""Settings come from VOICE_AGENT_* and .env; secrets and caller data stay out of logs."""

import tempfile
from pathlib import Path

import pytest
from loguru import logger
from pydantic import ValidationError
from ruamel.yaml import YAML

from agent.core.logs import forget_pii, redact, remember_pii, setup_logging
from agent.core.registry import default_registry
from agent.core.settings import Settings
from agent.flow.loader import load_flow
from agent.media.backends.choice import live_model_wanted
from agent.testing.live import flow_with_model
from tests.conftest import HOTLINE


def answered_by_model(settings: Settings, path: Path = HOTLINE) -> bool:
    """Whether the server would answer the flow's AI node with its model (VOICE_AGENT_ENGINE and the backend's keys)."""
    registry = default_registry()
    return live_model_wanted(load_flow(path, registry, settings), registry, settings)


def test_settings_read_the_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("VOICE_AGENT_OPENAI_REALTIME_URL=ws://127.0.0.1:9/v1/realtime\nVOICE_AGENT_DEFAULT_REGION=DE\n")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("VOICE_AGENT_DEFAULT_REGION", "GB")  # the environment wins over .env
    settings = Settings()
    assert settings.openai_realtime_url == "ws://127.0.0.1:9/v1/realtime"
    assert settings.default_region == "GB"
    assert answered_by_model(settings)
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.model_dump())


def test_deterministic_engine_without_a_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOICE_AGENT_OPENAI_API_KEY", raising=False)
    assert not answered_by_model(Settings())
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "deterministic")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-x")
    assert not answered_by_model(Settings())


def test_the_engines_old_name_offline_still_means_the_deterministic_engine(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "offline")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-x")
    settings = Settings()
    assert settings.engine == "deterministic" and not answered_by_model(settings)


def _with_model(block: str, tmp_path: Path) -> Path:
    """The example hotline with its AI node on the model ``block`` (YAML lines under ``model:``)."""
    return flow_with_model(HOTLINE, YAML(typ="safe", pure=True).load(block), Path(tempfile.mkdtemp(dir=tmp_path)))


def test_auto_answers_with_the_model_whose_keys_are_set_not_only_openais(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("VOICE_AGENT_OPENAI_API_KEY", "VOICE_AGENT_AZURE_OPENAI_API_KEY", "VOICE_AGENT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    azure = _with_model("backend: openai_realtime\nazure_endpoint: https://acme.openai.azure.com\ndeployment: gpt-realtime", tmp_path)
    monkeypatch.setenv("VOICE_AGENT_AZURE_OPENAI_API_KEY", "azure-key")  # without it the flow does not load (flow validate)
    assert answered_by_model(Settings(), azure), "an Azure key alone is enough for an Azure node"
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "deterministic")
    assert not answered_by_model(Settings(), azure)


def test_auto_answers_a_fully_self_hosted_cascade_without_any_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("VOICE_AGENT_OPENAI_API_KEY", "VOICE_AGENT_ENGINE"):
        monkeypatch.delenv(name, raising=False)
    own = _with_model(
        "backend: cascade\nstt: {base_url: http://whisper.internal:8000/v1}\n"
        "llm: {base_url: http://vllm.internal:8000/v1}\ntts: {base_url: http://kokoro.internal:8880/v1}", tmp_path,
    )
    assert answered_by_model(Settings(), own)
    ollama = _with_model("backend: cascade\nstt: {base_url: http://whisper.internal:8000/v1}\nllm: {type: ollama}\n"
                         "tts: {base_url: http://kokoro.internal:8880/v1}", tmp_path)
    assert answered_by_model(Settings(), ollama), "Ollama without base_url: Pipecat's localhost default"
    openais = _with_model("backend: cascade", tmp_path)  # OpenAI's own API by default: needs its key
    assert not answered_by_model(Settings(), openais)
    assert answered_by_model(Settings(openai_api_key="sk-x"), openais)


def test_an_unknown_engine_is_refused_with_the_names_that_work(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "gpt")
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert "'openai', 'deterministic' or 'auto'" in str(raised.value)


def test_caller_data_is_redacted_in_log_lines():
    remember_pii("Jane Doe")
    try:
        line = redact("caller Jane Doe (+49 151 23456789, jane.doe@initech.com) asked for a human")
    finally:
        forget_pii("Jane Doe")
    assert line == "caller [redacted] ([phone], [email]) asked for a human"


def test_the_log_sink_redacts_unless_told_to_keep_pii(capsys):
    setup_logging("INFO")
    logger.info("callback +4915112345678")
    setup_logging("INFO", keep_pii=True)
    logger.info("callback +4915112345678")
    setup_logging("WARNING")
    err = capsys.readouterr().err
    assert "callback [phone]" in err
    assert err.count("+4915112345678") == 1
