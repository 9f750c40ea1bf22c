/* The primal LPN encoding behind the silent generators: ferret's binary
 * COTs (ot/ferret.h) and vole4's 4-bit correlations (ot/vole4.h).
 *
 * Row r of the code is LPN_D positions below k (a power of two, at most
 * 2^24): the ten 24-bit fields of AES_key(c) || AES_key(c + 1), c = 2 r
 * (as four words), each mod k. Encoding a batch whose first row is r0
 * XORs into out[i] the base blocks at row r0 + i's positions; the
 * variant with nibbles also XORs the base's nibbles (one per byte) into
 * outu[i] at the same positions. The key is a lane direction's code key,
 * drawn from both parties' randomness, and every batch takes rows of its
 * own, so no two batches share a matrix (docs/PROTOCOLS.md §2.4). */
#ifndef PARLEY_OT_LPN_H
#define PARLEY_OT_LPN_H

#include "crypto/aes.h"
#include "crypto/block.h"

#include <stddef.h>
#include <stdint.h>

#define LPN_D 10 /* base entries per output */

void lpn_encode(aes_key *key, uint64_t r0, const block *base, size_t k, block *out, size_t n);
void lpn_encode_u(aes_key *key, uint64_t r0, const block *base, const uint8_t *baseu, size_t k,
                  block *out, uint8_t *outu, size_t n);
/* Row r's positions (tests: both sides must share the code). */
void lpn_row(aes_key *key, uint64_t r, size_t k, uint32_t pos[LPN_D]);

#endif
