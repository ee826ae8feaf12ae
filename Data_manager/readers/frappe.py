"""Frappe app-usage logs, in the libFM files of the NFM repository (He & Chua, SIGIR 2017).

Layout: GitHub's archive of ``hexiangnan/neural_factorization_machine``, with
``data/frappe/frappe.{train,test,validation}.libfm`` (read in that order, as the
reference did). Each line is ``label feature:value ...``: label ``1`` is an observed
use whose first feature is the user and second the app; ``-1`` lines are sampled
negatives and are skipped. Implicit data: every observed (user, app) pair is 1.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, ParseError, Reader, open_text, text_lines

FILENAME = "neural_factorization_machine-master.zip"
FOLDER = "neural_factorization_machine-master/data/frappe"


def _parse(files):
    builder = InteractionBuilder(has_timestamps=False)
    for part in ("train", "test", "validation"):
        with open_text(files[FILENAME], f"{FOLDER}/frappe.{part}.libfm") as (label, text):
            for line_number, line in text_lines(text, label):
                tokens = line.split()
                if not tokens or tokens[0] == "-1":
                    continue
                if tokens[0] != "1" or len(tokens) < 3 or ":" not in tokens[1] or ":" not in tokens[2]:
                    raise ParseError(f"{label}:{line_number}: expected '1|-1 user:1 item:1 ...', found {line[:80]!r}")
                builder.add(tokens[1].split(":", 1)[0], tokens[2].split(":", 1)[0], 1.0)
    return builder


READERS = (
    Reader(
        name="Frappe",
        family="Frappe",
        size_class="small",
        sources=(Source(FILENAME, "https://github.com/hexiangnan/neural_factorization_machine/archive/master.zip"),),
        parse=_parse,
        duplicates="keep_max",
        is_implicit=True,
        value_kind="binary",
    ),
)
