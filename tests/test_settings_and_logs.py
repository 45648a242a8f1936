"""Settings come from VOICE_AGENT_* and .env; secrets and caller data stay out of logs."""

import pytest
from loguru import logger
from pydantic import ValidationError

from agent.core.logs import forget_pii, redact, remember_pii, setup_logging
from agent.core.settings import Settings


def test_settings_read_the_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("VOICE_AGENT_OPENAI_REALTIME_URL=ws://127.0.0.1:9/v1/realtime\nVOICE_AGENT_DEFAULT_REGION=DE\n")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("VOICE_AGENT_DEFAULT_REGION", "GB")  # the environment wins over .env
    settings = Settings()
    assert settings.openai_realtime_url == "ws://127.0.0.1:9/v1/realtime"
    assert settings.default_region == "GB"
    assert settings.use_openai()
    assert "sk-secret-value" not in repr(settings) and "sk-secret-value" not in str(settings.model_dump())


def test_deterministic_engine_without_a_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VOICE_AGENT_OPENAI_API_KEY", raising=False)
    assert not Settings().use_openai()
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "deterministic")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-x")
    assert not Settings().use_openai()


def test_the_engines_old_name_offline_still_means_the_deterministic_engine(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICE_AGENT_ENGINE", "offline")
    monkeypatch.setenv("VOICE_AGENT_OPENAI_API_KEY", "sk-x")
    settings = Settings()
    assert settings.engine == "deterministic" and not settings.use_openai()


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
