"""The cascade answers a finished sentence at a short pause, and waits for a caller who is not done.

At ``pause_ms`` of silence inside a turn the words so far are transcribed;
if they read finished (:func:`reads_finished`) the LLM gets them before the
turn's full silence (``turn_end_ms``). A caller who goes on before hearing
the answer loses no words and hears no answer to half a sentence. Whole-call
tests run the cascade between its real neighbours against the local fake of
OpenAI's HTTP API (see tests/test_cascade_backend.py), and assert what the
services were sent and what the caller heard.
"""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import (
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)

from agent.media import mulaw
from agent.media.backends.cascade import CascadeOptions
from agent.media.backends.cascade.turn_end import reads_finished
from agent.media.backends.cascade.turns import Turn
from agent.testing.fake_openai_http import ChatScript, FakeOpenAIHttp, When
from agent.testing.voice import spoken
from tests.test_cascade_audio import turns
from tests.test_cascade_backend import GREETING, CascadeCall

TRANSCRIBE = "/v1/audio/transcriptions"
ANSWER_WORDS = 7  # "I will send someone for the printer." at the fake TTS's 300 ms a word
SPEECH = "/v1/audio/speech"


def silence(ms: int) -> bytes:
    return mulaw.SILENCE * 8 * ms


# -- when a transcript reads finished ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "My printer is on fire.", "Is the VPN down?", "Help!", "My number is 0151 234 5678.", "He said \"stop.\"",
    "Mein Drucker brennt.", "Ist das Netz weg?", "Bitte rufen Sie mich zurück!",
])
def test_a_sentence_with_its_final_mark_reads_finished(text: str) -> None:
    assert reads_finished(text)


@pytest.mark.parametrize("text", [
    "My printer is on fire",  # an STT that does not punctuate: no sign of an end
    "My name is.", "I am calling because.", "It is about the.", "I need help with my.", "So the server and.", "Um.", "Uh, well, like.",
    "Wait...", "Wait…", "The first thing,", "The problem is:", "The ticket number is -",
    "Mein Name ist.", "Ich rufe an wegen der.", "Das Problem ist, dass.", "Es geht um mein.", "Ähm.", "Also.", "Und.",
    "", "  ",
])
def test_a_fragment_or_an_unpunctuated_text_does_not(text: str) -> None:
    assert not reads_finished(text)


# -- the turn detector's pauses, on real Silero -------------------------------------------------------

def test_a_pause_inside_a_turn_is_reported_and_speech_after_it_resumes_the_turn() -> None:
    audio = silence(500) + spoken(1000) + silence(300) + spoken(800) + silence(1000)
    found = turns(audio, pause_ms=200, stop_ms=640)
    assert [e for _, e in found] == [Turn.STARTED, Turn.PAUSED, Turn.RESUMED, Turn.PAUSED, Turn.STOPPED]
    (_, _), (paused, _), (resumed, _), (paused_again, _), (stopped, _) = found
    assert 1500 + 200 <= paused < 1500 + 300, "200 ms after the first words, inside the 300 ms pause"
    assert 1800 < resumed <= 1800 + 300, "once the speech after the pause is speech (start_ms of it)"
    assert 2600 + 200 <= paused_again < 2600 + 300
    assert 2600 + 640 <= stopped <= 2600 + 800, "the silence that ends the turn is counted from its last speech"
    assert [e for _, e in turns(audio, stop_ms=640)] == [Turn.STARTED, Turn.STOPPED], "pause_ms 0: no pauses, as before"


def test_a_click_in_a_pause_neither_resumes_the_turn_nor_delays_its_end() -> None:
    click = spoken(96)  # three windows of voice: less than the start_ms that makes speech
    clean = turns(silence(500) + spoken(1000) + silence(1000), pause_ms=200, stop_ms=640)
    clicked = turns(silence(500) + spoken(1000) + silence(300) + click + silence(700), pause_ms=200, stop_ms=640)
    assert [e for _, e in clicked] == [Turn.STARTED, Turn.PAUSED, Turn.STOPPED]
    assert clicked == clean, "the turn ends when it would have without the click"


