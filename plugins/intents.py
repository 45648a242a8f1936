"""The pre-built intents of the system we model, plus ``talk_to_human``."""

from agent.plugin_api import Intent, hookimpl

BUILTIN_INTENTS = [
    Intent(
        name="incident",
        label="Report an incident",
        description="The caller reports something broken or misbehaving that needs an engineer: errors, failures, data problems.",
        examples=[
            "I want to report an incident",
            "something is broken in production",
            "we are seeing a lot of errors since this morning",
            "our jobs keep failing",
            "the deployment broke something",
            "payments are not being processed",
            "there is a problem with the data",
            "we get error messages when we save",
        ],
        keywords=["incident", "broken", "error", "errors", "failing", "fails", "failure", "bug", "problem", "issue", "wrong", "corrupt", "stuck", "crash", "exception", "timeout", "slow", "latency", "stopped", "stopped working", "not working", "broke"],
    ),
    Intent(
        name="system_outage",
        label="System outage",
        description="A whole system, site or service is down or unreachable for everyone.",
        examples=[
            "the website is down",
            "your service is completely unavailable",
            "nothing loads at all",
            "we can't reach your API",
            "everything is offline",
            "the whole platform went dark",
            "checkout is down for all our customers",
            "your servers are not responding",
            "none of our users can log in at all",
            "the login page times out for everyone",
        ],
        keywords=["down", "outage", "offline", "unavailable", "unreachable", "not loading", "not responding", "dead", "went dark", "502", "503", "504", "gateway", "nothing works", "totally", "completely", "everyone", "all customers", "at all", "none of", "times out", "all users"],
    ),
    Intent(
        name="security_breach",
        label="Security breach",
        description="The caller reports a security problem: a breach, hacked account, leaked data, malware, phishing or suspicious access.",
        examples=[
            "I think we've been hacked",
            "there was a data breach",
            "someone logged into our account without permission",
            "our credentials were leaked",
            "we got a phishing email pretending to be you",
            "there is ransomware on our servers",
            "I see suspicious logins from another country",
        ],
        keywords=["hacked", "hack", "breach", "leak", "leaked", "compromised", "phishing", "ransomware", "malware", "virus", "suspicious", "unauthorized", "attack", "stolen", "intrusion", "security", "ddos", "broke into", "broken into", "break in", "logins from", "logged in from", "unknown ip", "wasn't us", "unrecognised", "unrecognized"],
    ),
    Intent(
        name="technical_support",
        label="Technical support",
        description="The caller needs help using or configuring the product; nothing is down for everyone.",
        examples=[
            "I need help setting up the integration",
            "how do I configure single sign-on",
            "I can't log in to my account",
            "I forgot my password",
            "can you help me with the API",
            "the app on my phone doesn't sync",
        ],
        keywords=["help", "how do i", "how to", "configure", "configuration", "setup", "set up", "install", "password", "log in", "login", "account", "support", "settings", "integration", "documentation"],
    ),
    Intent(
        name="inquiry",
        label="General inquiry",
        description="A general question that is not about a problem: billing, contracts, information, status of a request.",
        examples=[
            "I have a general question",
            "I'd like some information about your plans",
            "I have a question about my invoice",
            "who do I talk to about the contract",
            "what are your opening hours",
        ],
        keywords=["question", "information", "info", "invoice", "billing", "bill", "contract", "pricing", "price", "plan", "sales", "opening hours", "inquiry", "enquiry", "renewal"],
    ),
    Intent(
        name="talk_to_human",
        label="Talk to a person",
        description="The caller asks to speak to a human, an engineer, an operator or a real person.",
        examples=[
            "I want to talk to a human",
            "let me speak to a real person",
            "put me through to the on-call engineer",
            "can I talk to someone please",
            "get me an operator",
            "I don't want to talk to a robot",
        ],
        keywords=["human", "person", "real person", "someone", "somebody", "operator", "engineer", "representative", "agent", "robot", "a real", "on call", "on-call", "oncall"],
    ),
]


@hookimpl
def register_intents(register):
    for intent in BUILTIN_INTENTS:
        register(intent)
