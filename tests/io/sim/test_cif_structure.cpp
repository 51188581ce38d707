// Crystal structures from CIF: symmetry given as operators, Hall, H-M symbol or number expanded to the published
// cell contents, spglib's label, partial occupancies honoured, and every refusal naming the file and line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/error.hpp"
#include "io/sim/multislice/fft.hpp"
#include "io/sim/multislice/potential.hpp"
#include "io/sim/scattering.hpp"
#include "io/sim/simulator.hpp"
#include "io/sim/structure/cif_structure.hpp"
#include "tests/io/sim/cif_fixtures.hpp"

namespace cbednet::io::sim {
namespace {

using namespace testing;
namespace fs = std::filesystem;

// The InvalidArgument message of parsing `text` as `name` ("" when it parses).
std::string refusal(const std::string& text, const std::string& name = "bad.cif") {
  try {
    (void)parse_cif_structure(text, name);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

struct Published {
  const char* name;
  std::string text;
  std::size_t atoms;
  int space_group;
  const char* formula;
};

TEST(CifStructure, KnownStructuresExpandToPublishedCells) {
  const Published cases[] = {
      {"Si", silicon_cif(), 8, 227, "Si8"},         {"GaAs", gallium_arsenide_cif(), 8, 216, "Ga4 As4"},
      {"NaCl", rock_salt_cif(), 8, 225, "Na4 Cl4"}, {"TiO2", rutile_cif(), 6, 136, "O4 Ti2"},
      {"ZnO", wurtzite_cif(), 4, 186, "O2 Zn2"},    {"ZrO2", baddeleyite_cif(), 12, 14, "O8 Zr4"},
      {"P-1", triclinic_cif(), 4, 2, "Na2 Cl2"},    {"CuAu", disordered_cuau_cif(), 8, 225, "Cu4 Au4"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto s = parse_cif_structure(c.text, std::string(c.name) + ".cif");
    EXPECT_EQ(s.crystal.atoms.size(), c.atoms);
    EXPECT_EQ(s.crystal.space_group, c.space_group);
    EXPECT_EQ(s.crystal.formula(), c.formula);
    EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
    EXPECT_EQ(s.cif_space_group, c.space_group) << "the group the CIF states";
    for (const auto& atom : s.crystal.atoms)
      for (const double x : atom.frac) EXPECT_TRUE(x >= 0 && x < 1);
  }
}

TEST(CifStructure, SymmetrySourcesAndDisplacements) {
  EXPECT_EQ(parse_cif_structure(wurtzite_cif(), "ZnO.cif").symmetry_source,
            "12 operators of _symmetry_equiv_pos_as_xyz");
  EXPECT_EQ(parse_cif_structure(rock_salt_cif(), "NaCl.cif").symmetry_source, "Hall symbol '-F 4 2 3'");
  EXPECT_EQ(parse_cif_structure(rutile_cif(), "TiO2.cif").symmetry_source, "space group number 136 (standard setting)");
  // An H-M symbol gemmi does not know falls back to the number when the CIF gives one.
  const auto fallback = parse_cif_structure(
      replace(rutile_cif(), "_symmetry_Int_Tables_number 136\n",
              "_symmetry_Int_Tables_number 136\n_symmetry_space_group_name_H-M 'P 42/m n m (nonsense)'\n"),
      "TiO2.cif");
  EXPECT_EQ(fallback.crystal.atoms.size(), 6u);
  EXPECT_EQ(fallback.symmetry_source, "space group number 136 (standard setting)");
  // U_iso 0.015 A^2 -> B = 8 pi^2 U; absent -> the default B, counted.
  const auto nacl = parse_cif_structure(rock_salt_cif(), "NaCl.cif");
  EXPECT_NEAR(nacl.crystal.atoms.front().b_iso, 8 * M_PI * M_PI * 0.015, 1e-9);
  EXPECT_EQ(nacl.sites_without_adp, 0);
  const auto si = parse_cif_structure(silicon_cif(), "Si.cif");
  EXPECT_EQ(si.sites_without_adp, 1);
  EXPECT_DOUBLE_EQ(si.crystal.atoms.front().b_iso, CifReadOptions{}.default_b_iso);
}

TEST(CifStructure, PartialOccupancyWeightsScattering) {
  // Cu0.5Au0.5 on one site scatters as the average of pure Cu and pure Au (average-crystal approximation).
  const auto mixed = parse_cif_structure(disordered_cuau_cif(0.5, 0.5), "CuAu.cif");
  EXPECT_TRUE(mixed.partial_occupancy);
  const auto cu =
      parse_cif_structure(replace(disordered_cuau_cif(1.0, 1.0), "Au1 Au 0 0 0 1.000000 0.6\n", ""), "Cu.cif");
  const auto au =
      parse_cif_structure(replace(disordered_cuau_cif(1.0, 1.0), "Cu1 Cu 0 0 0 1.000000 0.6\n", ""), "Au.cif");
  for (const Hkl hkl : {Hkl{1, 1, 1}, Hkl{2, 0, 0}, Hkl{2, 2, 0}}) {
    const auto f_mixed = structure_factor(mixed.crystal, hkl);
    const auto f_average = 0.5 * (structure_factor(cu.crystal, hkl) + structure_factor(au.crystal, hkl));
    EXPECT_NEAR(std::abs(f_mixed - f_average), 0.0, 1e-9 * std::abs(f_average));
    EXPECT_NEAR(std::abs(structure_factors(mixed.crystal, {hkl})[0] - f_mixed), 0.0, 1e-9 * std::abs(f_mixed));
  }
  // A site more than full is refused.
  const auto over = refusal(disordered_cuau_cif(0.7, 0.5), "over.cif");
  EXPECT_NE(over.find("over.cif:"), std::string::npos) << over;
  EXPECT_NE(over.find("occupancies adding up to 1.2"), std::string::npos) << over;
  EXPECT_NE(refusal(disordered_cuau_cif(1.5, 0.5)).find("occupancy must be in (0, 1]"), std::string::npos);
}

TEST(CifStructure, PartialOccupancyWeightsTheSlicePotential) {
  // The multislice potential of an atom of occupancy 0.3 is 0.3 times that of a full one (same element and B).
  const multislice::GridGeometry grid{32, 32, 10.0, 10.0, 2.0 / 3.0};
  const multislice::Fft2d fft(32, 32);
  multislice::SlicePotentialBuilder build(grid, true);
  const auto full = build({multislice::SpecimenAtom{79, 0.6, 3.0, 4.0, 1.0}}, fft);
  const auto part = build({multislice::SpecimenAtom{79, 0.6, 3.0, 4.0, 0.3}}, fft);
  double peak = 0;
  for (const float v : full) peak = std::max(peak, std::abs(static_cast<double>(v)));
  ASSERT_GT(peak, 0);
  for (std::size_t p = 0; p < full.size(); ++p) EXPECT_NEAR(part[p], 0.3 * full[p], 1e-5 * peak);
}

TEST(CifStructure, SymbolDisagreeingWithAtomsWarns) {
  // Diamond written out in P1 but labelled Fm-3m: spglib finds Fd-3m, the label follows spglib, with a warning.
  const std::string text =
      "data_Si_P1\n" + cif_cell(5.431, 5.431, 5.431, 90, 90, 90) +
      "_symmetry_space_group_name_H-M 'F m -3 m'\nloop_\n_symmetry_equiv_pos_as_xyz\n'x,y,z'\n" + atom_loop_header +
      "Si1 Si 0 0 0\nSi2 Si 0 0.5 0.5\nSi3 Si 0.5 0 0.5\nSi4 Si 0.5 0.5 0\n"
      "Si5 Si 0.25 0.25 0.25\nSi6 Si 0.25 0.75 0.75\nSi7 Si 0.75 0.25 0.75\nSi8 Si 0.75 0.75 0.25\n";
  const auto s = parse_cif_structure(text, "mislabelled.cif");
  EXPECT_EQ(s.crystal.space_group, 227);
  EXPECT_EQ(s.cif_space_group, 225);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0],
            "mislabelled.cif:8: the CIF states space group 'F m -3 m' (No. 225) but spglib finds Fd-3m (No. 227) on "
            "its 8 atoms at symprec 0.01 A; labelled 227");
}

TEST(CifStructure, StructuresWrittenInP1AreNotWarnedAbout) {
  const std::string text =
      "data_Si_P1\n" + cif_cell(5.431, 5.431, 5.431, 90, 90, 90) +
      "_symmetry_space_group_name_H-M 'P 1'\n_symmetry_Int_Tables_number 1\n" + atom_loop_header +
      "Si1 Si 0 0 0\nSi2 Si 0 0.5 0.5\nSi3 Si 0.5 0 0.5\nSi4 Si 0.5 0.5 0\n"
      "Si5 Si 0.25 0.25 0.25\nSi6 Si 0.25 0.75 0.75\nSi7 Si 0.75 0.25 0.75\nSi8 Si 0.75 0.75 0.25\n";
  const auto s = parse_cif_structure(text, "p1.cif");
  EXPECT_EQ(s.crystal.space_group, 227);
  EXPECT_EQ(s.cif_space_group, 1);
  EXPECT_TRUE(s.warnings.empty());
}

TEST(CifStructure, BadInputNamesFileAndLine) {
  // Malformed: an unterminated loop value quote; gemmi's position follows the file name.
  const auto malformed = refusal("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n'Si1\n", "broken.cif");
  EXPECT_EQ(malformed.rfind("malformed CIF: broken.cif:", 0), 0u) << malformed;
  // No symmetry at all.
  const auto no_symmetry = refusal(
      "data_x\n" + cif_cell(5.431, 5.431, 5.431, 90, 90, 90) + atom_loop_header + "Si1 Si 0 0 0\n", "nosym.cif");
  EXPECT_EQ(no_symmetry.rfind("nosym.cif: no symmetry:", 0), 0u) << no_symmetry;
  EXPECT_NE(no_symmetry.find("_symmetry_space_group_name_H-M 'P 1'"), std::string::npos);
  // Unknown element, named with its row and the loop's line.
  const auto unknown = refusal(replace(silicon_cif(), "Si1 Si 0 0 0", "Q1 Qq 0 0 0"), "qq.cif");
  EXPECT_EQ(unknown, "qq.cif:15: _atom_site_ row 1 ('Q1'): unknown element 'Qq'");
  // Zero and negative cell lengths, and angles that cannot close a cell.
  EXPECT_EQ(refusal(replace(silicon_cif(), "_cell_length_a 5.431000", "_cell_length_a 0"), "zero.cif"),
            "zero.cif:2: _cell_length_a must be positive, got 0");
  EXPECT_EQ(refusal(replace(silicon_cif(), "_cell_length_c 5.431000", "_cell_length_c -5"), "neg.cif"),
            "neg.cif:4: _cell_length_c must be positive, got -5");
  EXPECT_NE(refusal(replace(triclinic_cif(), "_cell_angle_alpha 80.000000", "_cell_angle_alpha 170"))
                .find("do not form a cell"),
            std::string::npos);
  // Atoms closer than physically possible (a site 0.2 A from its mirror image in P-1).
  const auto close = refusal(replace(triclinic_cif(), "Na1 Na 0.1 0.2 0.3", "Na1 Na 0.01 0.0 0.0"), "close.cif");
  EXPECT_NE(close.find("close.cif:15: atoms of sites 'Na1' and 'Na1' are 0."), std::string::npos) << close;
  EXPECT_NE(close.find("is not physical"), std::string::npos) << close;
  // An unknown H-M symbol, a bad operator, a coordinate that is not a number.
  EXPECT_EQ(refusal(replace(silicon_cif(), "'F d -3 m'", "'F q 9'"), "hm.cif"),
            "hm.cif:8: _symmetry_space_group_name_H-M: unknown space-group symbol 'F q 9'");
  EXPECT_NE(refusal(replace(wurtzite_cif(), "'-y, x-y, z'", "'-y, w, z'"), "op.cif").find("op.cif:9: "),
            std::string::npos);
  EXPECT_NE(refusal(replace(silicon_cif(), "Si1 Si 0 0 0", "Si1 Si 0 zero 0"), "nan.cif")
                .find("nan.cif:15: _atom_site_ row 1 ('Si1'): 'zero' is not a number"),
            std::string::npos);
  EXPECT_EQ(refusal("data_x\n_cell_length_a 5\n", "empty.cif").rfind("empty.cif: no atoms", 0), 0u);
}

// Broken CIFs (characters replaced, inserted or deleted; lines shuffled) are parsed or refused with InvalidArgument,
// never anything else (run under ASan/UBSan by scripts/ci-sanitizers.sh, this also checks memory safety).
TEST(CifStructure, MutatedCifsAreParsedOrRefused) {
  const std::string seeds[] = {silicon_cif(), rock_salt_cif(), wurtzite_cif(), baddeleyite_cif(),
                               disordered_cuau_cif()};
  const std::string alphabet = "0123456789.-+ \n'\"_;#()?xyzXYZ/,loop_data_";
  std::mt19937 rng(2026);
  int parsed = 0, refused = 0;
  for (int trial = 0; trial < 500; ++trial) {
    std::string text = seeds[rng() % std::size(seeds)];
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      const char ch = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = ch;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), ch);
          break;
        default:
          text.erase(at, 1);
      }
    }
    if (rng() % 5 == 0) {
      std::vector<std::string> lines;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      std::shuffle(lines.begin(), lines.end(), rng);
      text.clear();
      for (const auto& line : lines) text += line + "\n";
    }
    try {
      (void)parse_cif_structure(text, "mutated.cif");
      ++parsed;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(std::string(e.what()).find("mutated.cif"),
                std::string(e.what()).rfind("malformed CIF: ", 0) == 0 ? std::string("malformed CIF: ").size() : 0u)
          << "the message starts with the file: " << e.what();
      ++refused;
    }
  }
  std::printf("%d mutated CIFs parsed, %d refused\n", parsed, refused);
  EXPECT_GT(refused, 250);
  EXPECT_GT(parsed, 10);
}

