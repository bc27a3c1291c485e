"""PhonicFlow backend: a FastAPI service that listens to a learner's voice note and coaches them.

Run it with ``python -m phonicflow_backend`` (settings from the environment, see
:mod:`phonicflow_backend.config`); the HTTP contract is ``docs/backend-api.md``.

The flow of one turn, one module per stage::

    audio.py (WAV → 16 kHz mono) → stt.py → scoring/ → coaching.py + conversation.py
      → translation.py → tts.py → storage.py        (orchestrated by pipeline.py, served by app.py)
"""

import os

# Before anything imports numpy: OpenBLAS keeps a thread pool, and its fork handler waits for
# that pool to go idle. The event loop forks espeak-ng for speech while a worker thread is in
# Whisper's feature extractor (numpy → BLAS), and that wait never ends: the whole service hangs.
# With one BLAS thread there is no pool to wait for; the matrices here are small anyway.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
