#include "io/sim/structure/expand_structure.hpp"

#include <spglib.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

namespace cbednet::io::sim {
namespace {
double wrap_unit(double x) {
  x -= std::floor(x);
  return x >= 1.0 - 1e-12 ? 0.0 : x;
}

// Groups atoms lying within `distance` of each other (same site, different species or occupancy alternatives).
std::vector<std::vector<std::size_t>> shared_sites(const Crystal& crystal, double distance) {
  std::vector<std::vector<std::size_t>> groups;
  std::vector<Vec3> centres;
  for (std::size_t a = 0; a < crystal.atoms.size(); ++a) {
    bool placed = false;
    for (std::size_t g = 0; g < groups.size() && !placed; ++g)
      if (periodic_distance(crystal.basis, centres[g], crystal.atoms[a].frac) < distance) {
        groups[g].push_back(a);
        placed = true;
      }
    if (!placed) {
      groups.push_back({a});
      centres.push_back(crystal.atoms[a].frac);
    }
  }
  return groups;
}
}  // namespace

Crystal expand_sites(const LatticeParameters& params, const SymmetryOperations& ops,
                     const std::vector<StructureSite>& sites, double merge_distance) {
  Crystal c;
  c.params = params;
  c.basis = lattice_basis(params);
  for (std::size_t i = 0; i < sites.size(); ++i) {
    const auto& site = sites[i];
    std::vector<Vec3> images;
    for (std::size_t k = 0; k < ops.size(); ++k) {
      Vec3 y{};
      for (int r = 0; r < 3; ++r)
        y[r] = wrap_unit(ops.rotations[k][r][0] * site.frac[0] + ops.rotations[k][r][1] * site.frac[1] +
                         ops.rotations[k][r][2] * site.frac[2] + ops.translations[k][r]);
      bool duplicate = false;
      for (const auto& s : images) duplicate = duplicate || periodic_distance(c.basis, s, y) < merge_distance;
      if (!duplicate) images.push_back(y);
    }
    for (const auto& y : images) {
      Atom atom;
      atom.z = site.z;
      atom.frac = y;
      atom.b_iso = site.b_iso;
      atom.orbit = static_cast<int>(i);
      atom.occupancy = site.occupancy;
      c.atoms.push_back(atom);
    }
  }
  return c;
}

PhysicalProblem physical_problem(const Crystal& crystal, const std::vector<StructureSite>& sites, double min_distance,
                                 double same_site_distance) {
  constexpr double occupancy_slack = 1e-3;  // occupancies are often printed to 2-3 digits
  const auto label = [&](const Atom& a) { return sites[static_cast<std::size_t>(a.orbit)].label; };
  for (const auto& group : shared_sites(crystal, same_site_distance)) {
    double total = 0;
    for (const auto a : group) total += crystal.atoms[a].occupancy;
    if (group.size() > 1 && total > 1 + occupancy_slack) {
      std::ostringstream out;
      out << "sites";
      for (const auto a : group) out << " '" << label(crystal.atoms[a]) << "'";
      out << " coincide (within " << same_site_distance << " A) with occupancies adding up to " << total << " > 1";
      return {out.str(), crystal.atoms[group[0]].orbit};
    }
  }
  const auto& atoms = crystal.atoms;
  for (std::size_t i = 0; i < atoms.size(); ++i)
    for (std::size_t j = i + 1; j < atoms.size(); ++j) {
      if (atoms[i].occupancy + atoms[j].occupancy <= 1 + occupancy_slack) continue;  // alternatives
      const double d = periodic_distance(crystal.basis, atoms[i].frac, atoms[j].frac);
      if (d < min_distance) {
        std::ostringstream out;
        out << "atoms of sites '" << label(atoms[i]) << "' and '" << label(atoms[j]) << "' are " << d
            << " A apart (closer than " << min_distance << " A is not physical)";
        return {out.str(), atoms[i].orbit};
      }
    }
  return {};
}

SpglibLabel label_with_spglib(const Crystal& crystal, double symprec, double same_site_distance) {
  SpglibLabel out;
  const auto groups = shared_sites(crystal, same_site_distance);
  // Site type: its sorted (element, occupancy in thousandths) content.
  std::map<std::vector<std::pair<int, long>>, int> type_of;
  std::vector<double> positions;
  std::vector<int> types;
  for (const auto& group : groups) {
    std::vector<std::pair<int, long>> content;
    for (const auto a : group) content.emplace_back(crystal.atoms[a].z, std::lround(crystal.atoms[a].occupancy * 1000));
    std::sort(content.begin(), content.end());
    const auto [it, inserted] = type_of.emplace(content, static_cast<int>(type_of.size()) + 1);
    types.push_back(it->second);
    for (int r = 0; r < 3; ++r) positions.push_back(crystal.atoms[group[0]].frac[r]);
  }
  if (types.empty()) {
    out.error = "no atoms";
    return out;
  }
  double lattice[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) lattice[i][j] = crystal.basis[i][j];
  // spglib's C API takes the rows of an n x 3 array; a contiguous buffer has that layout.
  auto* rows = reinterpret_cast<double(*)[3]>(positions.data());
  const std::unique_ptr<SpglibDataset, void (*)(SpglibDataset*)> dataset(
      spg_get_dataset(lattice, rows, types.data(), static_cast<int>(types.size()), symprec), spg_free_dataset);
  if (!dataset) {
    out.error = spg_get_error_message(spg_get_error_code());
    return out;
  }
  out.number = dataset->spacegroup_number;
  out.hall_number = dataset->hall_number;
  out.symbol = dataset->international_symbol;
  return out;
}

}  // namespace cbednet::io::sim
