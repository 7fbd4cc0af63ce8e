/* Writes the seed corpora of the fuzz targets, test/fuzz/corpus/<target>/,
 * from the kinds of packets the unit tests build (test/unit/packet_test.cc,
 * ndp_test.cc, icmp6_test.cc) and the requests of protocol_test.cc and
 * grammar_test.cc. Run by hand after changing an input format:
 *
 *   build/test/fuzz/fuzz_seeds test/fuzz/corpus
 *
 * Files are named after what they hold; existing files of the same name are
 * overwritten, others (inputs a fuzzer found and that were kept) are left. */
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "control/icmp6.h"
#include "nd/ndp.h"
#include "test/unit/pkt_builder.h"

namespace fp6 {
namespace {

using Bytes = std::vector<uint8_t>;
using test::ip;
using test::mac;
using test::Pkt;

const Mac kRxMac = mac("02:00:00:00:00:01");
const Mac kPeerMac = mac("02:00:00:00:ee:01");

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

Bytes addr(const char* a) {
    const Ip6 x = ip(a);
    return Bytes(x.data(), x.data() + 16);
}

/* A frame to the router's port from a remote host, to be changed. */
Pkt base() {
    return Pkt().eth(kRxMac, kPeerMac).src("2001:db8:9::1").dst("2001:db8:2000::5").hop_limit(64);
}

/* Hop-by-Hop / Destination Options header: next header, length, options. */
Bytes opts_header(uint8_t next, const Bytes& options) {
    Bytes h = cat({{next, 0}, options});
    h.resize((h.size() + 7) / 8 * 8, 0);
    h[1] = uint8_t(h.size() / 8 - 1);
    return h;
}

Bytes udp8() {
    return {0, 9, 0, 53, 0, 8, 0, 0};
}

struct Seed {
    std::string name;
    Bytes frame;  // Ethernet and on
};

Bytes ns_body(const char* target, const Bytes& options) {
    return cat({{0, 0, 0, 0}, addr(target), options});
}

std::vector<Seed> frames() {
    auto router = [] { return base().dst("2001:db8:1::1"); };
    const Ip6 sol = ip("2001:db8:1::1").solicited_node();
    const Bytes slla = {1, 1, 2, 0, 0, 0, 0xee, 1};
    const Bytes tlla = {2, 1, 2, 0, 0, 0, 0xee, 1};
    const Bytes nonce = {14, 1, 1, 2, 3, 4, 5, 6};
    const Bytes prefix = cat(
        {{3, 4, 64, 0xc0, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0}, addr("2001:db8:1::")});
    const Bytes mtu = {5, 1, 0, 0, 0, 0, 0x05, 0xdc};
    const Bytes ra = cat({{64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}, slla, mtu, prefix});
    std::vector<uint8_t> mld(mld2_report_len(2));
    const Ip6 groups[] = {ip("ff02::1:ff00:1"), ip("ff05::2")};
    mld.resize(build_mld2_report(mld, ip("fe80::5"), groups));
    const Bytes mld_eth = {0x33, 0x33, 0, 0, 0, 0x16, 2, 0, 0, 0, 0xee, 1, 0x86, 0xdd};

    std::vector<Seed> s = {
        {"udp_forwarded", base().udp(1000, 2000, 32).bytes()},
        {"udp_padded", base().raw(59, {}).padding(6).bytes()},
        {"echo_to_router", router().echo_request(7, 1, 16).bytes()},
        {"echo_no_route", base().dst("2001:db8:ffff::5").echo_request(1, 1, 8).bytes()},
        {"hop_limit_1", base().hop_limit(1).udp(1, 2, 8).bytes()},
        {"blackhole", base().dst("2001:db8:dead::5").udp(1, 2).bytes()},
        {"unresolved", base().dst("2001:db8:3000::5").udp(1, 2).bytes()},
        {"too_big", base().dst("3000::1").udp(1, 2, 1300).bytes()},
        {"ecmp", base().dst("2001:db8:ec00::9").udp(7, 8, 8).bytes()},
        {"redirect", base().src("2001:db8:1::77").dst("2001:db8:6000::5").udp(1, 2, 8).bytes()},
        {"link_local_dst", base().dst("fe80::1").udp(1, 2).bytes()},
        {"all_nodes", base().eth_dst(mac("33:33:00:00:00:01")).dst("ff02::1").udp(1, 2).bytes()},
        {"jumbogram", base().udp(1, 2, 8).jumbo().bytes()},
        {"payload_past_frame", base().udp(1, 2, 8).payload_len(200).bytes()},
        {"version_4", base().udp(1, 2).version(4).bytes()},
        {"truncated", base().udp(1, 2).truncate(50).bytes()},
        {"hbh_padn_to_router", router().raw(0, opts_header(17, {1, 4, 0, 0, 0, 0})).bytes()},
        {"dstopt_unknown_10", router().raw(60, opts_header(58, {0x80, 2, 0, 0})).bytes()},
        {"dstopt_unknown_11_mcast",
         base().dst("ff02::1").raw(60, opts_header(17, {0xc1, 1, 0})).bytes()},
        {"routing_segments_left",
         router().raw(43, cat({{17, 2, 0, 1, 0, 0, 0, 0}, addr("2001:db8::7")})).bytes()},
        {"fragment_to_router", router().raw(44, cat({{17, 0, 0, 1, 0, 0, 0, 9}, udp8()})).bytes()},
        {"fragment_in_transit", base().raw(44, cat({{17, 0, 0, 8, 0, 0, 0, 9}, udp8()})).bytes()},
        {"hbh_not_first", router()
                              .raw(60, cat({opts_header(0, {1, 4, 0, 0, 0, 0}),
                                            opts_header(17, {1, 4, 0, 0, 0, 0}), udp8()}))
                              .bytes()},
        {"esp_to_router", router().raw(50, Bytes(16, 0x42)).bytes()},
        {"icmp_error_in_transit", base().icmp6(1, 0, cat({{0, 0, 0, 0}, Bytes(40, 0x60)})).bytes()},
        {"ns_dad", Pkt()
                       .eth(mac("33:33:ff:00:00:01"), kPeerMac)
                       .src(Ip6())
                       .dst(sol)
                       .hop_limit(255)
                       .icmp6(135, 0, ns_body("2001:db8:1::1", nonce))
                       .bytes()},
        {"ns_slla", Pkt()
                        .eth(mac("33:33:ff:00:00:01"), kPeerMac)
                        .src("fe80::5")
                        .dst(sol)
                        .hop_limit(255)
                        .icmp6(135, 0, ns_body("2001:db8:1::1", slla))
                        .bytes()},
        {"ns_option_len_0", Pkt()
                                .eth(kRxMac, kPeerMac)
                                .src("fe80::5")
                                .dst("fe80::1")
                                .hop_limit(255)
                                .icmp6(135, 0, ns_body("fe80::1", {1, 0, 2, 0, 0, 0, 0, 1}))
                                .bytes()},
        {"ns_option_past_end", Pkt()
                                   .eth(kRxMac, kPeerMac)
                                   .src("fe80::5")
                                   .dst("fe80::1")
                                   .hop_limit(255)
                                   .icmp6(135, 0, ns_body("fe80::1", {1, 2, 2, 0, 0, 0, 0, 1}))
                                   .bytes()},
        {"na_tlla", Pkt()
                        .eth(kRxMac, kPeerMac)
                        .src("fe80::5")
                        .dst("fe80::1")
                        .hop_limit(255)
                        .icmp6(136, 0, cat({{0x60, 0, 0, 0}, addr("fe80::5"), tlla}))
                        .bytes()},
        {"rs", Pkt()
                   .eth(mac("33:33:00:00:00:02"), kPeerMac)
                   .src("fe80::5")
                   .dst("ff02::2")
                   .hop_limit(255)
                   .icmp6(133, 0, cat({{0, 0, 0, 0}, slla}))
                   .bytes()},
        {"ra", Pkt()
                   .eth(mac("33:33:00:00:00:01"), kPeerMac)
                   .src("fe80::99")
                   .dst("ff02::1")
                   .hop_limit(255)
                   .icmp6(134, 0, ra)
                   .bytes()},
        {"mld2_report", cat({mld_eth, mld})},
    };
    return s;
}

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& b) {
    std::filesystem::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
        std::exit(1);
    }
}

