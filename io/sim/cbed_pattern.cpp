#include "io/sim/cbed_pattern.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.hpp"

namespace cbednet::io::sim {
namespace {

constexpr double min_kv = 100.0, max_kv = 200.0;  // energies a prepared projection must serve

// sin^2(x) / x^2 without a libm call, so the row loop vectorises: x = pi n + f with |f| <= pi/2 and a degree-9
// odd Taylor polynomial for sin f (relative error < 4e-6).
inline float sinc2(float x) {
  constexpr float inv_pi = 0.318309886f, pi = 3.14159265f, round_magic = 12582912.0f;  // 1.5 * 2^23
  const float y = x * inv_pi;
  const float n = (y + round_magic) - round_magic;  // nearest integer for |y| < 2^22
  const float f = (y - n) * pi;
  const float f2 = f * f;
  const float s = f * (1.0f + f2 * (-1.0f / 6 + f2 * (1.0f / 120 + f2 * (-1.0f / 5040 + f2 * (1.0f / 362880)))));
  const float x2 = x * x;
  return (s * s + 1e-30f) / (x2 + 1e-30f);  // 1 at x = 0 without a branch
}

struct EnergyTerms {
  double k = 0;                // 1 / lambda
  double radius = 0;           // disc radius, 1/Angstrom
  double i0 = 0;               // bright-field level per pixel
  double amplitude_scale = 0;  // (lambda gamma t / V_c)^2, times |F|^2 gives I_g(s = 0)
};

EnergyTerms energy_terms(const ProjectionReflections& p, double energy_keV, double semi_angle,
                         const CbedSettings& settings) {
  CBEDNET_REQUIRE(energy_keV > 0 && semi_angle > 0, InvalidArgument, "cbed: energy ", energy_keV,
                  " keV and semi-angle ", semi_angle, " rad must be positive");
  EnergyTerms e;
  const double volts = energy_keV * 1e3;
  const double lambda = electron_wavelength(volts);
  e.k = 1.0 / lambda;
  e.radius = semi_angle / lambda;
  const double r_px = e.radius / settings.pixel_size();
  e.i0 = static_cast<double>(settings.size) * settings.size / (std::numbers::pi * r_px * r_px);
  const double lg = lambda * relativistic_gamma(volts) * settings.thickness / p.cell_volume;
  e.amplitude_scale = lg * lg;
  return e;
}

// Excitation error of g for incident transverse vector K (exact Ewald-sphere form).
inline double excitation_error(const DiscReflection& g, double k, double kx, double ky) {
  const double kz = std::sqrt(k * k - kx * kx - ky * ky);
  const double num = 2.0 * (kx * g.gx + ky * g.gy + kz * g.gz) + g.gx * g.gx + g.gy * g.gy + g.gz * g.gz;
  return -num / (2.0 * std::sqrt(k * k + num));
}

}  // namespace

double semi_angle_for(double d_spacing) {
  CBEDNET_REQUIRE(d_spacing > 0, InvalidArgument, "cbed: d-spacing must be positive, got ", d_spacing);
  return electron_wavelength(100e3) / (4.0 * d_spacing);
}

double disc_radius_pixels(double semi_angle, double wavelength, double pixel_size) {
  return semi_angle / wavelength / pixel_size;
}

ProjectionReflections prepare_projection(const Crystal& crystal, const Projection& projection,
                                         const CbedSettings& settings) {
  CBEDNET_REQUIRE(settings.size >= 8 && settings.size % 2 == 0, InvalidArgument,
                  "cbed: --size must be even and >= 8, got ", settings.size);
  ProjectionReflections out;
  out.projection = projection;
  out.cell_volume = crystal.volume();
  const double k_min = 1.0 / electron_wavelength(min_kv * 1e3);
  const double r_max = semi_angle_for(projection.d) / electron_wavelength(max_kv * 1e3);
  const double field = settings.size / 2.0 * std::numbers::sqrt2 * settings.pixel_size();
  const double gt_max = field + r_max;
  const double s_max = settings.max_excitation_error;
  const double gz_max = gt_max * gt_max / (2.0 * k_min) + gt_max * r_max / k_min + s_max + 1e-9;
  const double g_lim = std::sqrt(gt_max * gt_max + gz_max * gz_max);

  const Mat3 recip = reciprocal_basis(crystal.basis);
  int bound[3];
  for (int i = 0; i < 3; ++i) {
    const Vec3 axis{crystal.basis[0][i], crystal.basis[1][i], crystal.basis[2][i]};
    bound[i] = static_cast<int>(std::floor(g_lim * norm(axis)));
  }
  const Vec3 cstar{recip[0][2], recip[1][2], recip[2][2]};
  // Detector-frame components of c*: g(h, k, l) = g(h, k, 0) + l c*, so each l step is three additions.
  const double cx = dot(projection.ex, cstar), cy = dot(projection.ey, cstar), cz = dot(projection.beam, cstar);
  const double half_lambda_min = electron_wavelength(min_kv * 1e3) / 2.0;
  const double half_lambda_max = electron_wavelength(max_kv * 1e3) / 2.0;
  const double spread = 1.1 * r_max / k_min;
  std::vector<Hkl> hkls;
  for (int h = -bound[0]; h <= bound[0]; ++h)
    for (int k = -bound[1]; k <= bound[1]; ++k) {
      const Vec3 base = reciprocal_vector(recip, h, k, 0);
      const double gx0 = dot(projection.ex, base), gy0 = dot(projection.ey, base), gz0 = dot(projection.beam, base);
      int l0 = -bound[2], l1 = bound[2];
      if (std::abs(cz) > 1e-12) {  // the slab |g_z| <= gz_max is an interval of l
        const double a = (-gz_max - gz0) / cz, b = (gz_max - gz0) / cz;
        l0 = std::max(l0, static_cast<int>(std::floor(std::min(a, b))));
        l1 = std::min(l1, static_cast<int>(std::ceil(std::max(a, b))));
      }
      for (int l = l0; l <= l1; ++l) {
        if (h == 0 && k == 0 && l == 0) continue;
        const double gx = gx0 + l * cx, gy = gy0 + l * cy, gz = gz0 + l * cz;
        const double gt2 = gx * gx + gy * gy;
        if (gt2 > gt_max * gt_max) continue;
        const double g2 = gt2 + gz * gz;
        if (settings.zolz_only) {
          if (std::abs(gz) > 1e-9 * (1.0 + std::sqrt(g2))) continue;
        } else {
          // Distance of the disc centre from the Ewald sphere over the energy range, less its spread in the disc.
          const double c1 = gz + g2 * half_lambda_min, c2 = gz + g2 * half_lambda_max;
          const double dist = c1 * c2 <= 0 ? 0.0 : std::min(std::abs(c1), std::abs(c2));
          if (dist > spread * std::sqrt(gt2) + s_max) continue;
        }
        hkls.push_back({h, k, l});
      }
    }
  const auto f = structure_factors(crystal, hkls);
  double strongest = 0;
  for (const auto& v : f) strongest = std::max(strongest, std::abs(v));
  for (std::size_t i = 0; i < hkls.size(); ++i) {
    const double abs_f = std::abs(f[i]);
    if (abs_f <= 1e-9 * strongest) continue;  // systematic absences are exact zeros
    const Vec3 g = reciprocal_vector(recip, hkls[i][0], hkls[i][1], hkls[i][2]);
    out.reflections.push_back({hkls[i], dot(g, projection.ex), dot(g, projection.ey), dot(g, projection.beam), abs_f});
  }
  return out;
}

void render_cbed(const ProjectionReflections& prepared, double energy_keV, double semi_angle,
                 const CbedSettings& settings, float* out) {
  const int size = settings.size;
  const double dk = settings.pixel_size();
  const EnergyTerms e = energy_terms(prepared, energy_keV, semi_angle, settings);
  const double r_px = e.radius / dk;
  const double centre = size / 2.0;
  CBEDNET_REQUIRE(r_px + 2 < centre, InvalidArgument, "cbed: disc radius ", r_px, " px does not fit a ", size,
                  " px pattern");
  std::fill(out, out + static_cast<std::size_t>(size) * size, 0.0f);

  // Bright-field disc at the level I0.
  const auto i0 = static_cast<float>(e.i0);
  for (int i = 0; i < size; ++i) {
    const double y = i - centre;
    if (std::abs(y) > r_px) continue;
    const double half = std::sqrt(r_px * r_px - y * y);
    const int j0 = std::max(0, static_cast<int>(std::ceil(centre - half)));
    const int j1 = std::min(size - 1, static_cast<int>(std::floor(centre + half)));
    for (int j = j0; j <= j1; ++j) out[static_cast<std::size_t>(i) * size + j] = i0;
  }

  std::vector<float> row(static_cast<std::size_t>(2 * r_px + 4));
  const double t = settings.thickness;
  const double k = e.k;
  for (const auto& g : prepared.reflections) {
    const double cx = centre + g.gx / dk, cy = centre + g.gy / dk;
    if (cx + r_px < 0 || cx - r_px > size - 1 || cy + r_px < 0 || cy - r_px > size - 1) continue;
    const double amplitude = e.amplitude_scale * g.abs_f * g.abs_f;
    // Upper bound of the disc's peak: the excitation error changes by at most about r |g_t| / k across it.
    const double s_centre = excitation_error(g, k, 0.0, 0.0);
    const double gt = std::hypot(g.gx, g.gy);
    const double spread = 1.1 * e.radius * (gt + std::abs(g.gz) * e.radius / k + e.radius) / k;
    const double s_min = std::max(0.0, std::abs(s_centre) - spread);
    const double x_min = std::numbers::pi * t * s_min;
    if (amplitude * std::min(1.0, 1.0 / (x_min * x_min)) < settings.min_relative_intensity) continue;

    // s(K) for K = (kx, ky): num = c0 + 2 K.g_t + 2 g_z (kz - k) with kz - k = -K^2 / (k + kz); float is enough.
    const double c0 = 2.0 * k * g.gz + g.gx * g.gx + g.gy * g.gy + g.gz * g.gz;
    const auto amp_i0 = static_cast<float>(amplitude * e.i0);
    const auto pit = static_cast<float>(std::numbers::pi * t);
    const auto k2 = static_cast<float>(k * k), kf = static_cast<float>(k);
    const auto gxf = static_cast<float>(2.0 * g.gx);
    const auto gzf = static_cast<float>(2.0 * g.gz);
    const long ox = std::lround(g.gx / dk), oy = std::lround(g.gy / dk);
    const int i0r = std::max(0, static_cast<int>(std::ceil(cy - r_px)));
    const int i1r = std::min(size - 1, static_cast<int>(std::floor(cy + r_px)));
    for (int i = i0r; i <= i1r; ++i) {
      const double y = i - cy;
      const double half = std::sqrt(std::max(0.0, r_px * r_px - y * y));
      const int j0 = std::max(0, static_cast<int>(std::ceil(cx - half)));
      const int j1 = std::min(size - 1, static_cast<int>(std::floor(cx + half)));
      if (j1 < j0) continue;
      const auto ky = static_cast<float>(y * dk);
      const auto base = static_cast<float>(c0 + 2.0 * y * dk * g.gy);
      const auto kx0 = static_cast<float>((j0 - cx) * dk);
      const auto dkf = static_cast<float>(dk);
      const int n = j1 - j0 + 1;
      for (int m = 0; m < n; ++m) {
        const float kx = kx0 + static_cast<float>(m) * dkf;
        const float kk = kx * kx + ky * ky;
        const float kz = std::sqrt(k2 - kk);
        const float num = base + gxf * kx - gzf * kk / (kf + kz);
        const float s = -num / (2.0f * std::sqrt(k2 + num));
        row[static_cast<std::size_t>(m)] = amp_i0 * sinc2(pit * s);
      }
      float* dst = out + static_cast<std::size_t>(i) * size + j0;
      for (int m = 0; m < n; ++m) dst[m] += row[static_cast<std::size_t>(m)];
      // The same incident directions leave the bright-field disc: subtract there (HOLZ deficit lines).
      const long bi = i - oy;
      if (bi < 0 || bi >= size) continue;
      float* bf = out + static_cast<std::size_t>(bi) * size;
      for (int m = 0; m < n; ++m) {
        const long bj = j0 + m - ox;
        if (bj >= 0 && bj < size) bf[bj] -= row[static_cast<std::size_t>(m)];
      }
    }
  }
  for (std::size_t p = 0; p < static_cast<std::size_t>(size) * size; ++p) out[p] = std::max(out[p], 0.0f);
}

double cbed_intensity_at(const ProjectionReflections& prepared, double energy_keV, double semi_angle,
                         const CbedSettings& settings, double qx, double qy) {
  const EnergyTerms e = energy_terms(prepared, energy_keV, semi_angle, settings);
  const double r2 = e.radius * e.radius;
  const bool in_bf = qx * qx + qy * qy <= r2;
  double total = in_bf ? 1.0 : 0.0;
  const double pit = std::numbers::pi * settings.thickness;
  for (const auto& g : prepared.reflections) {
    const double amplitude = e.amplitude_scale * g.abs_f * g.abs_f;
    const double kx = qx - g.gx, ky = qy - g.gy;
    if (kx * kx + ky * ky <= r2) {
      const double x = pit * excitation_error(g, e.k, kx, ky);
      total += amplitude * (std::abs(x) < 1e-9 ? 1.0 : std::pow(std::sin(x) / x, 2));
    }
    if (in_bf) {
      const double x = pit * excitation_error(g, e.k, qx, qy);
      total -= amplitude * (std::abs(x) < 1e-9 ? 1.0 : std::pow(std::sin(x) / x, 2));
    }
  }
  return std::max(0.0, total) * e.i0;
}

}  // namespace cbednet::io::sim
