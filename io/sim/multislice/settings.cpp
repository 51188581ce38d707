#include "io/sim/multislice/settings.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim::multislice {

MultisliceSettings smc_preset() {
  MultisliceSettings s;
  s.grid = 512;
  s.cell = 100.0;
  s.thickness = 100.0;
  s.slice_thickness = 0.0;
  s.probe_grid = 8;
  s.phonon_configurations = 1;
  s.band_limit = 1.0;
  return s;
}

double GridGeometry::k_max() const { return band_limit * std::min(nx / (2.0 * lx), ny / (2.0 * ly)); }

bool GridGeometry::in_band(int i, int j) const {
  if (i == nx / 2 || j == ny / 2) return false;  // the Nyquist row and column have no -k partner
  const double x = kx(i), y = ky(j), k = k_max();
  return x * x + y * y <= k * k * (1 + 1e-12);
}

GridGeometry grid_geometry(const MultisliceSettings& settings) {
  return GridGeometry{settings.grid, settings.grid, settings.cell, settings.cell, settings.band_limit};
}

double slice_thickness_for(const MultisliceSettings& settings, double d) {
  return settings.slice_thickness > 0 ? settings.slice_thickness : d;
}

void check_sampling(const MultisliceSettings& settings, const GridGeometry& grid, double d,
                    const std::vector<double>& energies_keV, double semi_angle) {
  CBEDNET_REQUIRE(grid.nx >= 16 && grid.ny >= 16 && grid.nx % 2 == 0 && grid.ny % 2 == 0, InvalidArgument,
                  "multislice --size: the grid must be even and at least 16, got ", grid.nx, " x ", grid.ny);
  CBEDNET_REQUIRE(grid.lx > 0 && grid.ly > 0 && std::isfinite(grid.lx) && std::isfinite(grid.ly), InvalidArgument,
                  "multislice --cell: must be positive, got ", grid.lx, " x ", grid.ly, " A");
  CBEDNET_REQUIRE(grid.band_limit > 0 && grid.band_limit <= 1, InvalidArgument,
                  "multislice --band-limit: must be in (0, 1] (fraction of Nyquist), got ", grid.band_limit);
  CBEDNET_REQUIRE(settings.thickness > 0 && std::isfinite(settings.thickness), InvalidArgument,
                  "multislice --thickness: must be positive, got ", settings.thickness, " A");
  CBEDNET_REQUIRE(settings.slice_thickness >= 0, InvalidArgument,
                  "multislice --slice-thickness: must be positive (or 0 for d_hkl), got ", settings.slice_thickness);
  const double dz = slice_thickness_for(settings, d);
  CBEDNET_REQUIRE(dz > 0 && dz <= settings.thickness, InvalidArgument, "multislice --slice-thickness: ", dz,
                  " A must be positive and at most --thickness ", settings.thickness, " A");
  CBEDNET_REQUIRE(settings.probe_grid >= 1 && settings.probe_grid <= 64, InvalidArgument,
                  "multislice --probe-grid: must be 1..64, got ", settings.probe_grid);
  CBEDNET_REQUIRE(settings.probe_window >= 0, InvalidArgument, "multislice --probe-window: must not be negative");
  for (const double f : settings.probe_centre)
    CBEDNET_REQUIRE(f >= 0 && f <= 1, InvalidArgument,
                    "multislice --probe: fractions of the cell must be in [0, 1], got ", settings.probe_centre[0], ",",
                    settings.probe_centre[1]);
  CBEDNET_REQUIRE(settings.phonon_configurations >= 0 && settings.phonon_configurations <= 1000, InvalidArgument,
                  "multislice --phonons: must be 0..1000, got ", settings.phonon_configurations);
  CBEDNET_REQUIRE(settings.threads >= 1, InvalidArgument, "multislice: engine threads must be >= 1");
  CBEDNET_REQUIRE(std::isfinite(settings.defocus) && std::isfinite(settings.cs_mm), InvalidArgument,
                  "multislice --defocus/--cs: must be finite");

  const double pixel = std::max(grid.lx / grid.nx, grid.ly / grid.ny);
  CBEDNET_REQUIRE(pixel <= max_pixel_size, InvalidArgument, "multislice --size/--cell: the real-space pixel ", pixel,
                  " A is coarser than ", max_pixel_size,
                  " A and cannot resolve atomic potentials: use a larger --size or a smaller --cell");
  CBEDNET_REQUIRE(semi_angle > 0 && semi_angle <= 0.1, InvalidArgument, "multislice: convergence semi-angle ",
                  semi_angle, " rad is outside (0, 0.1]");
  for (const double e : energies_keV) {
    CBEDNET_REQUIRE(e >= 10 && e <= 1000, InvalidArgument, "multislice: beam energy ", e,
                    " keV is outside 10..1000 keV");
    const double lambda = electron_wavelength(e * 1e3);
    const double radius = semi_angle / lambda;  // bright-field disc, 1/A
    // The bright-field disc and the inner half of its neighbours' discs must lie inside the band.
    CBEDNET_REQUIRE(1.5 * radius <= grid.k_max(), InvalidArgument, "multislice --size/--cell/--band-limit: at ", e,
                    " keV the band limit ", grid.k_max(), " 1/A holds less than 1.5 disc radii (", radius,
                    " 1/A): use a larger --size or a smaller --cell");
    // The probe (Airy disc to its first zero, 2.44 lambda / alpha) plus the scan window must fit the periodic cell,
    // or the probe overlaps its own periodic image.
    const double airy = 2.44 * lambda / semi_angle;
    CBEDNET_REQUIRE(airy + settings.probe_window <= std::min(grid.lx, grid.ly), InvalidArgument,
                    "multislice --cell: ", std::min(grid.lx, grid.ly), " A is too small for the probe at ", e,
                    " keV (Airy diameter ", airy, " A + --probe-window ", settings.probe_window,
                    " A): use a larger --cell");
  }
}

std::vector<std::array<double, 2>> probe_positions(const MultisliceSettings& settings, const GridGeometry& grid) {
  std::vector<std::array<double, 2>> out;
  const int n = settings.probe_grid;
  const double step = settings.probe_window / n;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      out.push_back({grid.lx * settings.probe_centre[0] + (i - (n - 1) / 2.0) * step,
                     grid.ly * settings.probe_centre[1] + (j - (n - 1) / 2.0) * step});
  return out;
}

}  // namespace cbednet::io::sim::multislice
