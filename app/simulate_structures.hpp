// cbednet simulate --structures DIR|FILE.cif: known materials read from CIF files instead of random crystals.
// A folder (or file) of CIFs becomes the SMC-2019 layout, one material per file, files spread over the ranks;
// with --zone or --beam one material is simulated along one direction into one file (app/simulate_zone.cpp).
#pragma once

#include <array>
#include <string>

#include "app/options.hpp"
#include "io/sim/simulator.hpp"
#include "io/sim/structure/cif_structure.hpp"

namespace cbednet::app {

// The run's materials (train, dev, test) then samples (train, dev, test), summed over the ranks: what the summary
// line of `simulate` prints (random crystals and structures alike).
std::array<long long, 6> split_totals(const io::sim::SimulationSummary& mine);

// The CIF reading options of the command line (--symprec, --min-distance, --default-b).
io::sim::CifReadOptions cif_read_options(const po::variables_map& v);

// The folder mode: every CIF of --structures, material m = the m-th file in name order, on rank m mod ranks. Bad
// files stop the run before anything is written, unless --skip-bad (then they are listed and counted).
int simulate_structures(const po::variables_map& v, const io::sim::SimulationOptions& sim, const std::string& out,
                        int threads);

// Whether --zone or --beam asks for the one-geometry mode, and that mode (app/simulate_zone.cpp): one CIF, one
// pattern written by rank 0 to the file `out`.
bool zone_mode(const po::variables_map& v);
int simulate_zone(const po::variables_map& v, io::sim::SimulationOptions sim, const std::string& out);

}  // namespace cbednet::app
