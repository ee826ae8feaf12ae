/* C helpers of the SGD engines (Recommenders/_sgd_common.pxd declares them).

   The adaptive directions (see ``direction`` in _sgd_common.pxd), and their row updates two
   lanes at a time with SSE2 where available: a sqrt that may set errno keeps the compiler from
   vectorising them, and SSE2's sqrt, division and products round exactly as the scalar code does,
   so results do not depend on the path. Included after Python.h (for Py_ssize_t). */
#ifndef RECZILLA_SGD_HELPERS_H
#define RECZILLA_SGD_HELPERS_H

#include <math.h>

#define SGD_ADAM_BETA_1 0.9
#define SGD_ADAM_BETA_2 0.999
#define SGD_ADAPTIVE_EPSILON 1e-8

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__)
#define sgd_prefetch(address) __builtin_prefetch(address)
#else
#define sgd_prefetch(address) ((void)(address))
#endif
static inline double sgd_adagrad_direction(double g, double *s1, double eps) {
    *s1 += g * g;
    return g / (sqrt(*s1) + eps);
}
static inline double sgd_adam_direction(double g, double *s1, double *s2, double b1, double b2,
                                        double m_correction, double v_correction, double eps) {
    *s1 = b1 * *s1 + (1.0 - b1) * g;
    *s2 = b2 * *s2 + (1.0 - b2) * g * g;
    return *s1 * m_correction / (sqrt(*s2 * v_correction) + eps);
}
static void sgd_adagrad_row(double lr, double *values, const double *grad, double scale, double *s1,
                            double eps, Py_ssize_t f) {
    Py_ssize_t k = 0;
#if defined(__SSE2__)
    for (; k + 2 <= f; k += 2) {
        __m128d g = _mm_mul_pd(_mm_loadu_pd(grad + k), _mm_set1_pd(scale));
        __m128d s = _mm_add_pd(_mm_loadu_pd(s1 + k), _mm_mul_pd(g, g));
        __m128d d = _mm_div_pd(g, _mm_add_pd(_mm_sqrt_pd(s), _mm_set1_pd(eps)));
        _mm_storeu_pd(s1 + k, s);
        _mm_storeu_pd(values + k, _mm_add_pd(_mm_loadu_pd(values + k), _mm_mul_pd(_mm_set1_pd(lr), d)));
    }
#endif
    for (; k < f; k++)
        values[k] += lr * sgd_adagrad_direction(grad[k] * scale, s1 + k, eps);
}
static void sgd_adam_row(double lr, double *values, const double *grad, double scale, double *s1, double *s2,
                         double b1, double b2, double m_correction, double v_correction, double eps,
                         Py_ssize_t f) {
    Py_ssize_t k = 0;
#if defined(__SSE2__)
    for (; k + 2 <= f; k += 2) {
        __m128d g = _mm_mul_pd(_mm_loadu_pd(grad + k), _mm_set1_pd(scale));
        __m128d m = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(b1), _mm_loadu_pd(s1 + k)),
                               _mm_mul_pd(_mm_set1_pd(1.0 - b1), g));
        __m128d v = _mm_add_pd(_mm_mul_pd(_mm_set1_pd(b2), _mm_loadu_pd(s2 + k)),
                               _mm_mul_pd(_mm_mul_pd(_mm_set1_pd(1.0 - b2), g), g));
        __m128d d = _mm_div_pd(_mm_mul_pd(m, _mm_set1_pd(m_correction)),
                               _mm_add_pd(_mm_sqrt_pd(_mm_mul_pd(v, _mm_set1_pd(v_correction))),
                                          _mm_set1_pd(eps)));
        _mm_storeu_pd(s1 + k, m);
        _mm_storeu_pd(s2 + k, v);
        _mm_storeu_pd(values + k, _mm_add_pd(_mm_loadu_pd(values + k), _mm_mul_pd(_mm_set1_pd(lr), d)));
    }
#endif
    for (; k < f; k++)
        values[k] += lr * sgd_adam_direction(grad[k] * scale, s1 + k, s2 + k, b1, b2, m_correction,
                                             v_correction, eps);
}

#endif
