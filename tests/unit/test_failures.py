"""The per-model error boundary (filterdb.failures)."""

from __future__ import annotations

import numpy as np
import pytest

from filterdb.errors import ModelError
from filterdb.failures import failure_note, per_model, write_failure_note


def _fail() -> None:
    raise ModelError("net", "file:net.pt", "cannot read")


def _run(step, skip_failed, recorded):
    return per_model("net", "file:net.pt", step, skip_failed=skip_failed, record=recorded.append)


def test_without_skipping_the_error_reaches_the_job():
    recorded = []
    with pytest.raises(ModelError, match=r"model 'net' \(file:net\.pt\): cannot read"):
        _run(_fail, False, recorded)
    assert recorded == []


def test_with_skipping_the_error_is_recorded_and_the_job_goes_on(capsys):
    recorded = []
    assert _run(_fail, True, recorded) is False
    assert recorded == ["model 'net' (file:net.pt): cannot read"]
    assert "recorded as failed" in capsys.readouterr().out
    assert _run(lambda: None, True, recorded) is True


def _index_error() -> None:
    [][0]


def _memory_error() -> None:
    # what numpy raises for an impossible allocation, without allocating anything
    np.empty((10**6, 10**6, 10**3), dtype=np.float32)  # 4 PB


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (_index_error, "IndexError: list index out of range"),
        (_memory_error, "MemoryError: Unable to allocate"),
    ],
)
def test_any_exception_is_the_models_failure_with_its_type_and_message(step, expected):
    recorded = []
    assert _run(step, True, recorded) is False
    assert recorded[0].startswith(f"model 'net' (file:net.pt): {expected}")
    with pytest.raises(ModelError, match=f"model 'net' \\(file:net\\.pt\\): {expected}") as info:
        _run(step, False, [])
    assert info.value.__cause__ is not None  # the original traceback is kept


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_or_exit_is_not_recorded_as_a_model_failure(stop):
    def step() -> None:
        raise stop()

    recorded = []
    with pytest.raises(stop):
        _run(step, True, recorded)
    assert recorded == []


def test_the_download_note_round_trips(tmp_path):
    assert failure_note(tmp_path) is None
    write_failure_note(tmp_path, "model 'net' (url): HTTP 404")
    assert failure_note(tmp_path) == "model 'net' (url): HTTP 404"
