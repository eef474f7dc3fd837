"""Calling the user's code safely.

- :mod:`~mockws.hooks.loader`: importing handler modules, :class:`HandlerSlot`
  (the current version of a module), the ``sys.path`` lease.
- :mod:`~mockws.hooks.timer`: the per-server timer that reports hooks that
  block the event loop.
- :mod:`~mockws.hooks.pipeline`: per-endpoint stages a message passes through,
  ending with the handler's ``on_message``. Declarative rules, faults,
  validation and proxying slot in as stages.
- :mod:`~mockws.hooks.rules`: declarative endpoints at run time (the rules
  stage, ``on_connect`` steps, scripts, timers), one ``RuleBook`` per pattern;
  with :mod:`~mockws.hooks.matchers`, :mod:`~mockws.hooks.steps`,
  :mod:`~mockws.hooks.scripts`, :mod:`~mockws.hooks.timed` and
  :mod:`~mockws.hooks.delay` (the one way to wait, with jitter).
"""
