"""PhonicFlow's gRPC audio converter (``phonicflow.audio.v1.AudioConverterService``).

Run it with ``python -m phonicflow_converter``; settings are in :mod:`phonicflow_converter.config`.
The conversions themselves are plain functions in :mod:`phonicflow_converter.codec`
(:func:`to_wav`, :func:`to_voice`) usable without the server.
"""

from phonicflow_converter.codec import (
    AudioInfo,
    ConversionError,
    Limits,
    VoiceResult,
    WavResult,
    to_voice,
    to_wav,
)

__all__ = [
    "AudioInfo",
    "ConversionError",
    "Limits",
    "VoiceResult",
    "WavResult",
    "to_voice",
    "to_wav",
]
