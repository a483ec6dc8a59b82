"""Load the scripts under bin/ (no .py suffix) as modules, for tests."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def load_bin_script(name: str) -> ModuleType:
    module_name = f"bin_{name.replace('-', '_')}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader = importlib.machinery.SourceFileLoader(module_name, str(ROOT / "bin" / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name, loader))
    sys.modules[module_name] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module
