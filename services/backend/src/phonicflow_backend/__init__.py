"""PhonicFlow backend: a FastAPI service that listens to a learner's voice note and coaches them.

Run it with ``python -m phonicflow_backend`` (settings from the environment, see
:mod:`phonicflow_backend.config`); the HTTP contract is ``docs/backend-api.md``.

The flow of one turn, one module per stage::

    audio.py (WAV → 16 kHz mono) → stt.py → scoring/ → coaching.py + conversation.py
      → translation.py → tts.py → storage.py        (orchestrated by pipeline.py, served by app.py)
"""

__version__ = "0.1.0"