def test_the_pause_must_come_before_the_turn_end() -> None:
    assert CascadeOptions().pause_ms == 200 and CascadeOptions().turn_end_ms == 640
    with pytest.raises(ValueError, match="pause_ms"):
        CascadeOptions.model_validate({"pause_ms": 640})
    with pytest.raises(ValueError, match="pause_ms"):
        CascadeOptions.model_validate({"pause_ms": 40})
    assert CascadeOptions.model_validate({"pause_ms": 0}).pause_ms == 0, "0 turns the early end off"


# -- whole calls ------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_finished_sentence_is_answered_at_the_pause_before_the_turns_silence_is_over() -> None:
    script = ChatScript([When(user="printer", say="I am sorry to hear that.")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake, answer_timeout_s=1.0) as call:
        await call.greeted()
        fake.caller_said("My printer is on fire.")
        # 300 ms of silence, then no audio at all: the detector cannot count 640 ms of silence, so an answer
        # now was given at the pause.
        await call.audio(spoken(1200) + silence(300))
        await call.until(lambda: "I am sorry to hear that." in call.bot_said(), timeout=5, what="the answer at the pause")
        await call.until(lambda: call.heard_ms() > 300 * (len(GREETING.split()) + 2), what="the answer's audio")
        assert len(fake.sent(TRANSCRIBE)) == 1
        assert fake.chats[-1]["messages"][1:] == [
            {"role": "assistant", "content": GREETING}, {"role": "user", "content": "My printer is on fire."},
        ]
        seen = call.spy.seen
        stopped = [i for i, f in enumerate(seen) if isinstance(f, UserStoppedSpeakingFrame)]
        answer = next(i for i, f in enumerate(seen) if isinstance(f, TTSTextFrame) and f.text == "I am sorry to hear that.")
        assert len(stopped) == 1 and stopped[0] < answer, "the supervisor saw the caller stop before the answer"

        await call.audio(silence(700))  # the turn's full silence: nothing new was said since the pause
        await asyncio.sleep(1.5)  # longer than answer_timeout_s
        assert len(fake.sent(TRANSCRIBE)) == 1, "no second segment"
        assert len(fake.chats) == 2, "the turn is answered once"
        assert [f for f in call.spy.seen if isinstance(f, UserStoppedSpeakingFrame)] == [seen[stopped[0]]]
        assert call.failures == [], "the early answer counts: no answer is due at the turn's end"


@pytest.mark.anyio
async def test_without_the_early_end_the_same_sentence_waits_for_the_turns_silence() -> None:
    script = ChatScript([When(user="printer", say="I am sorry to hear that.")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake, pause_ms=0) as call:
        await call.greeted()
        fake.caller_said("My printer is on fire.")
        await call.audio(spoken(1200) + silence(300))
        await asyncio.sleep(1.0)
        assert fake.sent(TRANSCRIBE) == [] and len(fake.chats) == 1, "nothing is sent before the turn's end"
        await call.audio(silence(500))
        await call.until(lambda: "I am sorry to hear that." in call.bot_said(), timeout=5, what="the answer at the turn's end")


@pytest.mark.anyio
async def test_a_caller_who_pauses_mid_sentence_gets_one_answer_to_the_whole_sentence() -> None:
    script = ChatScript([When(user="John Smith", say="Thank you, John.")], otherwise="Sorry, your name?")
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake) as call:
        await call.greeted()
        fake.caller_said("My name is", "John Smith.")
        await call.audio(spoken(700) + silence(350))
        await fake.wait_for(TRANSCRIBE, count=1)  # the words so far, sent at the pause
        await asyncio.sleep(0.4)
        assert len(fake.chats) == 1, "'My name is' does not read finished: no answer yet"
        await call.audio(spoken(700) + silence(900))
        await call.until(lambda: "Thank you, John." in call.bot_said(), timeout=5, what="the answer")
        await asyncio.sleep(0.3)
        assert len(fake.chats) == 2 and "Sorry, your name?" not in call.bot_said(), "one answer"
        assert fake.chats[-1]["messages"][1:] == [
            {"role": "assistant", "content": GREETING}, {"role": "user", "content": "My name is John Smith."},
        ]
        second = fake.sent(TRANSCRIBE)[1]
        wav_ms = (len(second.body["file"]) - 44) // 16  # 16-bit 8 kHz mono after the 44-byte WAV header
        assert wav_ms >= 700 + 200 + 500, "the second segment has all of its words (the STT's pre-roll), the pause and the padding"
        assert len([f for f in call.spy.seen if isinstance(f, UserStartedSpeakingFrame)]) == 2, "the turn, and its resumption"
        assert call.failures == []


@pytest.mark.anyio
async def test_a_caller_who_goes_on_before_hearing_the_early_answer_hears_none_of_it() -> None:
    script = ChatScript([
        When(user="printer", say="I will send someone for the printer."),
        When(user="help", say="What do you need help with?"),
    ])
    async with FakeOpenAIHttp(script, first_token_ms=1500) as fake, CascadeCall(fake, answer_timeout_s=10) as call:
        await call.greeted()
        heard_before = call.heard_ms()
        fake.caller_said("I need help.", "With the printer in the office.")
        await call.audio(spoken(700) + silence(300))
        await fake.wait_for("/v1/chat/completions", count=2)  # "I need help." reads finished: the LLM is asked
        await call.audio(spoken(900) + silence(900))  # the caller goes on while the answer is being thought of
        await call.until(lambda: "I will send someone for the printer." in call.bot_said(), timeout=10, what="the answer to all of it")
        await call.until(lambda: not call.line._marks, timeout=10, what="the answer played")
        assert "What do you need help with?" not in call.bot_said()
        assert [r.body["input"] for r in fake.sent(SPEECH)][1:] == ["I will send someone for the printer."], "the dropped answer was never synthesized"
        assert call.heard_ms() - heard_before == 300 * ANSWER_WORDS, "only the answer's audio reached the caller"
        assert fake.chats[-1]["messages"][1:] == [
            {"role": "assistant", "content": GREETING}, {"role": "user", "content": "I need help. With the printer in the office."},
        ]
        assert call.model.history[-1] == {"role": "assistant", "content": "I will send someone for the printer."}
        assert not any(m.get("content") == "What do you need help with?" for m in call.model.history)
        assert call.failures == []


@pytest.mark.anyio
async def test_an_early_answer_written_but_not_yet_spoken_leaves_the_history_when_the_caller_goes_on() -> None:
    script = ChatScript([
        When(user="printer", say="I will send someone for the printer."),
        When(user="help", say="What do you need help with?"),
    ])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake, answer_timeout_s=10) as call:
        await call.greeted()
        heard_before = call.heard_ms()
        fake.stall.add(SPEECH)  # the TTS takes its time: the answer is written, no audio yet
        fake.caller_said("I need help.", "With the printer in the office.")
        await call.audio(spoken(700) + silence(300))
        await call.until(lambda: any(m.get("content") == "What do you need help with?" for m in call.model.history),
                         what="the early answer written")
        await fake.wait_for(SPEECH, count=2)
        fake.stall.discard(SPEECH)
        await call.audio(spoken(900) + silence(900))
        await call.until(lambda: "I will send someone for the printer." in call.bot_said(), timeout=10, what="the answer to all of it")
        await call.until(lambda: not call.line._marks, timeout=10, what="the answer played")
        assert "What do you need help with?" not in call.bot_said()
        assert call.heard_ms() - heard_before == 300 * ANSWER_WORDS, "none of the dropped answer's audio"
        assert fake.chats[-1]["messages"][1:] == [
            {"role": "assistant", "content": GREETING}, {"role": "user", "content": "I need help. With the printer in the office."},
        ], "the LLM never sees an answer the caller did not hear"
        assert not any(m.get("content") == "What do you need help with?" for m in call.model.history)
        assert call.failures == []


