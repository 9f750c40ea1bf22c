/* The server's local W*x_S; see local.h.
 *
 * Everything reduces to Y[o][t] = sum_k W[o][k] * X[t][k] with W and X
 * both row-major in k (the weights as stored; for a convolution X is a
 * tile of the im2col matrix, built transposed so each output position's
 * receptive field is contiguous). The product keeps a 4 x 2 block of
 * accumulators in registers: each load feeds two or four multiplies, and
 * 64-bit multiplies (one per cycle) are the limit. */
#include "lin/ot/local.h"

#include "util/mem.h"

#include <string.h>

#define TILE_BYTES ((size_t)4 << 20) /* im2col tile bound */

/* Y (element (o, t) at y[o*so + t*st]) = W (nO x K) * X^T (X: nT x K). */
static void gemm_nt(uint64_t *y, size_t so, size_t st, const uint64_t *w, size_t nO,
                    const uint64_t *x, size_t nT, size_t K) {
    size_t o = 0;
    for (; o + 4 <= nO; o += 4) {
        const uint64_t *w0 = w + o * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        uint64_t *yo = y + o * so;
        size_t t = 0;
        for (; t + 2 <= nT; t += 2) {
            const uint64_t *x0 = x + t * K, *x1 = x0 + K;
            uint64_t a00 = 0, a01 = 0, a10 = 0, a11 = 0, a20 = 0, a21 = 0, a30 = 0, a31 = 0;
            for (size_t k = 0; k < K; k++) {
                uint64_t p = x0[k], q = x1[k];
                a00 += w0[k] * p;
                a01 += w0[k] * q;
                a10 += w1[k] * p;
                a11 += w1[k] * q;
                a20 += w2[k] * p;
                a21 += w2[k] * q;
                a30 += w3[k] * p;
                a31 += w3[k] * q;
            }
            uint64_t *y0 = yo + t * st;
            y0[0] = a00;
            y0[st] = a01;
            y0[so] = a10;
            y0[so + st] = a11;
            y0[2 * so] = a20;
            y0[2 * so + st] = a21;
            y0[3 * so] = a30;
            y0[3 * so + st] = a31;
        }
        for (; t < nT; t++) {
            const uint64_t *x0 = x + t * K;
            uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            for (size_t k = 0; k < K; k++) {
                uint64_t p = x0[k];
                a0 += w0[k] * p;
                a1 += w1[k] * p;
                a2 += w2[k] * p;
                a3 += w3[k] * p;
            }
            uint64_t *y0 = yo + t * st;
            y0[0] = a0;
            y0[so] = a1;
            y0[2 * so] = a2;
            y0[3 * so] = a3;
        }
    }
    for (; o < nO; o++) {
        const uint64_t *w0 = w + o * K;
        for (size_t t = 0; t < nT; t++) {
            const uint64_t *x0 = x + t * K;
            uint64_t a = 0;
            for (size_t k = 0; k < K; k++)
                a += w0[k] * x0[k];
            y[o * so + t * st] = a;
        }
    }
}

int lin_local_conv(uint64_t *y, const uint64_t *x, const lin_conv *c, const uint64_t *w) {
    size_t cg = c->C / c->groups, og = c->O / c->groups, K = cg * c->kh * c->kw;
    size_t P = (size_t)c->OH * c->OW;
    size_t T = TILE_BYTES / (K * sizeof(uint64_t));
    if (T < 16) T = 16;
    if (T > 1024) T = 1024;
    if (T > P) T = P;
    uint64_t *panel = mem_alloc(T * K, sizeof(uint64_t));
    if (!panel) return err_set(PARLEY_E_NOMEM, "conv tile of %zu x %zu", T, K);
    for (size_t n = 0; n < c->N; n++)
        for (size_t g = 0; g < c->groups; g++) {
            const uint64_t *xg = x + (n * c->C + g * cg) * c->H * c->W;
            for (size_t p0 = 0; p0 < P; p0 += T) {
                size_t tn = P - p0 < T ? P - p0 : T;
                /* panel[t][(ci*kh + a)*kw + b] = x[ci, r, q], 0 in the padding */
                for (size_t t = 0; t < tn; t++) {
                    size_t i = (p0 + t) / c->OW, j = (p0 + t) % c->OW;
                    uint64_t *row = panel + t * K;
                    for (size_t ci = 0; ci < cg; ci++)
                        for (size_t a = 0; a < c->kh; a++) {
                            int64_t r = (int64_t)(i * c->sh + a * c->dh) - c->pt;
                            uint64_t *dst = row + (ci * c->kh + a) * c->kw;
                            if (r < 0 || r >= c->H) {
                                memset(dst, 0, c->kw * sizeof *dst);
                                continue;
                            }
                            const uint64_t *src = xg + (ci * c->H + (size_t)r) * c->W;
                            for (size_t b = 0; b < c->kw; b++) {
                                int64_t q = (int64_t)(j * c->sw + b * c->dw) - c->pl;
                                dst[b] = (q < 0 || q >= c->W) ? 0 : src[q];
                            }
                        }
                }
                uint64_t *yt = y + (n * c->O + g * og) * P + p0;
                gemm_nt(yt, P, 1, w + g * og * K, og, panel, tn, K);
            }
        }
    mem_free_wipe(panel, T * K * sizeof(uint64_t));
    return 0;
}

void lin_local_fc(uint64_t *y, const uint64_t *x, const lin_fc *f, const uint64_t *w) {
    gemm_nt(y, 1, f->O, w, f->O, x, f->N, f->K);
}

void lin_local_scale(uint64_t *y, const uint64_t *x, const lin_scale *s, const uint64_t *g) {
    for (size_t n = 0; n < s->N; n++)
        for (size_t ch = 0; ch < s->C; ch++) {
            size_t base = (n * s->C + ch) * s->S;
            for (size_t k = 0; k < s->S; k++)
                y[base + k] = x[base + k] * g[ch];
        }
}
