"""The checked-in gRPC stubs match proto/ (run `make proto` after editing a .proto)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_stubs_are_up_to_date():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_is_versioned_under_phonicflow_audio_v1():
    from phonicflow.audio.v1 import converter_pb2

    service = converter_pb2.DESCRIPTOR.services_by_name["AudioConverterService"]
    assert service.full_name == "phonicflow.audio.v1.AudioConverterService"
    assert {m.name for m in service.methods} >= {"ToWav", "ToVoice"}
