/* The corpus driver: a main() for a fuzz target built without libFuzzer
 * (g++, or clang without -Dfuzz=true). It runs LLVMFuzzerTestOneInput once
 * on every file named on the command line, and on every file of every
 * directory named (sorted by name, not recursive), so that the test suite
 * replays each corpus as a regression test. Each input is copied into a heap
 * buffer of exactly its size, as libFuzzer does, so that a sanitizer build
 * sees a read past its end.
 *
 * Exit status: 0 when every input ran, 1 when an argument cannot be read or
 * no input was found (an empty corpus tests nothing); a broken invariant
 * aborts (FUZZ_CHECK). */
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "test/fuzz/fuzz_check.h"

/* Optional in a target: weak, so that a target without one still links. */
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool run_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return false;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    // Exactly sized, so a read one byte past the input is past the allocation.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)]);
    std::copy(bytes.begin(), bytes.end(), buf.get());
    std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
    std::fflush(stdout);  // the last name printed is the input that crashed
    LLVMFuzzerTestOneInput(buf.get(), bytes.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize != nullptr)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t runs = 0;
    for (int i = 1; i < argc; i++) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::directory_iterator(arg, ec))
                if (e.is_regular_file())
                    files.push_back(e.path());
            if (ec) {
                std::fprintf(stderr, "cannot list %s: %s\n", argv[i], ec.message().c_str());
                return 1;
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                if (!run_file(f))
                    return 1;
                runs++;
            }
        } else {
            if (!run_file(arg))
                return 1;
            runs++;
        }
    }
    if (runs == 0) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR|FILE...: no input found\n", argv[0]);
        return 1;
    }
    std::printf("%zu inputs, every invariant held\n", runs);
    return 0;
}
