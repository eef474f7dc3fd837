"""Calling the user's code safely.

- :mod:`~mockws.hooks.loader`: importing handler modules, :class:`HandlerSlot`
  (the current version of a module), the ``sys.path`` lease.
- :mod:`~mockws.hooks.timer`: the per-server timer that reports hooks that
  block the event loop.
- :mod:`~mockws.hooks.pipeline`: per-endpoint stages a message passes through,
  ending with the handler's ``on_message``. Declarative rules, faults,
  validation and proxying slot in as stages.
"""
