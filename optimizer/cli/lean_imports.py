"""Start-up savings the command line's libraries offer no switch for.

structlog imports rich when it is installed (`structlog.dev`, `structlog.tracebacks`),
only to offer rich-rendered tracebacks: about 0.1 s of CPU on every command that logs.
Our logging never uses them (`optimizer.daemon.logging` renders exceptions as plain
text with `format_exc_info` and sets the console renderer's formatter explicitly), so
`structlog_without_rich()` makes the process's first `import structlog` run with rich
hidden: structlog takes the branch it takes when rich is not installed. rich stays
importable for the commands that draw with it (the report's and the demo's progress).
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Loader


def structlog_without_rich() -> None:
    """Import structlog, when something first does, without letting it import rich. A
    no-op when either is already imported (nothing left to save)."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    if not any(isinstance(f, _StructlogFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StructlogFinder())


class _StructlogFinder:
    """A meta path finder (duck-typed: `importlib.abc` alone costs 15 ms of imports) that
    finds structlog where the path finder does and wraps its loader, once."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "structlog":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None and "rich" not in sys.modules:
            spec.loader = _RichHidden(spec.loader)  # type: ignore[assignment]  # duck-typed Loader
        return spec


class _RichHidden:
    """Runs structlog's `__init__` (which imports its submodules) while `import rich`
    raises ImportError, then puts the real loader back on the module."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        sys.modules["rich"] = None  # type: ignore[assignment]  # the documented "not importable"
        try:
            self._loader.exec_module(module)
        finally:
            if "rich" in sys.modules and sys.modules["rich"] is None:
                del sys.modules["rich"]
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