@pytest.mark.anyio
async def test_an_answer_dropped_for_a_sound_that_was_no_words_is_asked_for_again() -> None:
    script = ChatScript([When(user="help", say="What do you need help with?", once=False)])
    async with FakeOpenAIHttp(script, first_token_ms=1500) as fake, CascadeCall(fake, answer_timeout_s=10) as call:
        await call.greeted()
        fake.caller_said("I need help.", "")  # then a cough: the STT hears no words
        await call.audio(spoken(700) + silence(300))
        await fake.wait_for("/v1/chat/completions", count=2)
        await call.audio(spoken(300) + silence(900))
        await call.until(lambda: "What do you need help with?" in call.bot_said(), timeout=10, what="the answer")
        await asyncio.sleep(0.5)
        assert call.bot_said().count("What do you need help with?") == 1 and len(fake.sent(TRANSCRIBE)) == 2
        assert len(fake.chats) == 3, "the greeting, the answer dropped when the caller went on, the same answer asked again"
        assert fake.chats[-1]["messages"][1:] == [{"role": "assistant", "content": GREETING}, {"role": "user", "content": "I need help."}]
        assert call.failures == []


@pytest.mark.anyio
async def test_a_caller_who_goes_on_while_hearing_the_early_answer_talks_over_it_and_both_turns_stay() -> None:
    long = ("Let me explain what we know so far about the outage in the data centre. "
            "Engineers are working on it and we expect an update within the next hour or so.")
    script = ChatScript([When(user="outage", say=long), When(user="scanner", say="I will note the scanner.")])
    async with FakeOpenAIHttp(script) as fake, CascadeCall(fake, answer_timeout_s=10) as call:
        call.line.speed = 1.0  # played in real time: the caller can talk over it
        await call.greeted()
        fake.caller_said("Is there an outage?", "And my scanner is broken.")
        await call.audio(spoken(700) + silence(300))
        played = call.line.played_ms()
        await call.until(lambda: call.line.played_ms() > played + 1200, timeout=10, what="the early answer playing")
        await call.audio(spoken(900) + silence(900))  # still the same turn: it was only paused
        await call.until(lambda: "I will note the scanner." in call.bot_said(), timeout=15, what="the answer to the rest")
        assert call.line.events("clear"), "the early answer was heard, so it is cut off as at any barge-in"
        user, assistant, rest = fake.chats[-1]["messages"][-3:]
        assert user == {"role": "user", "content": "Is there an outage?"}
        kept = assistant["content"].split()
        assert assistant["role"] == "assistant" and 2 <= len(kept) < len(long.split()) and long.split()[: len(kept)] == kept
        assert rest == {"role": "user", "content": "And my scanner is broken."}, "what the caller heard of the answer stays between their words"
        assert call.failures == []


@pytest.mark.anyio
async def test_the_answer_timeout_runs_from_the_early_end_of_the_turn() -> None:
    async with FakeOpenAIHttp(ChatScript()) as fake, CascadeCall(fake, answer_timeout_s=1.5) as call:
        await call.greeted()
        fake.stall.add("/v1/chat/completions")
        fake.caller_said("My printer is on fire.")
        await call.audio(spoken(1200) + silence(300))  # then no audio: the turn never reaches its full silence
        await fake.wait_for("/v1/chat/completions", count=2)
        await call.until(lambda: call.failures, timeout=6, what="the fail-over")
        assert [kind for kind, _ in call.failures] == ["no_answer"]
