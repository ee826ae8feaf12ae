# One row of a product ``L @ R`` with ``L`` in CSR, accumulated into a dense float32 row: the
# scoring step of the similarity models. ``_similarity.rows_times_sparse`` / ``rows_times_dense``
# (a block of rows) and ``_topk``'s fused rankers (one row, ranked at once) both accumulate through
# these functions, so their scores, and the rankings made from them, are the same.

from libc.stdint cimport int32_t, int64_t


cdef inline void add_sparse_product_row(float* out, int64_t row, const int64_t* l_ptr, const int32_t* l_cols,
                                        const float* l_val, const int64_t* r_ptr, const int32_t* r_cols,
                                        const float* r_val) noexcept nogil:
    """``out += L[row, :] @ R`` with ``R`` in CSR."""
    cdef int64_t p, q
    cdef float lv
    for p in range(l_ptr[row], l_ptr[row + 1]):
        lv = l_val[p]
        for q in range(r_ptr[l_cols[p]], r_ptr[l_cols[p] + 1]):
            out[r_cols[q]] += lv * r_val[q]


cdef inline void add_dense_product_row(float* out, int64_t row, const int64_t* l_ptr, const int32_t* l_cols,
                                       const float* l_val, const float* right, int64_t width) noexcept nogil:
    """``out += L[row, :] @ right`` with ``right`` dense, row-major, ``width`` columns."""
    cdef int64_t p, j
    cdef float lv
    cdef const float* w
    for p in range(l_ptr[row], l_ptr[row + 1]):
        lv = l_val[p]
        w = right + l_cols[p] * width
        for j in range(width):
            out[j] += lv * w[j]
