#include "io/sim/structure/zone_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "io/sim/cbed_pattern.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/multislice/multislice.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim {
namespace {
constexpr double max_zone_slice = 2.0;  // Angstrom: the longest default slice along a zone axis
// Frozen-phonon draws of the single pattern: the same coordinate family as the simulator's first projection.
constexpr std::uint64_t phonon_coordinate = 1ull << 62;

const char* option_of(const BeamDirection& d) { return d.zone_axis ? "--zone" : "--beam"; }

Vec3 as_vec(const std::array<int, 3>& i) {
  return {static_cast<double>(i[0]), static_cast<double>(i[1]), static_cast<double>(i[2])};
}
}  // namespace

Projection beam_projection(const Crystal& crystal, const BeamDirection& direction) {
  const auto& i = direction.indices;
  CBEDNET_REQUIRE(i[0] != 0 || i[1] != 0 || i[2] != 0, InvalidArgument, option_of(direction),
                  ": 0 0 0 is not a direction");
  Projection p;
  double d = 0;
  if (direction.zone_axis) {
    const Vec3 t = mat_vec(crystal.basis, as_vec(i));  // the lattice repeat along the beam
    const double repeat = norm(t);
    p = projection_frame(t);
    d = repeat / std::ceil(repeat / max_zone_slice);
  } else {
    const Vec3 g = reciprocal_vector(reciprocal_basis(crystal.basis), i[0], i[1], i[2]);
    p = projection_frame(g);
    d = 1.0 / norm(g);
  }
  p.hkl = {i[0], i[1], i[2]};
  p.d = d;
  return p;
}

double default_semi_angle(const Crystal& crystal, const BeamDirection& direction) {
  if (!direction.zone_axis) return semi_angle_for(beam_projection(crystal, direction).d);
  const auto& uvw = direction.indices;
  CBEDNET_REQUIRE(uvw[0] != 0 || uvw[1] != 0 || uvw[2] != 0, InvalidArgument, "--zone: 0 0 0 is not a direction");
  constexpr int n = 6;
  std::vector<Hkl> zolz;
  for (int h = -n; h <= n; ++h)
    for (int k = -n; k <= n; ++k)
      for (int l = -n; l <= n; ++l)
        if ((h != 0 || k != 0 || l != 0) && h * uvw[0] + k * uvw[1] + l * uvw[2] == 0) zolz.push_back({h, k, l});
  const auto f = structure_factors(crystal, zolz);
  double f_max = 0;
  for (const auto& v : f) f_max = std::max(f_max, std::abs(v));
  const Mat3 recip = reciprocal_basis(crystal.basis);
  double g_min = 0;
  for (std::size_t r = 0; r < zolz.size(); ++r) {
    if (std::abs(f[r]) < 1e-6 * f_max) continue;  // systematically absent
    const double g = norm(reciprocal_vector(recip, zolz[r][0], zolz[r][1], zolz[r][2]));
    if (g_min == 0 || g < g_min) g_min = g;
  }
  CBEDNET_REQUIRE(g_min > 0, InvalidArgument, "--zone: no reflection in the zero-order Laue zone of [", uvw[0], " ",
                  uvw[1], " ", uvw[2], "] within |hkl| <= ", n, "; give --semiangle");
  return semi_angle_for(1.0 / g_min);
}

SmcSample simulate_zone_pattern(const SimulationOptions& options, const Crystal& crystal, const std::string& name,
                                const ZoneSettings& zone) {
  const Projection projection = beam_projection(crystal, zone.direction);
  const double semi = zone.semi_angle > 0 ? zone.semi_angle : default_semi_angle(crystal, zone.direction);
  CBEDNET_REQUIRE(semi > 0 && semi <= 0.1, InvalidArgument, "--semiangle: ", semi * 1e3,
                  " mrad is outside (0, 100] mrad");
  const bool multislice = options.physics == Physics::multislice;
  const int size = multislice ? options.multislice.grid : options.cbed.size;
  const auto pixels = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);

  SmcSample s;
  s.group_name = "sample_0_0";
  s.space_group = crystal.space_group;
  s.size = size;
  s.cbed_stack.assign(3 * pixels, 0.0f);
  if (multislice) {
    const RandomStream stream(options.seed, RngPurpose::simulate, 0);
    const auto engine = options.multislice.engine == multislice::EngineKind::cuda
                            ? multislice::make_cuda_engine(options.multislice.device)
                            : multislice::make_cpu_engine(options.multislice.threads);
    (void)multislice::render_multislice(
        crystal, projection, multislice::grid_geometry(options.multislice), options.multislice, {zone.energy_keV}, semi,
        multislice::PhononSource{&stream, phonon_coordinate}, *engine, {s.cbed_stack.data()});
  } else {
    CBEDNET_REQUIRE(zone.energy_keV >= 100 && zone.energy_keV <= 200, InvalidArgument,
                    "--energy-kev: ", zone.energy_keV,
                    " keV is outside 100..200 keV, the range of the kinematic renderer (--physics multislice takes "
                    "10..1000 keV)");
    // prepare_projection keeps the reflections whose discs (radius from d by SMC's rule) can reach the detector: a
    // d small enough that the rule's angle covers `semi` keeps every disc of this semi-angle.
    Projection reach = projection;
    reach.d = std::min(projection.d, semi_angle_for(1.0) / semi);
    render_cbed(prepare_projection(crystal, reach, options.cbed), zone.energy_keV, semi, options.cbed,
                s.cbed_stack.data());
  }
  std::copy_n(s.cbed_stack.begin(), pixels, s.cbed_stack.begin() + static_cast<std::ptrdiff_t>(pixels));
  std::copy_n(s.cbed_stack.begin(), pixels, s.cbed_stack.begin() + 2 * static_cast<std::ptrdiff_t>(pixels));

  s.material = name;
  s.formula = crystal.formula();
  s.energy_keV = static_cast<std::int64_t>(std::lround(zone.energy_keV));
  std::array<double, 9> z_dirs{};
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t p = 0; p < 3; ++p) z_dirs[i * 3 + p] = zone.direction.indices[i];
  s.z_dirs = z_dirs;
  s.semi_angles_rad = std::array<double, 3>{semi, semi, semi};
  if (!zone.direction.zone_axis) s.d_hkls_angstrom = std::array<double, 3>{projection.d, projection.d, projection.d};
  const auto& lp = crystal.params;
  s.abc_angstrom = std::array<double, 3>{lp.a, lp.b, lp.c};
  s.angles_degree = std::array<double, 3>{lp.alpha, lp.beta, lp.gamma};
  return s;
}

}  // namespace cbednet::io::sim
