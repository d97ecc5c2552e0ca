"""The per-model error boundary (filterdb.failures)."""

from __future__ import annotations

import pytest

from filterdb.errors import ModelError
from filterdb.failures import failure_note, per_model, write_failure_note


def _fail() -> None:
    raise ModelError("net", "file:net.pt", "cannot read")


def test_without_skipping_the_error_reaches_the_job():
    recorded = []
    with pytest.raises(ModelError, match=r"model 'net' \(file:net\.pt\): cannot read"):
        per_model(_fail, skip_failed=False, record=recorded.append)
    assert recorded == []


def test_with_skipping_the_error_is_recorded_and_the_job_goes_on(capsys):
    recorded = []
    assert per_model(_fail, skip_failed=True, record=recorded.append) is False
    assert recorded == ["model 'net' (file:net.pt): cannot read"]
    assert "recorded as failed" in capsys.readouterr().out
    assert per_model(lambda: None, skip_failed=True, record=recorded.append) is True


def test_the_download_note_round_trips(tmp_path):
    assert failure_note(tmp_path) is None
    write_failure_note(tmp_path, "model 'net' (url): HTTP 404")
    assert failure_note(tmp_path) == "model 'net' (url): HTTP 404"
