"""The journal and the scheduled zip rewrites of ``Experiment_handler.result_store``."""

import json

import pytest

from Experiment_handler.result_store import (
    JOURNAL_NAME,
    REWRITE_SPACING,
    JournalMismatch,
    ResultWriter,
    load_samples,
    read_journal,
)
from Experiment_handler.result_zip import read_result_metadata

EXPERIMENT = {"alg_name": "TopPop", "alg_seed": 0}


def header() -> dict:
    return {"schema_version": 1, "status": "error", "error": "running", "search_params": {}}


def sample(number: int) -> dict:
    return {"sample_number": number, "hyperparameters": {"x": number}, "exception": None}


class SearchClock:
    """A search's clock: each sample takes 1 s; a zip rewrite takes 0.01 s per sample it holds."""

    def __init__(self):
        self.now = 0.0
        self.rewrite_seconds = 0.0

    def __call__(self) -> float:
        return self.now

    def log_text_for(self, writer) -> callable:
        def log_text() -> str:  # called inside each rewrite: the rewrite's cost passes here
            cost = 0.01 * len(writer._texts)
            self.now += cost
            self.rewrite_seconds += cost
            return ""
        return log_text


def test_rewrites_cost_a_bounded_share_and_nothing_is_ever_missing(tmp_path):
    clock = SearchClock()
    writer = ResultWriter(tmp_path, header(), [], EXPERIMENT, lambda: "", clock)
    writer.log_text = clock.log_text_for(writer)
    writer.flush()
    for number in range(300):
        clock.now += 1.0
        writer.add(sample(number))
        _, recorded = load_samples(tmp_path / "result.zip", tmp_path / JOURNAL_NAME, EXPERIMENT)
        assert [s["sample_number"] for s in recorded] == list(range(number + 1))  # zip + journal: all of them
    assert clock.rewrite_seconds <= clock.now / (1 + REWRITE_SPACING) + 0.01 * 300  # the share, plus one rewrite
    zip_samples = read_result_metadata(tmp_path / "result.zip")["samples"]
    assert len(zip_samples) < 300  # the zip is not rewritten after every sample...
    writer.flush()
    assert read_result_metadata(tmp_path / "result.zip")["samples"] == [sample(n) for n in range(300)]  # ...but at the end
    assert not (tmp_path / JOURNAL_NAME).exists()


def test_torn_last_journal_line_is_ignored(tmp_path):
    path = tmp_path / JOURNAL_NAME
    path.write_text(json.dumps({"experiment": EXPERIMENT}) + "\n" + json.dumps(sample(0)) + "\n" + '{"sample_nu')
    assert read_journal(path, EXPERIMENT) == [sample(0)]


@pytest.mark.parametrize("content, message", [
    (json.dumps({"experiment": {"alg_name": "Random"}}) + "\n", "holds another experiment"),
    (json.dumps({"experiment": EXPERIMENT}) + "\nnot json\n" + json.dumps(sample(1)) + "\n", "damaged line"),
])
def test_foreign_or_damaged_journal_is_refused(tmp_path, content, message):
    path = tmp_path / JOURNAL_NAME
    path.write_text(content)
    with pytest.raises(JournalMismatch, match=message):
        read_journal(path, EXPERIMENT)
