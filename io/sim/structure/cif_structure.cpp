#include "io/sim/structure/cif_structure.hpp"

// gemmi's number formatting uses a bundled stb_sprintf that Debian removes; gemmi's documented switch selects
// std::snprintf instead (only its writers format numbers; the parser does not).
#define USE_STD_SNPRINTF
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <gemmi/cif.hpp>
#include <gemmi/numb.hpp>
#include <gemmi/symmetry.hpp>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.hpp"
#include "io/sim/kirkland.hpp"
#include "io/sim/structure/expand_structure.hpp"

namespace cbednet::io::sim {
namespace {
namespace cif = gemmi::cif;

// "FILE:LINE: " (or "FILE: " when the line is unknown) in front of every message.
struct Where {
  std::string source;
  std::string at(int line) const { return line > 0 ? source + ":" + std::to_string(line) + ": " : source + ": "; }
};

int line_of(cif::Block& block, const std::string& tag) {
  const cif::Column column = block.find_values(tag);
  return column.item() != nullptr ? column.item()->line_number : 0;
}

// The first of `tags` the block has with a non-null value: {value, tag, line}; value empty when none.
struct TagValue {
  std::string value, tag;
  int line = 0;
};
TagValue first_value(cif::Block& block, std::initializer_list<const char*> tags) {
  for (const char* tag : tags) {
    const std::string* raw = block.find_value(tag);
    if (raw != nullptr && !cif::is_null(*raw)) return {cif::as_string(*raw), tag, line_of(block, tag)};
  }
  return {};
}

// A number; "1.234(5)" standard uncertainties are accepted, anything else is an error naming tag and line.
double number(const std::string& raw, const std::string& tag, int line, const Where& where) {
  const double v = cif::as_number(raw);
  CBEDNET_REQUIRE(std::isfinite(v), InvalidArgument, where.at(line), tag, ": '", raw, "' is not a number");
  return v;
}

LatticeParameters read_cell(cif::Block& block, const Where& where) {
  static constexpr const char* tags[6] = {"_cell_length_a",    "_cell_length_b",   "_cell_length_c",
                                          "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
  std::array<double, 6> v{};
  for (std::size_t i = 0; i < 6; ++i) {
    const std::string* raw = block.find_value(tags[i]);
    CBEDNET_REQUIRE(raw != nullptr && !cif::is_null(*raw), InvalidArgument, where.at(0), "no ", tags[i],
                    " (the cell is required)");
    v[i] = number(*raw, tags[i], line_of(block, tags[i]), where);
  }
  for (std::size_t i = 0; i < 3; ++i)
    CBEDNET_REQUIRE(v[i] > 0, InvalidArgument, where.at(line_of(block, tags[i])), tags[i], " must be positive, got ",
                    v[i]);
  LatticeParameters p{v[0], v[1], v[2], v[3], v[4], v[5]};
  try {
    (void)lattice_basis(p);
  } catch (const InvalidArgument&) {
    throw_error<InvalidArgument>(where.at(line_of(block, tags[3])), "the cell angles ", v[3], ", ", v[4], ", ", v[5],
                                 " do not form a cell");
  }
  return p;
}

SymmetryOperations to_operations(const std::vector<gemmi::Op>& gemmi_ops) {
  SymmetryOperations ops;
  for (const auto& op : gemmi_ops) {
    std::array<std::array<int, 3>, 3> w{};
    Vec3 t{};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) w[r][c] = op.rot[r][c] / gemmi::Op::DEN;
      t[r] = static_cast<double>(op.tran[r]) / gemmi::Op::DEN;
    }
    ops.rotations.push_back(w);
    ops.translations.push_back(t);
  }
  return ops;
}

std::vector<gemmi::Op> all_operations(const gemmi::GroupOps& group) {
  std::vector<gemmi::Op> out;
  for (const auto op : group) out.push_back(op);
  return out;
}

struct OperatorLoop {
  std::vector<gemmi::Op> ops;
  std::string tag;
};

// The operators of the symop loop, when the CIF has one; a triplet gemmi cannot read is an error naming the loop.
std::optional<OperatorLoop> operator_loop(cif::Block& block, const Where& where) {
  for (const char* tag : {"_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz"}) {
    cif::Column column = block.find_values(tag);
    if (!column || column.length() == 0) continue;
    OperatorLoop loop{{}, tag};
    for (int i = 0; i < column.length(); ++i) {
      const std::string triplet = column.str(i);
      try {
        loop.ops.push_back(gemmi::parse_triplet(triplet));
      } catch (const std::exception& e) {
        throw_error<InvalidArgument>(where.at(column.item()->line_number), tag, ": operator ", i + 1, " '", triplet,
                                     "' is not a symmetry operation (", e.what(), ")");
      }
    }
    return loop;
  }
  return std::nullopt;
}

struct CifSymmetry {
  SymmetryOperations ops;
  std::string source;  // for messages and the summary
  std::string symbol;  // the CIF's symbol, "" when it gives none
  int number = 0;      // the number it states or implies, 0 when unknown
  int symbol_line = 0;
};

// Operators from the symop loop, else the Hall symbol, else the H-M symbol, else the IT number. The group number
// the CIF claims comes from the most explicit of IT number, H-M or Hall symbol, or the operators themselves.
CifSymmetry read_symmetry(cif::Block& block, const LatticeParameters& cell, const Where& where) {
  CifSymmetry s;
  const TagValue hall = first_value(block, {"_space_group_name_Hall", "_symmetry_space_group_name_Hall"});
  const TagValue hm = first_value(block, {"_space_group_name_H-M_alt", "_symmetry_space_group_name_H-M"});
  const TagValue it = first_value(block, {"_space_group_IT_number", "_symmetry_Int_Tables_number"});
  if (!it.value.empty()) {
    const double n = number(it.value, it.tag, it.line, where);
    CBEDNET_REQUIRE(n >= 1 && n <= 230 && n == std::floor(n), InvalidArgument, where.at(it.line), it.tag,
                    ": space group number must be 1..230, got '", it.value, "'");
    s.number = static_cast<int>(n);
  }
  const gemmi::SpaceGroup* hm_group = nullptr;
  if (!hm.value.empty()) {
    hm_group = gemmi::find_spacegroup_by_name(hm.value, cell.alpha, cell.gamma);
    s.symbol = hm.value;
    s.symbol_line = hm.line;
  }
  if (auto loop = operator_loop(block, where)) {
    s.ops = to_operations(loop->ops);
    s.source = std::to_string(loop->ops.size()) + " operators of " + loop->tag;
    if (s.number == 0 && hm_group == nullptr) {
      try {
        const gemmi::SpaceGroup* g = gemmi::find_spacegroup_by_ops(gemmi::split_centering_vectors(loop->ops));
        if (g != nullptr) s.number = g->number;
      } catch (const std::exception&) {
        // Operators that do not form a group are still applied as listed; spglib labels the result.
      }
    }
  }
  if (s.ops.size() == 0 && !hall.value.empty()) {
    try {
      const auto group = gemmi::symops_from_hall(hall.value.c_str());
      s.ops = to_operations(all_operations(group));
      if (const auto* g = gemmi::find_spacegroup_by_ops(group); g != nullptr && s.number == 0 && hm_group == nullptr)
        s.number = g->number;
    } catch (const std::exception& e) {
      throw_error<InvalidArgument>(where.at(hall.line), hall.tag, ": '", hall.value, "' is not a Hall symbol (",
                                   e.what(), ")");
    }
    s.source = "Hall symbol '" + hall.value + "'";
    if (s.symbol.empty()) {
      s.symbol = hall.value;
      s.symbol_line = hall.line;
    }
  }
  if (s.ops.size() == 0 && !hm.value.empty() && (hm_group != nullptr || s.number == 0)) {
    CBEDNET_REQUIRE(hm_group != nullptr, InvalidArgument, where.at(hm.line), hm.tag, ": unknown space-group symbol '",
                    hm.value, "'");
    s.ops = to_operations(all_operations(hm_group->operations()));
    s.source = "H-M symbol '" + hm.value + "'";
  }
  if (s.ops.size() == 0 && s.number != 0) {
    const gemmi::SpaceGroup* g = gemmi::find_spacegroup_by_number(s.number);
    CBEDNET_REQUIRE(g != nullptr, InvalidArgument, where.at(it.line), it.tag, ": no setting for group ", s.number);
    s.ops = to_operations(all_operations(g->operations()));
    s.source = "space group number " + std::to_string(s.number) + " (standard setting)";
  }
  if (hm_group != nullptr && s.number == 0) s.number = hm_group->number;
  CBEDNET_REQUIRE(s.ops.size() > 0, InvalidArgument, where.at(0),
                  "no symmetry: the CIF has no _space_group_symop_operation_xyz or _symmetry_equiv_pos_as_xyz loop, "
                  "no Hall or H-M symbol and no space-group number; if its atoms are the whole cell, add "
                  "_symmetry_space_group_name_H-M 'P 1'");
  return s;
}

// The element of a type symbol or label: "Fe3+" -> Fe, "O2-" -> O, "Si1" -> Si, "OW1" -> O (two letters first,
// then one). Throws InvalidArgument naming the text.
int element_of(const std::string& text) {
  std::string letters;
  for (const char ch : text) {
    if (std::isalpha(static_cast<unsigned char>(ch)) == 0 || letters.size() == 2) break;
    letters += static_cast<char>(letters.empty() ? std::toupper(static_cast<unsigned char>(ch))
                                                 : std::tolower(static_cast<unsigned char>(ch)));
  }
  if (letters == "D" || letters == "T") return 1;  // deuterium and tritium scatter as hydrogen
  for (std::size_t n = letters.size(); n >= 1; --n) {
    try {
      return atomic_number(letters.substr(0, n));
    } catch (const InvalidArgument&) {
      // try the shorter symbol
    }
  }
  throw_error<InvalidArgument>("unknown element '", text, "'");
}

// U_eq = (U11 + U22 + U33) / 3 of each label in the _atom_site_aniso_ loop (the isotropic equivalent; exact for
// orthogonal axes).
std::map<std::string, double> aniso_u_equivalent(cif::Block& block) {
  std::map<std::string, double> out;
  for (auto row : block.find("_atom_site_aniso_", {"label", "U_11", "U_22", "U_33"})) {
    const double u = (cif::as_number(row[1]) + cif::as_number(row[2]) + cif::as_number(row[3])) / 3.0;
    if (std::isfinite(u)) out[row.str(0)] = u;
  }
  return out;
}

// The line of each row of a loop that starts at `loop_line`, for messages: the k-th later line whose first token is
// the row's first value, where k counts the earlier rows with that value (one row per line, as CIF writers put
// them). Rows not found that way get the loop's line.
std::vector<int> row_lines(const std::string& text, const cif::Item* loop_item) {
  if (loop_item == nullptr || loop_item->type != cif::ItemType::Loop) return {};
  const auto& loop = loop_item->loop;
  const std::size_t width = loop.tags.size(), rows = loop.length();
  std::vector<std::string> first_tokens;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string word;
    words >> word;
    first_tokens.push_back(word);
  }
  std::vector<int> out(rows, loop_item->line_number);
  std::size_t next = static_cast<std::size_t>(std::max(loop_item->line_number, 1));  // 0-based index after loop_
  for (std::size_t r = 0; r < rows; ++r) {
    const std::string& value = loop.values[r * width];
    for (std::size_t l = next; l < first_tokens.size(); ++l)
      if (first_tokens[l] == value) {
        out[r] = static_cast<int>(l) + 1;
        next = l + 1;
        break;
      }
  }
  return out;
}

