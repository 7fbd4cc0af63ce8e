/* Big-endian fields in packet buffers, at any alignment: the one place the
 * ND, RA, ICMPv6 and Redirect codecs read and write them. */
#pragma once

#include <cstdint>

namespace fp6 {

inline uint16_t get16(const uint8_t* p) noexcept {
    return uint16_t(p[0] << 8 | p[1]);
}

inline uint32_t get32(const uint8_t* p) noexcept {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

inline void put16(uint8_t* p, uint16_t v) noexcept {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}

inline void put32(uint8_t* p, uint32_t v) noexcept {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}

}  // namespace fp6
