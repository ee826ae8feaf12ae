"""Where a search keeps its samples: a journal appended after each one, and the zip.

``result_dir/samples.jsonl`` is the journal: a first line naming the experiment
(``{"experiment": {...}}``), then one JSON line per finished sample, handed to the
operating system before the next sample starts, so ``kill -9`` at any moment loses
at most the sample in progress. It is fsync'd at most every ``JOURNAL_SYNC_SECONDS``
(an fsync costs 6-14 ms here, up to 10% of a fast sample), so a machine crash loses at most
that much more. Appending costs the same at sample 5 and at sample 5,000, and each
sample is serialized once, for the journal and every later zip.

``result_dir/result.zip`` (``Experiment_handler.result_zip``) is rewritten in full
only when the search has run ``REWRITE_SPACING`` times as long as the last rewrite
took, and at the end: rewriting then costs at most 1 / (1 + ``REWRITE_SPACING``) of
the search's time however many samples it holds (``benchmarks/bench_result_writing.py``). After each rewrite the journal
starts over, holding only what the zip lacks; a finished run removes it.

Resuming reads both (``load_samples``): the zip's samples and the journal's,
by sample number. Everything a resume needs is in ``result_dir``.
"""

import json
import os
import time
from pathlib import Path

from Data_manager.atomic_files import write_bytes_atomic
from Experiment_handler.result_zip import metadata_json, read_result_metadata, write_result_zip

JOURNAL_NAME = "samples.jsonl"
#: The zip is rewritten once the search has run this many times as long as the last rewrite took (2%).
REWRITE_SPACING = 49
#: The longest the journal goes without an fsync while samples are added.
JOURNAL_SYNC_SECONDS = 5.0


class JournalMismatch(ValueError):
    """The journal in result_dir belongs to another experiment or is damaged."""


def read_journal(path: Path, experiment: dict) -> list[dict]:
    """The samples in the journal at ``path`` (none when absent); a torn last line is ignored.

    ``JournalMismatch`` when its first line names another experiment or a complete line is not JSON.
    """
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    complete = lines[:-1]  # the part after the last newline is a line cut short by a kill
    try:
        records = [json.loads(line) for line in complete]
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise JournalMismatch(f"{path}: damaged line ({error})") from None
    if records and (not isinstance(records[0], dict) or records[0].get("experiment") != experiment):
        found = records[0].get("experiment") if isinstance(records[0], dict) else records[0]
        raise JournalMismatch(f"{path} holds another experiment ({found!r})")
    return records[1:]


def load_samples(zip_path: Path, journal_path: Path, experiment: dict) -> tuple[dict | None, list[dict]]:
    """The zip's metadata (``None`` when there is no zip) and every finished sample of zip and journal.

    ``ResultZipError`` from a damaged zip, ``JournalMismatch`` from a foreign or damaged journal.
    """
    metadata = read_result_metadata(zip_path) if zip_path.exists() else None
    samples = {sample["sample_number"]: sample for sample in (metadata or {}).get("samples", [])}
    for sample in read_journal(journal_path, experiment):
        samples[sample["sample_number"]] = sample
    return metadata, [samples[number] for number in sorted(samples)]


class ResultWriter:
    """Records the samples of one search: journal at once, zip on the schedule above and on ``flush``.

    ``metadata`` is the zip's content but its samples (its ``status`` may change before the
    last ``flush``); ``samples`` are those already finished (resumed); ``log_text`` returns
    the log copied into the zip; ``clock`` is injectable for benchmarks.
    """

    def __init__(self, result_dir, metadata: dict, samples: list[dict], experiment: dict, log_text,
                 clock=time.monotonic):
        self.zip_path = Path(result_dir) / "result.zip"
        self.journal_path = Path(result_dir) / JOURNAL_NAME
        self.metadata = metadata
        self.experiment = experiment
        self.log_text = log_text
        self.clock = clock
        self._texts = {sample["sample_number"]: metadata_json(sample) for sample in samples}
        self._journal = None
        self._next_rewrite = 0.0
        self._next_sync = 0.0

    def add(self, sample: dict) -> None:
        """Append ``sample`` to the journal, then rewrite the zip when it is due."""
        text = metadata_json(sample)
        self._texts[sample["sample_number"]] = text
        if self._journal is None:
            self._start_journal()
        self._journal.write(text.encode() + b"\n")
        self._journal.flush()
        if self.clock() >= self._next_sync:
            os.fsync(self._journal.fileno())
            self._next_sync = self.clock() + JOURNAL_SYNC_SECONDS
        if self.clock() >= self._next_rewrite:
            self.flush()

    def flush(self) -> None:
        """Rewrite the zip with every sample so far; the journal then starts over."""
        started = self.clock()
        write_result_zip(self.zip_path, self.metadata, self.log_text(),
                         sample_texts=[self._texts[number] for number in sorted(self._texts)])
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.journal_path.unlink(missing_ok=True)
        finished = self.clock()
        self._next_rewrite = finished + REWRITE_SPACING * (finished - started)

    def _start_journal(self) -> None:
        write_bytes_atomic(self.journal_path, json.dumps({"experiment": self.experiment}).encode() + b"\n")
        self._journal = open(self.journal_path, "ab")