TEST(CifStructure, FilesAndFolders) {
  const fs::path dir = fs::temp_directory_path() / ("cbednet_cif_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [name, text] :
       {std::pair{"b_Si.cif", silicon_cif()}, std::pair{"a_GaAs.CIF", gallium_arsenide_cif()}})
    std::ofstream(dir / name) << text;
  std::ofstream(dir / "notes.txt") << "not a structure\n";
  const auto files = list_cif_files(dir.string());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(fs::path(files[0]).filename(), "a_GaAs.CIF");
  EXPECT_EQ(read_cif_structure(files[1]).crystal.space_group, 227);
  EXPECT_EQ(list_cif_files(files[0]), std::vector<std::string>{files[0]});
  EXPECT_THROW(list_cif_files((dir / "missing").string()), InvalidArgument);
  const auto unreadable = (dir / "missing.cif").string();
  try {
    (void)read_cif_structure(unreadable);
    ADD_FAILURE() << "read a missing file";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()), unreadable + ": cannot read the CIF file");
  }
  fs::remove_all(dir);
}

TEST(CifStructure, SimulatesLikeRandomCrystals) {
  SimulationOptions o;
  o.cbed.size = 32;
  o.samples_per_material = 2;
  const auto s = parse_cif_structure(gallium_arsenide_cif(), "GaAs.cif");
  const auto material = material_from_crystal(o, 7, s.crystal, "GaAs");
  const auto samples = simulate_material(o, material);
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].group_name, "sample_7_0");
  EXPECT_EQ(samples[0].space_group, 216);
  EXPECT_EQ(samples[0].material, "GaAs");
  EXPECT_EQ(samples[0].formula, "Ga4 As4");
  double total = 0;
  for (const float v : samples[1].cbed_stack) total += v;
  EXPECT_GT(total, 0);
}

}  // namespace
}  // namespace cbednet::io::sim
