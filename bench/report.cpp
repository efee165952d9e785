#include "report.hpp"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace corobus::bench {

void report::write_json(const std::string& path, const parameters& p) const {
  boost::json::object doc;
  doc["parameters"] = {{"messages", p.messages},
                       {"aggregates", p.aggregates},
                       {"io_threads", p.io_threads},
                       {"publishers", p.publishers},
                       {"payload_bytes", p.payload_bytes},
                       {"batch", p.batch},
                       {"nats_storage", p.nats_memory_storage ? "memory" : "file"}};
  boost::json::array results;
  for (const auto& r : results_)
    results.push_back({{"name", r.name},
                       {"sent", r.sent},
                       {"received", r.received},
                       {"order_violations", r.order_violations},
                       {"messages_per_second", r.rate()},
                       {"seconds", r.seconds},
                       {"cpu_seconds", r.cpu_seconds},
                       {"broker_cpu_seconds", r.broker_cpu_seconds},
                       {"latency_ms", {{"p50", r.p50_ms}, {"p99", r.p99_ms}, {"max", r.max_ms}}},
                       {"peak_rss_kib", r.rss_peak_kib},
                       {"threads", {{"before", r.threads_before}, {"after_close", r.threads_after}}},
                       {"descriptors", {{"before", r.fds_before}, {"after_close", r.fds_after}}},
                       {"tasks", {{"peak", r.tasks_peak}, {"after_close", r.tasks_after}}},
                       {"clean", r.clean()}});
  doc["results"] = std::move(results);
  boost::json::object ratios;
  for (const auto& [what, value] : ratios_) ratios[what] = value;
  doc["throughput_ratios"] = std::move(ratios);
  std::ofstream out(path);
  out << boost::json::serialize(doc) << '\n';
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", path));
}

void report::write_chart(const std::string& path) const {
  // The data as gnuplot reads it: one row per scenario, its name quoted.
  const auto data = std::filesystem::path(path).replace_extension(".dat");
  {
    std::ofstream out(data);
    out << "# scenario msg/s p50_ms p99_ms max_ms\n";
    for (const auto& r : results_)
      out << fmt::format("\"{}\" {:.0f} {:.3f} {:.3f} {:.3f}\n", r.name, r.rate(), r.p50_ms, r.p99_ms, r.max_ms);
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", data.string()));
  }
  const auto script = std::filesystem::path(path).replace_extension(".gp");
  {
    std::ofstream out(script);
    // Horizontal bars, one panel above the other so that the scenarios' long names fit; both
    // axes on a log scale, since in-process and broker figures lie orders of magnitude apart.
    const auto rows = results_.size();
    out << fmt::format(R"gp(set terminal pngcairo size 1200,{} font ",10"
set output "{}"
set multiplot layout 2,1
set lmargin 62
set grid xtics
set yrange [-0.6:{}]
set logscale x
set title "Throughput (messages/s)"
set format x "%.0s%c"
plot "{}" using 2:0:(1):2:($0-0.4):($0+0.4):ytic(1) with boxxyerror fill solid 0.8 notitle lc rgb "#3b75af"
set title "End-to-end latency (ms)"
set format x "%g"
set key outside right top vertical
plot "{}" using 3:0:ytic(1) with points pt 7 ps 1.3 title "p50", "" using 4:0 with points pt 9 ps 1.5 title "p99", \
     "" using 5:0 with points pt 5 ps 1.3 title "max"
unset multiplot
)gp",
                       2 * (90 + 28 * rows), path, static_cast<double>(rows) - 0.4, data.string(), data.string());
    if (!out) throw std::runtime_error(fmt::format("cannot write {}", script.string()));
  }
  if (std::system(fmt::format("gnuplot '{}'", script.string()).c_str()) != 0)
    throw std::runtime_error(
        fmt::format("gnuplot failed on {} (is it installed? ./dev bench installs it for --chart)", script.string()));
}

}  // namespace corobus::bench
