"""What happened, for logs and the inspector.

- :mod:`~mockws.observe.events`: the event types and the bus that carries them
  (free when nobody listens).
- :mod:`~mockws.observe.eventlog`: one log line per event.
- :mod:`~mockws.observe.redact`: masking secrets before anything is shown.
- :mod:`~mockws.observe.logging`: log setup, formatters, the masking access log.
"""
