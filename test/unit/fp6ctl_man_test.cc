/* docs/man/fp6ctl.8 against the grammar: every command of command_table()
 * is in the man page with its usage line, as groff renders it. The page is
 * kept by hand beside the grammar; this test is what keeps them together. */
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "control/api/grammar.h"

namespace fp6 {
namespace {

/* The output of a shell command, "" when it cannot run. */
std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr)
        return out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    pclose(p);
    return out;
}

/* Runs of blanks and newlines as one space. */
std::string squeeze(const std::string& s) {
    std::string out;
    for (char c : s) {
        bool blank = c == ' ' || c == '\n' || c == '\t';
        if (blank && (out.empty() || out.back() == ' '))
            continue;
        out += blank ? ' ' : c;
    }
    return out;
}

/* fp6ctl.8 as plain text: ASCII, no overstrike, lines long enough that no
 * usage line wraps (the page turns hyphenation off). */
std::string rendered_page() {
    const char* root = std::getenv("FP6_SOURCE_ROOT");
    std::string page = std::string(root != nullptr ? root : ".") + "/docs/man/fp6ctl.8";
    return squeeze(run("groff -man -Tascii -P-cbou -rLL=400n '" + page + "' 2>&1"));
}

TEST(ManPage, EveryCommandOfTheGrammarIsThereWithItsUsage) {
    std::string text = rendered_page();
    ASSERT_NE(text.find("COMMANDS"), std::string::npos)
        << "groff did not render docs/man/fp6ctl.8 (is groff-base installed?): " << text;
    for (const auto& c : command_table()) {
        std::string line = usage(c);
        EXPECT_NE(text.find(" " + line + " "), std::string::npos)
            << "docs/man/fp6ctl.8 lacks the usage line \"" << line << "\"";
    }
}

TEST(ManPage, GroffReportsNoProblem) {
    const char* root = std::getenv("FP6_SOURCE_ROOT");
    for (const char* name : {"fp6ctl.8", "fp6d.8"}) {
        std::string page = std::string(root != nullptr ? root : ".") + "/docs/man/" + name;
        // -ww: every warning; -z: no output but the warnings.
        EXPECT_EQ(run("groff -man -ww -z '" + page + "' 2>&1 || echo groff failed"), "") << name;
    }
}

}  // namespace
}  // namespace fp6
