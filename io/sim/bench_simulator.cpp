// cbednet_sim_bench [SIZE] [MATERIALS] [SAMPLES_PER_MATERIAL] [kinematic|multislice|smc] [PROBE_GRID]: single-core
// simulator throughput as JSON (the same measurement as `cbednet simulate --bench`, without MPI or the command-line
// layer). multislice: 100 A slab, min(100, SIZE / 2) A cell, 2/3 band limit; smc: the --preset smc settings.
#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "io/sim/simulator.hpp"

int main(int argc, char** argv) {
  try {
    namespace sim = cbednet::io::sim;
    sim::SimulationOptions options;
    options.cbed.size = argc > 1 ? std::atoi(argv[1]) : 512;
    const long materials = argc > 2 ? std::atol(argv[2]) : 23;
    options.samples_per_material = argc > 3 ? std::atoi(argv[3]) : 10;
    const std::string physics = argc > 4 ? argv[4] : "kinematic";
    options.space_groups = sim::parse_space_group_list("all");
    if (physics != "kinematic") {
      options.physics = sim::Physics::multislice;
      if (physics == "smc") {
        options.multislice = sim::multislice::smc_preset();
        options.multislice.grid = options.cbed.size;
      } else {
        options.physics = sim::parse_physics(physics);
        options.multislice.grid = options.cbed.size;
        options.multislice.cell = std::min(100.0, sim::multislice::max_pixel_size * options.cbed.size);
      }
      if (argc > 5) options.multislice.probe_grid = std::atoi(argv[5]);
    }
    std::cout << sim::benchmark_json(options, materials) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "cbednet_sim_bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
