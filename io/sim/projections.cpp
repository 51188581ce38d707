#include "io/sim/projections.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace cbednet::io::sim {

Projection projection_frame(const Vec3& beam) {
  Projection p;
  const double n = norm(beam);
  CBEDNET_REQUIRE(n > 0, InvalidArgument, "projection: zero beam direction");
  for (int i = 0; i < 3; ++i) p.beam[i] = beam[i] / n;
  for (const Vec3 axis : {Vec3{1, 0, 0}, Vec3{0, 1, 0}}) {
    Vec3 ex{};
    const double along = dot(axis, p.beam);
    for (int i = 0; i < 3; ++i) ex[i] = axis[i] - along * p.beam[i];
    const double len = norm(ex);
    if (len < 0.3) continue;
    for (int i = 0; i < 3; ++i) p.ex[i] = ex[i] / len;
    break;
  }
  p.ey = cross(p.beam, p.ex);
  return p;
}

std::vector<Projection> choose_projections(const Crystal& crystal, int count, double d_min, double d_max) {
  const Mat3 recip = reciprocal_basis(crystal.basis);
  const double g_max = 1.0 / d_min, g_min = 1.0 / d_max;
  // Index bounds: |h| <= g_max |a| since h = g . a.
  int bound[3];
  for (int i = 0; i < 3; ++i) {
    const Vec3 axis{crystal.basis[0][i], crystal.basis[1][i], crystal.basis[2][i]};
    bound[i] = static_cast<int>(std::floor(g_max * norm(axis)));
  }
  std::vector<Hkl> hkls;
  std::vector<double> gs;
  for (int h = -bound[0]; h <= bound[0]; ++h)
    for (int k = -bound[1]; k <= bound[1]; ++k)
      for (int l = -bound[2]; l <= bound[2]; ++l) {
        const double g = norm(reciprocal_vector(recip, h, k, l));
        if (g <= g_min || g >= g_max) continue;
        hkls.push_back({h, k, l});
        gs.push_back(g);
      }
  const auto f = structure_factors(crystal, hkls);

  struct Family {
    double g;
    double intensity;
    Hkl representative;
  };
  std::vector<std::size_t> order(hkls.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return gs[a] != gs[b] ? gs[a] < gs[b] : hkls[a] < hkls[b]; });
  double strongest = 0;
  for (const auto& v : f) strongest = std::max(strongest, std::norm(v));
  std::vector<Family> families;
  for (const std::size_t i : order) {
    const double intensity = std::norm(f[i]);
    if (intensity < 1e-10 * strongest) continue;  // systematic absence
    if (!families.empty() && std::abs(gs[i] / families.back().g - 1.0) < 1e-6) {
      families.back().intensity += intensity;
      families.back().representative = std::max(families.back().representative, hkls[i]);
    } else {
      families.push_back({gs[i], intensity, hkls[i]});
    }
  }
  CBEDNET_REQUIRE(!families.empty(), Error, "projections: no reflection with ", d_min, " < d < ", d_max,
                  " A in a cell of ", crystal.atoms.size(), " atoms");
  std::stable_sort(families.begin(), families.end(), [](const Family& a, const Family& b) {
    return a.intensity != b.intensity ? a.intensity > b.intensity : a.g < b.g;
  });
  std::vector<Projection> out;
  for (int p = 0; p < count; ++p) {
    const Family& fam = families[static_cast<std::size_t>(p) % families.size()];
    Projection proj =
        projection_frame(reciprocal_vector(recip, fam.representative[0], fam.representative[1], fam.representative[2]));
    proj.hkl = fam.representative;
    proj.d = 1.0 / fam.g;
    out.push_back(proj);
  }
  return out;
}

}  // namespace cbednet::io::sim
