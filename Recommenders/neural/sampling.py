"""Training samples shared by the neural models: positives and uniform negatives (numpy only)."""

import numpy as np
import scipy.sparse as sp


class NegativeSampler:
    """Draws, for given users, items they did not interact with in ``URM`` (uniformly, by
    rejection, as the reference's samplers do). Users who interacted with every item have no
    negative: asking for one raises ``ValueError`` (the reference looped forever)."""

    def __init__(self, URM: sp.csr_matrix):
        self.n_items = URM.shape[1]
        users, items = positive_pairs(URM)
        self._keys = users * self.n_items + items  # sorted: CSR rows in order, sorted indices
        self._full_users = np.flatnonzero(np.diff(URM.indptr) >= self.n_items)

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each ``(users[k], items[k])`` is an interaction of ``URM``."""
        keys = users.astype(np.int64) * self.n_items + items
        if self._keys.size == 0:
            return np.zeros(keys.shape, dtype=bool)
        position = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        return self._keys[position] == keys

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One negative item per entry of ``users``."""
        users = np.asarray(users, dtype=np.int64)
        if self._full_users.size and np.isin(users, self._full_users).any():
            raise ValueError("a user interacted with every item: there is no negative item to sample")
        items = rng.integers(0, self.n_items, size=users.size)
        redraw = np.flatnonzero(self.is_positive(users, items))
        while redraw.size:
            items[redraw] = rng.integers(0, self.n_items, size=redraw.size)
            redraw = redraw[self.is_positive(users[redraw], items[redraw])]
        return items


def positive_pairs(URM: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(users, items)`` of every stored interaction, in CSR order."""
    users = np.repeat(np.arange(URM.shape[0], dtype=np.int64), np.diff(URM.indptr))
    return users, URM.indices.astype(np.int64)
