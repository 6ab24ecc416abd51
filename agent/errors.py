"""The agent's exception tree. Third-party errors are translated where they enter
(`raise X from exc`), so the cause stays attached.

AgentError
├── GStreamerUnavailable    PyGObject or GStreamer 1.0 cannot be loaded here (from ImportError,
│                           ValueError): a setup problem, nothing of the pipeline can run
├── PipelineError           the pipeline description cannot be built here (from GLib.Error: a
│                           missing element, bad syntax); restarting will not help
├── OutboxError             the outbox file cannot be opened, read or written (from sqlite3.Error)
└── TlsSetupError           relay_ca_file holds no certificate GIO can load (from GLib.Error)

Not in the tree: values refused on construction (an `Event`, a motion frame, settings) raise
ValueError or TypeError, as constructors do; pydantic reports settings as ValidationError.
"""


class AgentError(Exception):
    """Base of every error the agent raises as its own."""


class GStreamerUnavailable(AgentError):
    """PyGObject or GStreamer 1.0 is missing: the hint says what to install."""


class PipelineError(AgentError):
    """The pipeline cannot be built here; restarting it will not help (the process ends)."""


class OutboxError(AgentError):
    """The outbox file could not be opened, read or written."""


class TlsSetupError(AgentError):
    """The CA file for the relay's certificate cannot be loaded; the process cannot start."""
