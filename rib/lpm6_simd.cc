/* Lpm6's vector walks: up to 32 (AVX2, four vectors of 8) or 64 (AVX-512,
 * four vectors of 16) destinations at once.
 *
 * Each lane holds one destination's current entry. The first level is one
 * gather from the 2^24 table; then, while any lane still holds a link, one
 * masked gather takes every such lane one byte deeper, and lanes that
 * reached a leaf keep it. Both keep four vectors' gather chains in flight
 * together: a gather takes about 24 cycles from L1 and issues every 6, so
 * one chain alone waits most of the time (on the Xeon of
 * docs/performance.md, 64 destinations: AVX-512 3.4-3.9 cycles each
 * instead of 6.0-6.1, AVX2 5.4-6.0 instead of 6.2-17). The AVX2 walk
 * gathers the destination bytes from the caller's array four at a time
 * (one 32-bit word per row); the AVX-512 walk loads the rows and transposes
 * them with permutes.
 *
 * The functions are compiled for their instruction sets by a target
 * attribute (the rest of fp6 is built for the baseline). Lpm6::cpu_has()
 * decides whether they may run.
 *
 * Concurrency: a gathered element is an ordinary load, and the load of a
 * group's entry depends on the value of the link that led to it, so a lane
 * sees the group's content that was stored before the link (x86 keeps loads
 * in order with the loads their addresses depend on): the same guarantee
 * as the scalar walk's acquire loads. */
#include <algorithm>
#include <cstdint>

#include "rib/lpm6.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from deliberately undefined registers,
// which -Wmaybe-uninitialized reports inside its own header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#endif

namespace fp6 {

#if defined(__x86_64__)

/* The AVX2 walk of 8 x NV destinations, NV vectors of 8 side by side (as
 * the AVX-512 walk below, for the same reason); the destination bytes are
 * gathered, a 32-bit word of each row at a time. */
template <unsigned NV>
__attribute__((target("avx2"))) void Lpm6::walk_avx2(const uint8_t (*dsts)[16],
                                                     uint32_t* nhs) const noexcept {
    const __m256i rows = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);  // byte offsets
    const __m256i byte_mask = _mm256_set1_epi32(0xff);
    const __m256i unflag = _mm256_set1_epi32(int(~kLink));
    const auto* tbl24 = reinterpret_cast<const int*>(tbl24_);
    const auto* groups = reinterpret_cast<const int*>(groups_);
    __m256i word[NV], e[NV];
    int any = 0;
    for (unsigned v = 0; v < NV; v++) {
        const auto* row = reinterpret_cast<const int*>(dsts[8 * v]);
        // Bytes 0-3 of each destination (little endian: byte 0 lowest).
        word[v] = _mm256_i32gather_epi32(row, rows, 1);
        // The first level's index: bytes 0, 1 and 2, most significant first.
        const __m256i b0 = _mm256_slli_epi32(_mm256_and_si256(word[v], byte_mask), 16);
        const __m256i b1 = _mm256_and_si256(word[v], _mm256_set1_epi32(0xff00));
        const __m256i b2 = _mm256_and_si256(_mm256_srli_epi32(word[v], 16), byte_mask);
        const __m256i idx = _mm256_or_si256(_mm256_or_si256(b0, b1), b2);
        e[v] = _mm256_i32gather_epi32(tbl24, idx, 4);
        // A lane's sign bit is kLink: the gather's mask is the entries themselves.
        any |= _mm256_movemask_ps(_mm256_castsi256_ps(e[v]));
    }
#pragma GCC unroll 13
    for (int byte = 3; byte < 16; byte++) {
        if (any == 0)
            break;
        any = 0;
        for (unsigned v = 0; v < NV; v++) {
            if (byte % 4 == 0)
                word[v] = _mm256_i32gather_epi32(
                    reinterpret_cast<const int*>(dsts[8 * v]) + byte / 4, rows, 1);
            const __m256i b =
                _mm256_and_si256(_mm256_srli_epi32(word[v], 8 * (byte % 4)), byte_mask);
            const __m256i at = _mm256_add_epi32(_mm256_and_si256(e[v], unflag), b);
            e[v] = _mm256_mask_i32gather_epi32(e[v], groups, at, e[v], 4);
            any |= _mm256_movemask_ps(_mm256_castsi256_ps(e[v]));
        }
    }
    const __m256i nh_mask = _mm256_set1_epi32(int(kNhMask));
    for (unsigned v = 0; v < NV; v++)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(nhs + 8 * v),
                            _mm256_and_si256(e[v], nh_mask));
}

__attribute__((target("avx2"))) void Lpm6::lookup_avx2(const uint8_t (*dsts)[16], uint32_t* nhs,
                                                       unsigned n) const noexcept {
    unsigned i = 0;
    for (; i + 32 <= n; i += 32)
        walk_avx2<4>(dsts + i, nhs + i);
    for (; i + 8 <= n; i += 8)
        walk_avx2<1>(dsts + i, nhs + i);
    for (; i < n; i++)
        nhs[i] = lookup(dsts[i]);
}