std::vector<StructureSite> read_sites(cif::Block& block, const std::string& text, const CifReadOptions& options,
                                      const Where& where, int& without_adp) {
  enum { x, y, z, label, type, occupancy, u_iso, b_iso };
  cif::Table table = block.find("_atom_site_", {"fract_x", "fract_y", "fract_z", "?label", "?type_symbol", "?occupancy",
                                                "?U_iso_or_equiv", "?B_iso_or_equiv"});
  const int loop_line = line_of(block, "_atom_site_fract_x");
  CBEDNET_REQUIRE(table.ok() && table.length() > 0, InvalidArgument, where.at(loop_line),
                  "no atoms: the CIF needs an _atom_site_ loop with _atom_site_fract_x, _y and _z");
  const std::vector<int> lines = row_lines(text, table.loop_item);
  const auto aniso = aniso_u_equivalent(block);
  constexpr double pi = 3.14159265358979323846;  // not std::numbers: this file also builds as C++17 (CMakeLists)
  constexpr double u_to_b = 8.0 * pi * pi;
  std::vector<StructureSite> sites;
  int index = 0;
  for (auto row : table) {
    const int line =
        static_cast<std::size_t>(index) < lines.size() ? lines[static_cast<std::size_t>(index)] : loop_line;
    ++index;
    StructureSite site;
    site.line = line;
    site.label = row.has2(label) ? row.str(label) : "#" + std::to_string(index);
    const std::string row_at = "_atom_site_ row " + std::to_string(index) + " ('" + site.label + "')";
    const std::string symbol = row.has2(type) ? row.str(type) : site.label;
    try {
      site.z = element_of(symbol);
    } catch (const InvalidArgument& e) {
      throw_error<InvalidArgument>(where.at(line), row_at, ": ", e.what());
    }
    for (int i = 0; i < 3; ++i) {
      CBEDNET_REQUIRE(row.has2(x + i), InvalidArgument, where.at(line), row_at, ": fractional coordinate missing");
      site.frac[static_cast<std::size_t>(i)] = number(row[x + i], row_at, line, where);
    }
    if (row.has2(occupancy)) site.occupancy = number(row[occupancy], row_at + " occupancy", line, where);
    CBEDNET_REQUIRE(site.occupancy > 0 && site.occupancy <= 1 + 1e-3, InvalidArgument, where.at(line), row_at,
                    ": occupancy must be in (0, 1], got ", site.occupancy);
    site.occupancy = std::min(site.occupancy, 1.0);
    if (row.has2(u_iso)) {
      site.b_iso = u_to_b * number(row[u_iso], row_at + " U_iso", line, where);
    } else if (row.has2(b_iso)) {
      site.b_iso = number(row[b_iso], row_at + " B_iso", line, where);
    } else if (const auto it = aniso.find(site.label); it != aniso.end()) {
      site.b_iso = u_to_b * it->second;
    } else {
      site.b_iso = options.default_b_iso;
      ++without_adp;
    }
    CBEDNET_REQUIRE(site.b_iso >= 0 && site.b_iso < 50, InvalidArgument, where.at(line), row_at,
                    ": displacement parameter B = ", site.b_iso, " A^2 is not physical (0 <= B < 50)");
    sites.push_back(site);
  }
  return sites;
}

