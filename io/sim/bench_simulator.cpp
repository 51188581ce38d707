// cbednet_sim_bench [SIZE] [MATERIALS] [SAMPLES_PER_MATERIAL]: single-core simulator throughput as JSON
// (the same measurement as `cbednet simulate --bench`, without MPI or the command-line layer).
#include <cstdlib>
#include <exception>
#include <iostream>

#include "io/sim/simulator.hpp"

int main(int argc, char** argv) {
  try {
    cbednet::io::sim::SimulationOptions options;
    options.cbed.size = argc > 1 ? std::atoi(argv[1]) : 512;
    const long materials = argc > 2 ? std::atol(argv[2]) : 23;
    options.samples_per_material = argc > 3 ? std::atoi(argv[3]) : 10;
    options.space_groups = cbednet::io::sim::parse_space_group_list("all");
    std::cout << cbednet::io::sim::benchmark_json(options, materials) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "cbednet_sim_bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
