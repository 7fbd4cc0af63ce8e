/* Human-readable output of fp6ctl: each function takes the "data" of a reply
 * and returns aligned text (every line ends in "\n"). They never throw: fields
 * they do not know are ignored, missing or mistyped ones print as "-". */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fp6::ctl {

/* Columns of text padded to a common width; the columns given as numeric are
 * right-aligned, the others left-aligned, separated by two spaces. */
class Table {
  public:
    Table(std::vector<std::string> header, std::vector<bool> numeric)
        : header_(std::move(header)), numeric_(std::move(numeric)) {}
    /* Adds a row; missing cells are blank, extra cells are dropped. */
    void add(std::vector<std::string> row);
    /* The header and rows; "" when no row was added. */
    std::string str() const;

  private:
    std::vector<std::string> header_;
    std::vector<bool> numeric_;
    std::vector<std::vector<std::string>> rows_;
};

/* How tables are written. */
struct RenderOptions {
    /* Counters with SI suffixes, three significant digits: 1234567 -> 1.23M
     * (fp6ctl -h). */
    bool human = false;
};

/* A count for people: as is below 1000, else three significant digits and
 * an SI suffix (k, M, G, T, P, E): 999, 1.00k, 12.3k, 123k, 1.23M. */
std::string human_count(uint64_t n);

/* port.show: an array of ports. */
std::string render_ports(const nlohmann::json& data);

/* addr.show: an array of {"ifname","addr_info":[...]}, one row per address. */
std::string render_addrs(const nlohmann::json& data);

/* route.show (an array) and route.get (one object). */
std::string render_routes(const nlohmann::json& data);

/* neigh.show: an array of neighbours. */
std::string render_neighs(const nlohmann::json& data);

/* stats.show: {"ports":[...],"workers":[...],"drops":{...}}; drop reasons with
 * nonzero counts come first (largest first), then the zero ones by name. */
std::string render_stats(const nlohmann::json& data, const RenderOptions& opt = {});

/* One line (no "\n") telling how far a long operation has come, from the
 * "progress" object of its progress line: for route.load the lines read,
 * the share of the file, lines per second and the time left; for
 * route.flush the routes removed of how many, the rate and the time left.
 * Figures it cannot know (a pipe's size, the first instant) are left out. */
std::string render_progress(std::string_view cmd, const nlohmann::json& progress);

/* The output for the reply data of cmd: "" when data is null or empty, the
 * renderer above for the show commands, otherwise data as indented JSON. */
std::string render_policy(const nlohmann::json& data);
std::string render(std::string_view cmd, const nlohmann::json& data, const RenderOptions& opt = {});

}  // namespace fp6::ctl
