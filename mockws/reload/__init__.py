"""Hot reload: edits to handler files and the config become swapped modules and a config plan.

- :mod:`~mockws.reload.reloader`: the :class:`Reloader` and :func:`attach_reloader`.
- :mod:`~mockws.reload.watcher`: file changes, batched, from watchfiles.
- :mod:`~mockws.reload.modgraph`: which project modules the handlers import.
- :mod:`~mockws.reload.freshload`: executing a module anew from its source.

Loaded only when reloading is on (watchfiles costs start-up time).
"""
