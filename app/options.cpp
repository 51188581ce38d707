#include "app/options.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/mpi_session.hpp"
#include "core/error.hpp"

namespace cbednet::app {

namespace {

// Boost.Program_options reads "-1" into an unsigned option as 2^64 - 1 without a word (lexical_cast wraps): a
// negative value for an unsigned option (--seed) is refused here, naming the option and where it was given.
void refuse_negative_unsigned(const po::parsed_options& parsed, const po::options_description& all,
                              const std::string& where) {
  for (const auto& option : parsed.options) {
    const auto* description = all.find_nothrow(option.string_key, false);
    if (description == nullptr) continue;
    const auto* semantic = description->semantic().get();
    const bool is_unsigned = dynamic_cast<const po::typed_value<unsigned long>*>(semantic) != nullptr ||
                             dynamic_cast<const po::typed_value<unsigned long long>*>(semantic) != nullptr ||
                             dynamic_cast<const po::typed_value<unsigned int>*>(semantic) != nullptr;
    if (!is_unsigned) continue;
    for (const auto& value : option.value) {
      const auto first = value.find_first_not_of(" \t");
      if (first != std::string::npos && value[first] == '-')
        throw_error<InvalidArgument>(where, "--", option.string_key, ": must not be negative, got '", value, "'");
    }
  }
}

}  // namespace

std::optional<po::variables_map> parse_options(const CommandSpec& spec, const po::options_description& options,
                                               const std::vector<std::string>& args,
                                               const po::positional_options_description* positional) {
  po::options_description common("Common options");
  // clang-format off
  common.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::string>(), "read options from an INI file (command-line flags win)")(
      "quiet", po::bool_switch(), "no progress output (a bar on a terminal, periodic lines in batch logs)");
  // clang-format on
  po::options_description all;
  all.add(options).add(common);

  // Boost.Program_options 1.74 formats its error messages by replacing %placeholders% with the user's text, and
  // loops forever when that text holds a placeholder itself (found by fuzzing): no '%' is accepted anywhere.
  for (const auto& arg : args)
    if (arg.find('%') != std::string::npos)
      throw_error<InvalidArgument>("cbednet ", spec.name, ": '", arg, "': '%' is not allowed in options or values");

  po::variables_map vm;
  try {
    po::command_line_parser parser(args);
    parser.options(all);
    if (positional != nullptr) parser.positional(*positional);
    const po::parsed_options given = parser.run();
    refuse_negative_unsigned(given, all, "");
    po::store(given, vm);
    if (vm.count("help") != 0U) {
      if (world_rank() == 0) std::cout << "Usage: " << spec.usage << "\n\n" << spec.summary << "\n\n" << all << '\n';
      return std::nullopt;
    }
    if (vm.count("config") != 0U) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) throw_error<InvalidArgument>("--config: cannot read configuration file '", path, "'");
      std::stringstream text;
      text << file.rdbuf();
      const std::string content = text.str();
      if (const auto at = content.find('%'); at != std::string::npos)
        throw_error<InvalidArgument>(
            "--config ", path, ": line ",
            1 + std::count(content.begin(), content.begin() + static_cast<std::ptrdiff_t>(at), '\n'),
            ": '%' is not allowed in options or values");
      // Values already stored from the command line take precedence over the file's.
      std::istringstream in(content);
      const po::parsed_options from_file = po::parse_config_file(in, all, /*allow_unregistered=*/false);
      refuse_negative_unsigned(from_file, all, "--config " + path + ": ");
      po::store(from_file, vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw_error<InvalidArgument>("cbednet ", spec.name, ": ", e.what(), " (see cbednet ", spec.name, " --help)");
  }
  return vm;
}

namespace {
std::string value_text(const boost::any& value) {
  std::ostringstream out;
  if (const auto* s = boost::any_cast<std::string>(&value)) {
    out << *s;
  } else if (const auto* i = boost::any_cast<int>(&value)) {
    out << *i;
  } else if (const auto* l = boost::any_cast<long>(&value)) {
    out << *l;
  } else if (const auto* u = boost::any_cast<unsigned long>(&value)) {
    out << *u;
  } else if (const auto* ll = boost::any_cast<long long>(&value)) {
    out << *ll;
  } else if (const auto* d = boost::any_cast<double>(&value)) {
    out.precision(17);
    out << *d;
  } else if (const auto* b = boost::any_cast<bool>(&value)) {
    out << (*b ? "true" : "false");
  } else if (const auto* v = boost::any_cast<std::vector<std::string>>(&value)) {
    for (std::size_t i = 0; i < v->size(); ++i) out << (i ? "," : "") << (*v)[i];
  } else {
    out << "?";
  }
  return out.str();
}
}  // namespace

std::string to_ini(const po::variables_map& vm) {
  std::ostringstream out;
  for (const auto& [key, value] : vm) {
    if (key == "help" || key == "config" || value.empty()) continue;
    out << key << " = " << value_text(value.value()) << '\n';
  }
  return out.str();
}

void require_positive(const po::variables_map& vm, const std::string& name) {
  if (vm.count(name) == 0U) return;
  const auto& v = vm[name].value();
  double x = 1;
  if (const auto* i = boost::any_cast<int>(&v)) x = *i;
  if (const auto* l = boost::any_cast<long>(&v)) x = static_cast<double>(*l);
  if (const auto* d = boost::any_cast<double>(&v)) x = *d;
  if (!(x > 0)) throw_error<InvalidArgument>("--", name, ": must be positive, got ", value_text(v));
}

}  // namespace cbednet::app
