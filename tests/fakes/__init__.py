"""The fakes of the outside world the tests use.

They live in :mod:`agent.testing` so that plugin and flow authors get them too
(``pip install oncall-voice-agent`` ships them, with pytest fixtures):

- :class:`FakeRealtimeServer` — a local WebSocket server speaking the OpenAI
  Realtime GA event protocol, with faults on cue (refuse, drop, stall, garbage);
- :class:`FakeTwilioCall` — a Twilio Media Streams client over a real WebSocket
  (signed upgrade, paced 8 kHz mu-law, marks echoed after playout);
- :class:`TwimlInterpreter` — Twilio's voice engine: signed webhooks, TwiML
  followed verb by verb (Gather, Dial with whispers, Record, Connect/Stream).

HTTP APIs (Twilio REST, ilert, PagerDuty, Statuspage, OpenAI HTTP) are faked
with respx and vendor-shaped fixtures in ``tests/fixtures``.
"""

from agent.testing.fake_realtime import FakeModel, FakeRealtimeServer, Say, ToolCall
from agent.testing.fake_twilio import FakeTwilioCall
from agent.testing.twiml_interpreter import Spoken, TwimlInterpreter

__all__ = ["FakeModel", "FakeRealtimeServer", "FakeTwilioCall", "Say", "Spoken", "ToolCall", "TwimlInterpreter"]
