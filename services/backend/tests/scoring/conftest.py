"""One scorer per test session (models load once) and the synthetic cases of eval_synthetic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from phonicflow_backend.scoring import PronunciationScorer, create_scorer


def _load_cases() -> ModuleType:
    # eval_synthetic.py is also a script; load it by path so tests and docs share its cases
    name = "phonicflow_scoring_eval_synthetic"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("eval_synthetic.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def cases() -> ModuleType:
    """eval_synthetic: ``pcm16(text, voice)`` (cached per run), CORRECT and PLANTED."""
    return _load_cases()


@pytest.fixture(scope="session")
def scorer() -> PronunciationScorer:
    return create_scorer()
