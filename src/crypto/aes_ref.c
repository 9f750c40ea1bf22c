/* The portable AES twin: OpenSSL's EVP (constant-time on every CPU it
 * supports), plus the dispatch that picks AES-NI when cpuid has it. */
#include "crypto/aes.h"

#include "util/err.h"
#include "util/mem.h"

#include <openssl/evp.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

static enum aes_impl aes_chosen = AES_IMPL_AUTO;

int aes_ni_available(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
#else
    return 0;
#endif
}

/* VAES with AVX-512F, and the OS saving the AVX-512 state (XCR0 bits 1, 2
 * and 5-7). By cpuid directly: not every compiler knows "vaes" in
 * __builtin_cpu_supports. */
int aes_vaes_available(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!aes_ni_available() || !__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27)))
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0xe6) != 0xe6) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) && (c & (1u << 9)); /* AVX512F, VAES */
#else
    return 0;
#endif
}

/* PARLEY_AES=ref|ni|vaes caps the tier (tests, and machines where the wide
 * units throttle). */
static enum aes_impl aes_resolve(void) {
    enum aes_impl c = __atomic_load_n(&aes_chosen, __ATOMIC_RELAXED);
    if (c != AES_IMPL_AUTO) return c;
    const char *env = getenv("PARLEY_AES");
    if ((env && strcmp(env, "ref") == 0) || !aes_ni_available())
        c = AES_IMPL_REF;
    else if ((env && strcmp(env, "ni") == 0) || !aes_vaes_available())
        c = AES_IMPL_NI;
    else
        c = AES_IMPL_VAES;
    __atomic_store_n(&aes_chosen, c, __ATOMIC_RELAXED);
    return c;
}

void aes_force_impl(enum aes_impl impl) {
    if (impl == AES_IMPL_VAES && !aes_vaes_available()) impl = AES_IMPL_NI;
    if (impl == AES_IMPL_NI && !aes_ni_available()) impl = AES_IMPL_REF;
    __atomic_store_n(&aes_chosen, impl, __ATOMIC_RELAXED);
}

enum aes_impl aes_current_impl(void) { return aes_resolve(); }

void aes_expand(aes_key *k, const uint8_t key[16]) {
    memset(k, 0, sizeof *k);
    memcpy(k->raw, key, 16);
    if (aes_ni_available()) aes_ni_expand(k->rk, key);
}

void aes_clear(aes_key *k) {
    if (k->evp) EVP_CIPHER_CTX_free(k->evp);
    mem_wipe(k, sizeof *k);
}

static EVP_CIPHER_CTX *aes_ref_ctx(aes_key *k) {
    if (k->evp) return k->evp;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, k->raw, NULL) != 1) {
        fprintf(stderr, "parley: OpenSSL cannot set up AES-128\n");
        abort();
    }
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    k->evp = ctx;
    return ctx;
}

void aes_ref_ecb(aes_key *k, block *out, const block *in, size_t n) {
    EVP_CIPHER_CTX *ctx = aes_ref_ctx(k);
    while (n > 0) {
        size_t m = n > (1u << 20) ? (1u << 20) : n; /* EVP takes an int length */
        int len = 0;
        if (EVP_EncryptUpdate(ctx, out->b, &len, in->b, (int)(m * 16)) != 1 || len != (int)(m * 16)) {
            fprintf(stderr, "parley: OpenSSL AES failed\n");
            abort();
        }
        out += m;
        in += m;
        n -= m;
    }
}

void aes_ecb(aes_key *k, block *out, const block *in, size_t n) {
    enum aes_impl c = aes_resolve();
    if (c == AES_IMPL_VAES)
        aes_vaes_ecb(k->rk, out, in, n);
    else if (c == AES_IMPL_NI)
        aes_ni_ecb(k->rk, out, in, n);
    else
        aes_ref_ecb(k, out, in, n);
}

void aes_ctr(aes_key *k, block *out, uint64_t ctr, size_t n) {
    enum aes_impl c = aes_resolve();
    if (c == AES_IMPL_VAES) {
        aes_vaes_ctr(k->rk, out, ctr, n);
        return;
    }
    if (c == AES_IMPL_NI) {
        aes_ni_ctr(k->rk, out, ctr, n);
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = block_make(0, ctr + i);
    aes_ref_ecb(k, out, out, n);
}
