"""mockws.events is the public name of the event feed (mockws/events.py)."""

from __future__ import annotations

import mockws.events
import mockws.observe.events


def test_public_module_exports_the_same_objects_as_observe_events() -> None:
    """Every public name of mockws.observe.events is importable, identical, from mockws.events."""
    public = set(mockws.observe.events.__all__)
    assert set(mockws.events.__all__) == public
    for name in public:
        assert getattr(mockws.events, name) is getattr(mockws.observe.events, name), name