// The one data block with atoms.
cif::Block& structure_block(cif::Document& doc, const Where& where) {
  std::vector<cif::Block*> with_atoms;
  for (auto& block : doc.blocks)
    if (block.find_values("_atom_site_fract_x")) with_atoms.push_back(&block);
  CBEDNET_REQUIRE(!with_atoms.empty(), InvalidArgument, where.at(0),
                  "no atoms: no data block has an _atom_site_ loop with _atom_site_fract_x, _y and _z");
  CBEDNET_REQUIRE(with_atoms.size() == 1, InvalidArgument, where.at(0), with_atoms.size(),
                  " data blocks have atoms; give one structure per file");
  return *with_atoms.front();
}
}  // namespace

namespace {
CifStructure parse_checked(const std::string& text, const std::string& source, const CifReadOptions& options) {
  const Where where{source};
  cif::Document doc;
  try {
    doc = cif::read_memory(text.data(), text.size(), source.c_str());
  } catch (const std::exception& e) {
    // gemmi's message starts with "source:line:column".
    throw_error<InvalidArgument>("malformed CIF: ", e.what());
  }
  cif::Block& block = structure_block(doc, where);
  CifStructure out;
  out.source = source;
  out.block = block.name;
  const LatticeParameters cell = read_cell(block, where);
  const CifSymmetry symmetry = read_symmetry(block, cell, where);
  out.symmetry_source = symmetry.source;
  out.cif_symbol = symmetry.symbol;
  out.cif_space_group = symmetry.number;
  const auto sites = read_sites(block, text, options, where, out.sites_without_adp);
  out.sites = static_cast<int>(sites.size());
  for (const auto& s : sites) out.partial_occupancy = out.partial_occupancy || s.occupancy < 1;

  out.crystal = expand_sites(cell, symmetry.ops, sites, options.merge_distance);
  const auto problem = physical_problem(out.crystal, sites, options.min_distance, options.merge_distance);
  CBEDNET_REQUIRE(problem.text.empty(), InvalidArgument,
                  where.at(problem.site >= 0 ? sites[static_cast<std::size_t>(problem.site)].line : 0), problem.text,
                  " (symmetry from ", symmetry.source, ")");

  const SpglibLabel label = label_with_spglib(out.crystal, options.symprec, options.merge_distance);
  CBEDNET_REQUIRE(label.number > 0, InvalidArgument, where.at(0), "spglib finds no space group for the ",
                  out.crystal.atoms.size(), " atoms of the expanded cell (", label.error, ")");
  out.crystal.space_group = label.number;
  out.crystal.hall_number = label.hall_number;
  out.spglib_symbol = label.symbol;
  // A CIF written in P1 (the default of many writers, e.g. Materials Project's unsymmetrised files) asserts no
  // symmetry, so finding more is no disagreement.
  if (symmetry.number > 1 && symmetry.number != label.number) {
    std::ostringstream w;
    w << where.at(symmetry.symbol_line) << "the CIF states space group "
      << (symmetry.symbol.empty() ? "" : "'" + symmetry.symbol + "' ") << "(No. " << symmetry.number
      << ") but spglib finds " << label.symbol << " (No. " << label.number << ") on its " << out.crystal.atoms.size()
      << " atoms at symprec " << options.symprec << " A; labelled " << label.number;
    out.warnings.push_back(w.str());
  }
  return out;
}
}  // namespace

CifStructure parse_cif_structure(const std::string& text, const std::string& source, const CifReadOptions& options) {
  try {
    return parse_checked(text, source, options);
  } catch (const InvalidArgument&) {
    throw;
  } catch (const std::exception& e) {
    // Anything else gemmi or spglib reports about this text is still a refusal of this file, never a crash.
    throw_error<InvalidArgument>(source, ": ", e.what());
  }
}

CifStructure read_cif_structure(const std::string& path, const CifReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  CBEDNET_REQUIRE(in.good(), InvalidArgument, path, ": cannot read the CIF file");
  std::ostringstream text;
  text << in.rdbuf();
  CBEDNET_REQUIRE(!in.bad(), InvalidArgument, path, ": read error");
  return parse_cif_structure(text.str(), path, options);
}

std::vector<std::string> list_cif_files(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  CBEDNET_REQUIRE(fs::exists(path, ec), InvalidArgument, "--structures: '", path, "' does not exist");
  if (!fs::is_directory(path, ec)) return {path};
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (ext == ".cif" && !entry.is_directory()) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  CBEDNET_REQUIRE(!files.empty(), InvalidArgument, "--structures: no *.cif file in '", path, "'");
  return files;
}

}  // namespace cbednet::io::sim
