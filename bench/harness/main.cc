// parley-bench: the load harness. See docs/BENCHMARKS.md, "parley-bench".
#include <cstdio>
#include <string>
#include <vector>

#include "options.h"
#include "run.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parley::bench::parse_options(args);
  if (!parsed.options) {
    std::fprintf(parsed.exit_code == 0 ? stdout : stderr, "%s\n", parsed.message.c_str());
    return parsed.exit_code;
  }
  const auto& opt = *parsed.options;
  parley::bench::Report report = parley::bench::run(opt);
  std::string text = opt.json ? parley::bench::format_json(report)
                              : parley::bench::format_text(report);
  std::fputs(text.c_str(), stdout);
  return report.ok() ? 0 : 1;
}
