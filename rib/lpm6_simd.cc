/* Lpm6's vector walks: 8 (AVX2) or 16 (AVX-512) destinations at once.
 *
 * Each lane holds one destination's current entry. The first level is one
 * gather from the 2^24 table; then, while any lane still holds a link, one
 * masked gather takes every such lane one byte deeper, and lanes that
 * reached a leaf keep it. The destination bytes themselves come from the
 * caller's array four at a time, by a gather of one 32-bit word per row.
 *
 * The two functions are the same algorithm written with each instruction
 * set's intrinsics, compiled for it by a target attribute (the rest of fp6
 * is built for the baseline). Lpm6::cpu_has() decides whether they may run.
 *
 * Concurrency: a gathered element is an ordinary load, and the load of a
 * group's entry depends on the value of the link that led to it, so a lane
 * sees the group's content that was stored before the link (x86 keeps loads
 * in order with the loads their addresses depend on): the same guarantee
 * as the scalar walk's acquire loads. */
#include <cstdint>

#include "rib/lpm6.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from deliberately undefined registers,
// which -Wmaybe-uninitialized reports inside its own header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#endif

namespace fp6 {

#if defined(__x86_64__)

__attribute__((target("avx2"))) void Lpm6::lookup_avx2(const uint8_t (*dsts)[16], uint32_t* nhs,
                                                       unsigned n) const noexcept {
    constexpr unsigned kLanes = 8;
    const __m256i rows = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);  // byte offsets
    const __m256i byte_mask = _mm256_set1_epi32(0xff);
    const __m256i unflag = _mm256_set1_epi32(int(~kLink));
    const __m256i nh_mask = _mm256_set1_epi32(int(kNhMask));
    const auto* tbl24 = reinterpret_cast<const int*>(tbl24_);
    const auto* groups = reinterpret_cast<const int*>(groups_);
    unsigned i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const auto* row = reinterpret_cast<const int*>(dsts[i]);
        // Bytes 0-3 of each destination (little endian: byte 0 lowest).
        __m256i word = _mm256_i32gather_epi32(row, rows, 1);
        // The first level's index: bytes 0, 1 and 2, most significant first.
        const __m256i b0 = _mm256_slli_epi32(_mm256_and_si256(word, byte_mask), 16);
        const __m256i b1 = _mm256_and_si256(word, _mm256_set1_epi32(0xff00));
        const __m256i b2 = _mm256_and_si256(_mm256_srli_epi32(word, 16), byte_mask);
        const __m256i idx = _mm256_or_si256(_mm256_or_si256(b0, b1), b2);
        __m256i e = _mm256_i32gather_epi32(tbl24, idx, 4);
        // A lane's sign bit is kLink: the gather's mask is the entries themselves.
        for (int byte = 3; byte < 16 && _mm256_movemask_ps(_mm256_castsi256_ps(e)) != 0; byte++) {
            if (byte % 4 == 0)
                word = _mm256_i32gather_epi32(row + byte / 4, rows, 1);
            const __m256i shift = _mm256_set1_epi32(8 * (byte % 4));
            const __m256i b = _mm256_and_si256(_mm256_srlv_epi32(word, shift), byte_mask);
            const __m256i at = _mm256_add_epi32(_mm256_and_si256(e, unflag), b);
            e = _mm256_mask_i32gather_epi32(e, groups, at, e, 4);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nhs + i), _mm256_and_si256(e, nh_mask));
    }
    for (; i < n; i++)
        nhs[i] = lookup(dsts[i]);
}

__attribute__((target("avx512f"))) void Lpm6::lookup_avx512(const uint8_t (*dsts)[16],
                                                            uint32_t* nhs,
                                                            unsigned n) const noexcept {
    constexpr unsigned kLanes = 16;
    const __m512i rows =
        _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    const __m512i byte_mask = _mm512_set1_epi32(0xff);
    const __m512i unflag = _mm512_set1_epi32(int(~kLink));
    const __m512i nh_mask = _mm512_set1_epi32(int(kNhMask));
    const __m512i zero = _mm512_setzero_si512();
    unsigned i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const auto* row = reinterpret_cast<const int*>(dsts[i]);
        __m512i word = _mm512_i32gather_epi32(rows, row, 1);
        const __m512i b0 = _mm512_slli_epi32(_mm512_and_si512(word, byte_mask), 16);
        const __m512i b1 = _mm512_and_si512(word, _mm512_set1_epi32(0xff00));
        const __m512i b2 = _mm512_and_si512(_mm512_srli_epi32(word, 16), byte_mask);
        const __m512i idx = _mm512_or_si512(_mm512_or_si512(b0, b1), b2);
        __m512i e = _mm512_i32gather_epi32(idx, tbl24_, 4);
        // Lanes whose entry is a link (sign bit set).
        __mmask16 links = _mm512_cmplt_epi32_mask(e, zero);
        for (int byte = 3; byte < 16 && links != 0; byte++) {
            if (byte % 4 == 0)
                word = _mm512_i32gather_epi32(rows, row + byte / 4, 1);
            const __m512i shift = _mm512_set1_epi32(8 * (byte % 4));
            const __m512i b = _mm512_and_si512(_mm512_srlv_epi32(word, shift), byte_mask);
            const __m512i at = _mm512_add_epi32(_mm512_and_si512(e, unflag), b);
            e = _mm512_mask_i32gather_epi32(e, links, at, groups_, 4);
            links = _mm512_mask_cmplt_epi32_mask(links, e, zero);
        }
        _mm512_storeu_si512(nhs + i, _mm512_and_si512(e, nh_mask));
    }
    for (; i < n; i++)
        nhs[i] = lookup(dsts[i]);
}

#else  // no x86: cpu_has() says no, and these are never chosen

void Lpm6::lookup_avx2(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept {
    lookup_scalar(dsts, nhs, n);
}
void Lpm6::lookup_avx512(const uint8_t (*dsts)[16], uint32_t* nhs, unsigned n) const noexcept {
    lookup_scalar(dsts, nhs, n);
}

#endif

}  // namespace fp6
