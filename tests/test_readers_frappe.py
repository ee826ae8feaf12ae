"""Frappe: libFM lines of the NFM repository archive, positives only, implicit."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes

FOLDER = "neural_factorization_machine-master/data/frappe"


def test_frappe_positive_libfm_lines_in_train_test_validation_order(data_mirror, tmp_path):
    archive = zip_bytes({
        f"{FOLDER}/frappe.train.libfm": b"1 0:1 957:1 1036:1 1037:1\n-1 0:1 2001:1 1036:1\n1 1:1 957:1 1036:1\n",
        f"{FOLDER}/frappe.test.libfm": b"1 0:1 958:1 1036:1\n1 0:1 957:1 1040:1\n",
        f"{FOLDER}/frappe.validation.libfm": b"-1 2:1 957:1 1036:1\n1 2:1 959:1 1036:1\n",
        "neural_factorization_machine-master/README.md": b"# NFM\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Frappe", {"neural_factorization_machine-master.zip": archive})
    assert_dataset(
        dataset, ["0", "1", "2"], ["957", "958", "959"],
        {("0", "957"): 1, ("1", "957"): 1, ("0", "958"): 1, ("2", "959"): 1},
        implicit=True,
    )
