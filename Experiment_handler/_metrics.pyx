"""Per-user metrics of a block of rankings in one pass per user (``metrics.MetricsAccumulator``).

Each user's ranking is read once: its hits are found by binary search in the
user's sorted test items, and running sums over the ranks are read at every
cutoff (definitions: ``metrics``). The caller passes the NDCG discounts and
gains and the items' novelty and popularity terms, computed with numpy.
"""

#: Rows of ``per_user``, in this order.
PER_USER_METRICS = ("PRECISION", "PRECISION_RECALL_MIN_DEN", "RECALL", "MAP", "MAP_MIN_DEN", "MRR", "NDCG",
                    "HIT_RATE", "ARHR_ALL_HITS", "NOVELTY", "AVERAGE_POPULARITY")

cdef enum:
    _PRECISION, _PRECISION_RECALL_MIN_DEN, _RECALL, _MAP, _MAP_MIN_DEN, _MRR, _NDCG, _HIT_RATE, _ARHR, \
        _NOVELTY, _AVERAGE_POPULARITY


cdef inline double _divide(double numerator, double denominator) noexcept nogil:
    return numerator / denominator if denominator != 0 else 0.0


cdef inline Py_ssize_t _find(const int* items, Py_ssize_t size, int item) noexcept nogil:
    """Position of ``item`` in the increasing ``items``, or -1."""
    cdef Py_ssize_t low = 0, high = size, middle
    while low < high:
        middle = (low + high) // 2
        if items[middle] < item:
            low = middle + 1
        else:
            high = middle
    return low if low < size and items[low] == item else -1


def accumulate_block(const int[:, ::1] ranked, const long long[::1] test_indptr, const int[::1] test_indices,
                     const double[::1] test_gain, const double[::1] ideal_gain, const long long[::1] cutoffs,
                     const double[::1] discount, const double[::1] item_novelty,
                     const double[::1] item_normalized_popularity, double[:, :, ::1] per_user,
                     int[:, ::1] band_counts, int[::1] first_hit_band, long long[::1] n_users_with_hit):
    """Fill ``per_user`` (``PER_USER_METRICS x cutoffs x users``) and add the block's
    global counts; return how many users have a non-empty list.

    ``ranked``: item ids best first, ``-1`` padded; the users' test rows as CSR
    (sorted indices), ``test_gain`` each entry's NDCG gain and ``ideal_gain`` each
    row's gains sorted decreasing; ``discount[j] = log2(j + 2)``.
    ``band_counts[b, i]`` counts ranks of item ``i`` in band ``b`` (ranks after the
    previous cutoff, up to cutoff ``b``); ``first_hit_band[i]`` is lowered to the
    first band where ``i`` is a hit; ``n_users_with_hit[c]`` counts users with a hit
    within cutoff ``c``.
    """
    cdef Py_ssize_t n_users = ranked.shape[0], width = ranked.shape[1], n_cutoffs = cutoffs.shape[0]
    cdef Py_ssize_t u, j, c, band, start, n_relevant, position, first_hit, n_valid
    cdef long long length, n_users_with_list = 0
    cdef int item, hit, count
    cdef double n_hits, precision_sum, dcg, ideal, arhr, novelty, popularity, min_den
    if per_user.shape[0] != len(PER_USER_METRICS) or per_user.shape[1] != n_cutoffs or per_user.shape[2] != n_users:
        raise ValueError(f"per_user has shape {per_user.shape[0], per_user.shape[1], per_user.shape[2]}, expected "
                         f"{(len(PER_USER_METRICS), n_cutoffs, n_users)}")
    if test_indptr.shape[0] != n_users + 1 or discount.shape[0] < width:
        raise ValueError("test_indptr or discount does not match the ranking")
    with nogil:
        for u in range(n_users):
            start = test_indptr[u]
            n_relevant = test_indptr[u + 1] - start
            n_valid = 0
            for j in range(width):
                n_valid += ranked[u, j] >= 0
            n_users_with_list += width > 0 and ranked[u, 0] >= 0
            count = 0
            n_hits = precision_sum = dcg = ideal = arhr = novelty = popularity = 0.0
            first_hit = -1
            band = 0
            c = 0
            for j in range(width):
                while cutoffs[band] < width and cutoffs[band] - 1 < j:
                    band += 1
                item = ranked[u, j]
                hit = 0
                if item >= 0:
                    position = _find(&test_indices[start], n_relevant, item)
                    hit = position >= 0
                    band_counts[band, item] += 1
                    novelty += item_novelty[item]
                    popularity += item_normalized_popularity[item]
                    if hit:
                        count += 1
                        n_hits += 1.0
                        precision_sum += count / (j + 1.0)
                        dcg += test_gain[start + position] / discount[j]
                        arhr += 1.0 / (j + 1.0)
                        if first_hit < 0:
                            first_hit = j
                        if band < first_hit_band[item]:
                            first_hit_band[item] = band
                if j < n_relevant:
                    ideal += ideal_gain[start + j] / discount[j]
                # Read every cutoff whose last rank (or the ranking's end) is j.
                while c < n_cutoffs and (cutoffs[c] if cutoffs[c] < width else width) - 1 == j:
                    length = cutoffs[c] if cutoffs[c] < n_valid else n_valid
                    min_den = <double> (n_relevant if n_relevant < length else length)
                    per_user[_PRECISION, c, u] = _divide(n_hits, <double> length)
                    per_user[_PRECISION_RECALL_MIN_DEN, c, u] = _divide(n_hits, min_den)
                    per_user[_RECALL, c, u] = _divide(n_hits, <double> n_relevant)
                    per_user[_MAP, c, u] = _divide(precision_sum, <double> length)
                    per_user[_MAP_MIN_DEN, c, u] = _divide(precision_sum, min_den)
                    per_user[_MRR, c, u] = 1.0 / (first_hit + 1.0) if first_hit >= 0 else 0.0
                    per_user[_NDCG, c, u] = _divide(dcg, ideal) if dcg != 0 and ideal != 0 else 0.0
                    per_user[_HIT_RATE, c, u] = 1.0 if n_hits > 0 else 0.0
                    per_user[_ARHR, c, u] = arhr
                    per_user[_NOVELTY, c, u] = novelty
                    per_user[_AVERAGE_POPULARITY, c, u] = _divide(popularity, <double> length)
                    n_users_with_hit[c] += n_hits > 0
                    c += 1
    return n_users_with_list