Bytes framed(uint8_t flags, uint8_t first_seg, const std::vector<Bytes>& burst) {
    Bytes out = {flags, first_seg};
    for (const Bytes& f : burst) {
        out.push_back(uint8_t(f.size() >> 8));
        out.push_back(uint8_t(f.size()));
        out.insert(out.end(), f.begin(), f.end());
    }
    return out;
}

Bytes text(uint8_t flags, const std::string& s) {
    Bytes out = {flags};
    out.insert(out.end(), s.begin(), s.end());
    return out;
}

}  // namespace
}  // namespace fp6

int main(int argc, char** argv) {
    using namespace fp6;
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR (test/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const std::filesystem::path root(argv[1]);
    const std::vector<Seed> seeds = frames();
    std::vector<Bytes> all;
    for (const Seed& s : seeds) {
        all.push_back(s.frame);
        // Every flag set: errors and Redirects punted, the ring takes all.
        write(root / "fuzz_packet", s.name, framed(0xf3, 0, {s.frame}));
        const Bytes ip6(s.frame.begin() + 14, s.frame.end());
        write(root / "fuzz_ext_headers", s.name, cat({{0x0c}, ip6}));
        write(root / "fuzz_ndp", s.name, ip6);
    }
    write(root / "fuzz_packet", "burst_all", framed(0xf3, 0, all));
    write(root / "fuzz_packet", "burst_ring_takes_2", framed(0x23, 0, all));
    write(root / "fuzz_packet", "burst_segmented", framed(0xf3, 54, all));
    write(root / "fuzz_packet", "burst_no_local", framed(0xf0, 0, all));
    write(root / "fuzz_packet", "burst_port_down", framed(0xfb, 0, all));

    const std::vector<std::pair<std::string, std::string>> requests = {
        {"request_port_show", "{\"v\":1,\"cmd\":\"port.show\"}\n"},
        {"request_route_add_crlf",
         "{\"v\":1,\"cmd\":\"route.add\",\"args\":{\"dst\":\"2001:db8::/32\",\"gateway\":"
         "\"fe80::1\",\"dev\":\"p0\"}}\r\n"},
        {"request_two",
         "{\"v\":1,\"cmd\":\"stats.show\",\"args\":null}\n{\"v\":1,\"cmd\":"
         "\"addr.show\",\"args\":{\"dev\":\"p0\"}}\n"},
        {"request_bad_version", "{\"v\":2,\"cmd\":\"port.show\"}\n"},
        {"request_version_array", "{\"v\":[[[[1]]]],\"cmd\":\"port.show\"}\n"},
        {"request_unknown_cmd", "{\"v\":1,\"cmd\":\"rm.rf\"}\n"},
        {"request_args_array", "{\"v\":1,\"cmd\":\"stats.show\",\"args\":[]}\n"},
        {"request_not_json", "hello\n\n{\n"},
        {"request_partial", "{\"v\":1,\"cmd\":\"port.sh"},
        {"command_route", "route add 2001:db8::/32 via fe80::1 dev p0 metric 10\n"},
        {"command_port", "port add p0 devargs \"net_null0,size=64\" mtu 1500 # a comment\n"},
        {"command_port_set", "port set p0 up mtu 9000\nport set p0\n"},
        {"command_addr", "addr add 2001:db8:1::1/64 dev p0\naddr show\n"},
        {"command_neigh", "neigh add 2001:db8:1::5 lladdr 02:00:00:00:00:05 dev p0\n"},
        {"command_unterminated", "port add \"p0 devargs x\n"},
        {"command_unknown", "rout add ::/0\n"},
    };
    for (const auto& [name, s] : requests)
        write(root / "fuzz_control", name, text(0x20, s));
    write(root / "fuzz_control", "line_too_long",
          text(0x03, "{\"v\":1,\"cmd\":\"port.show\"}\n" + std::string(100, 'x') + "\n"));
    write(root / "fuzz_control", "partial_too_long", text(0x7f, std::string(70, 'y')));
    // A line of kMaxRequest + 1 bytes, one byte per read: the framer must not
    // rescan what it buffered at every read (that took seconds).
    write(root / "fuzz_control", "long_line_byte_by_byte", text(0x00, std::string(65537, 'x')));
    // The deepest JSON a request line can hold: parsed, and its "v" printed
    // back in the error, without running out of stack.
    const std::string deep = std::string(32000, '[') + std::string(32000, ']');
    write(root / "fuzz_control", "request_deep_nesting",
          text(0x20, "{\"v\":" + deep + ",\"cmd\":\"port.show\"}\n"));
    write(root / "fuzz_control", "byte_by_byte", text(0x00, "stats show\r\n{\"v\":1}\n"));
    return 0;
}