namespace {

/* Sixteen destinations (rows 16 bytes apart) as four vectors: word k (bytes
 * 4k to 4k+3, little endian) of row i in lane i of w[k]. Rows at or past
 * `rows` are not read; their lanes hold zero. Two rounds of permutes instead
 * of a gather per word. */
__attribute__((target("avx512f"))) inline void transpose16(const uint8_t (*d)[16], unsigned rows,
                                                           __m512i w[4]) {
    __m512i q[4];  // rows 4j..4j+3, as they lie in memory
    for (unsigned j = 0; j < 4; j++) {
        const unsigned have = rows > 4 * j ? std::min(rows - 4 * j, 4u) : 0;
        q[j] = _mm512_maskz_loadu_epi32(__mmask16((1u << (4 * have)) - 1), d[4 * j]);
    }
    // Words 0 and 1 (then 2 and 3) of eight rows: 4i + k is row i's word k.
    const __m512i w01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i w23 = _mm512_add_epi32(w01, _mm512_set1_epi32(2));
    const __m512i lo01 = _mm512_permutex2var_epi32(q[0], w01, q[1]);
    const __m512i lo23 = _mm512_permutex2var_epi32(q[0], w23, q[1]);
    const __m512i hi01 = _mm512_permutex2var_epi32(q[2], w01, q[3]);
    const __m512i hi23 = _mm512_permutex2var_epi32(q[2], w23, q[3]);
    // Rows 0-7 from the first operand, 8-15 from the second.
    const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    w[0] = _mm512_permutex2var_epi32(lo01, first, hi01);
    w[1] = _mm512_permutex2var_epi32(lo01, second, hi01);
    w[2] = _mm512_permutex2var_epi32(lo23, first, hi23);
    w[3] = _mm512_permutex2var_epi32(lo23, second, hi23);
}

}  // namespace

/* The AVX-512 walk of n destinations, 16 (NV - 1) < n <= 16 NV (every
 * vector has at least one), NV vectors of 16 lanes side by side: each level
 * issues the gathers of all NV vectors before any is needed, so their
 * latencies (about 24 cycles each, from L1) overlap instead of adding up,
 * one vector's chain after the other's. */
template <unsigned NV>
__attribute__((target("avx512f"))) void Lpm6::walk_avx512(const uint8_t (*dsts)[16], uint32_t* nhs,
                                                          unsigned n) const noexcept {
    const __m512i byte_mask = _mm512_set1_epi32(0xff);
    const __m512i unflag = _mm512_set1_epi32(int(~kLink));
    const __m512i zero = _mm512_setzero_si512();
    __m512i w[NV][4];
    __m512i e[NV];
    __mmask16 lanes[NV], links[NV];
    __mmask16 any = 0;
    for (unsigned v = 0; v < NV; v++) {
        const unsigned rows = std::min(n - 16 * v, 16u);
        lanes[v] = __mmask16((1u << rows) - 1);
        transpose16(dsts + 16 * v, rows, w[v]);
        // The first level's index: bytes 0, 1 and 2, most significant first.
        const __m512i word = w[v][0];
        const __m512i b0 = _mm512_slli_epi32(_mm512_and_si512(word, byte_mask), 16);
        const __m512i b1 = _mm512_and_si512(word, _mm512_set1_epi32(0xff00));
        const __m512i b2 = _mm512_and_si512(_mm512_srli_epi32(word, 16), byte_mask);
        const __m512i idx = _mm512_or_si512(_mm512_or_si512(b0, b1), b2);
        e[v] = _mm512_mask_i32gather_epi32(zero, lanes[v], idx, tbl24_, 4);
    }
    // Lanes whose entry is a link (sign bit set).
    for (unsigned v = 0; v < NV; v++) {
        links[v] = _mm512_mask_cmplt_epi32_mask(lanes[v], e[v], zero);
        any |= links[v];
    }
#pragma GCC unroll 13
    for (int byte = 3; byte < 16; byte++) {
        if (any == 0)
            break;
        any = 0;
        for (unsigned v = 0; v < NV; v++) {
            const __m512i b =
                _mm512_and_si512(_mm512_srli_epi32(w[v][byte / 4], 8 * (byte % 4)), byte_mask);
            const __m512i at = _mm512_add_epi32(_mm512_and_si512(e[v], unflag), b);
            e[v] = _mm512_mask_i32gather_epi32(e[v], links[v], at, groups_, 4);
            links[v] = _mm512_mask_cmplt_epi32_mask(links[v], e[v], zero);
            any |= links[v];
        }
    }
    const __m512i nh_mask = _mm512_set1_epi32(int(kNhMask));
    for (unsigned v = 0; v < NV; v++)
        _mm512_mask_storeu_epi32(nhs + 16 * v, lanes[v], _mm512_and_si512(e[v], nh_mask));
}

__attribute__((target("avx512f"))) void Lpm6::lookup_avx512(const uint8_t (*dsts)[16],
                                                            uint32_t* nhs,
                                                            unsigned n) const noexcept {
    constexpr unsigned kMost = 64;  // four vectors side by side
    unsigned i = 0;
    for (; i + kMost <= n; i += kMost)
        walk_avx512<4>(dsts + i, nhs + i, kMost);
    switch ((n - i + 15) / 16) {
        case 1:
            walk_avx512<1>(dsts + i, nhs + i, n - i);
            break;
        case 2:
            walk_avx512<2>(dsts + i, nhs + i, n - i);
            break;
        case 3:
            walk_avx512<3>(dsts + i, nhs + i, n - i);
            break;
        case 4:
            walk_avx512<4>(dsts + i, nhs + i, n - i);
            break;
        default:
            break;
    }
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
