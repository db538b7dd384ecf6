"""PROTOCOL.md is generated from the code, up to date, and complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol import docs
from protocol.errors import CloseCode, ErrorCode
from protocol.messages import REGISTRY, SERVER_MESSAGES


def test_protocol_md_is_up_to_date() -> None:
    assert docs.DOC_PATH.read_text(encoding="utf-8") == docs.render(), "run `python -m protocol.docs`"


def test_every_code_and_message_is_documented() -> None:
    text = docs.render()
    for code in ErrorCode:
        assert f"| `{code.value}` | {code.description} |" in text
    for close in CloseCode:
        assert f"| {int(close)} | {close.name} |" in text
    for spec in REGISTRY.values():
        assert f"### `{spec.type}` (client)" in text
    for spec in SERVER_MESSAGES.values():
        assert f"### `{spec.type}` (server)" in text


def test_main_writes_and_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "PROTOCOL.md"
    monkeypatch.setattr(docs, "DOC_PATH", target)
    assert docs.main(["--check"]) == 1
    assert docs.main([]) == 0
    assert docs.main(["--check"]) == 0
    target.write_text("stale", encoding="utf-8")
    assert docs.main(["--check"]) == 1
