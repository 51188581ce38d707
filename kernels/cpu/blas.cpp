#include "kernels/cpu/blas.hpp"

#include <omp.h>

namespace cbednet::blas {

#if defined(CBEDNET_BLAS_IS_OPENBLAS)
int threads() { return openblas_get_num_threads(); }
void set_threads(int threads) { openblas_set_num_threads(threads); }
std::string core_name() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}
#else
int threads() { return omp_get_max_threads(); }
void set_threads(int threads) { omp_set_num_threads(threads); }
std::string core_name() { return "not OpenBLAS"; }
#endif

}  // namespace cbednet::blas
