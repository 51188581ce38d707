// The cuFFT multislice engine: the CPU engine's algorithm (cpu_engine.cpp) with all probe positions of a pattern
// as one batch: batched 2-D cuFFT transforms and elementwise kernels (cuda_kernels.cu) on one stream. The slice
// potentials, probe positions and frozen-phonon draws come from the shared code, so the CPU and GPU patterns of a
// material differ by single-precision rounding only. UNVERIFIED: compiled, not yet run on a GPU.
#include <cuda_runtime_api.h>
#include <cufft.h>
#include <vector_functions.h>  // make_float2, make_double2 on the host

#include <cmath>
#include <complex>
#include <map>
#include <memory>
#include <numbers>
#include <vector>

#include "core/error.hpp"
#include "io/sim/multislice/beam.hpp"
#include "io/sim/multislice/cuda_kernels.hpp"
#include "io/sim/multislice/engine.hpp"
#include "io/sim/scattering.hpp"

namespace cbednet::io::sim::multislice {
namespace {

constexpr const char* op = "multislice cuda engine";

// Checked CUDA runtime call (this file stays off kernels/cuda's headers, which pull in cuDNN and cuBLAS).
#define CBEDNET_CUDA(context, call)                                                  \
  do {                                                                               \
    const cudaError_t cbednet_err_ = (call);                                         \
    CBEDNET_REQUIRE(cbednet_err_ == cudaSuccess, BackendError, context, ": ", #call, \
                    " failed: ", cudaGetErrorString(cbednet_err_));                  \
  } while (0)

#define CBEDNET_CUFFT(call)                                                                              \
  do {                                                                                                   \
    const cufftResult cbednet_fft_ = (call);                                                             \
    CBEDNET_REQUIRE(cbednet_fft_ == CUFFT_SUCCESS, BackendError, op, ": ", #call, " failed with cuFFT ", \
                    static_cast<int>(cbednet_fft_));                                                     \
  } while (0)

// Device array of T (not initialised), freed with its owner.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t n) : n_(n) {
    void* p = nullptr;
    CBEDNET_CUDA(op, cudaMalloc(&p, n * sizeof(T)));
    data_.reset(static_cast<T*>(p));
  }
  T* get() const { return data_.get(); }
  std::size_t size() const { return n_; }
  // Asynchronous on `stream`: `host` must live until the stream reaches the copy.
  void upload(const T* host, std::size_t n, cudaStream_t stream) {
    CBEDNET_CUDA(op, cudaMemcpyAsync(data_.get(), host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
  }

 private:
  struct Free {
    void operator()(T* p) const { cudaFree(p); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t n_ = 0;
};

class FftPlan {
 public:
  FftPlan(int nx, int ny, int batch, cudaStream_t stream) {
    int dims[2] = {ny, nx};
    CBEDNET_CUFFT(cufftPlanMany(&plan_, 2, dims, nullptr, 1, nx * ny, nullptr, 1, nx * ny, CUFFT_C2C, batch));
    CBEDNET_CUFFT(cufftSetStream(plan_, stream));
  }
  ~FftPlan() { cufftDestroy(plan_); }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  void run(float2* data, int direction) const {
    CBEDNET_CUFFT(
        cufftExecC2C(plan_, reinterpret_cast<cufftComplex*>(data), reinterpret_cast<cufftComplex*>(data), direction));
  }

 private:
  cufftHandle plan_ = 0;
};

class CudaEngine final : public MultisliceEngine {
 public:
  explicit CudaEngine(int device) {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0)
      throw_error<InvalidArgument>("--engine cuda: no CUDA device is visible on this machine; use --engine cpu");
    device_ = device % count;
    CBEDNET_CUDA(op, cudaSetDevice(device_));
    CBEDNET_CUDA(op, cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  ~CudaEngine() override {
    single_.reset();
    batched_.reset();
    cudaStreamDestroy(stream_);
  }
  std::string name() const override { return "cuda-cufft"; }

  void do_accumulate_pattern(const SliceStack& slices, const BeamSettings& beam,
                             const std::vector<std::array<double, 2>>& probes, double weight, float* out) override {
    const GridGeometry& g = slices.grid;
    CBEDNET_CUDA(op, cudaSetDevice(device_));
    const std::size_t n = static_cast<std::size_t>(g.nx) * static_cast<std::size_t>(g.ny);
    const std::size_t batch = probes.size();
    if (nx_ != g.nx || ny_ != g.ny || batch_ != batch) {
      single_ = std::make_unique<FftPlan>(g.nx, g.ny, 1, stream_);
      batched_ = std::make_unique<FftPlan>(g.nx, g.ny, static_cast<int>(batch), stream_);
      waves_ = DeviceArray<float2>(n * batch);
      transmission_ = DeviceArray<float2>(n);
      potential_ = DeviceArray<float>(n);
      band_ = DeviceArray<unsigned char>(n);
      probe_ = DeviceArray<float2>(n);
      intensity_ = DeviceArray<float>(n);
      positions_ = DeviceArray<double2>(batch);
      nx_ = g.nx;
      ny_ = g.ny;
      batch_ = batch;
    }
    const double inv_n = 1.0 / static_cast<double>(n);
    // Host side, in cuFFT's [ny, nx] k-space layout.
    const BeamArrays arrays = beam_arrays(g, beam, slices.thickness, [&](int i, int j) {
      return static_cast<std::size_t>(j) * static_cast<std::size_t>(g.nx) + static_cast<std::size_t>(i);
    });
    std::map<double, DeviceArray<float2>> propagators;
    for (const auto& [dz, host] : arrays.propagators)
      propagators.emplace(dz, DeviceArray<float2>(n))
          .first->second.upload(reinterpret_cast<const float2*>(host.data()), n, stream_);
    std::vector<double2> positions(batch);
    for (std::size_t b = 0; b < batch; ++b) positions[b] = make_double2(probes[b][0], probes[b][1]);
    band_.upload(arrays.band.data(), n, stream_);
    probe_.upload(reinterpret_cast<const float2*>(arrays.probe.data()), n, stream_);
    positions_.upload(positions.data(), batch, stream_);

    // Probe waves: k-space spectrum shifted to each position, then to real space with sum |psi|^2 = 1.
    const auto amplitude = static_cast<float>(arrays.probe_amplitude * inv_n);
    cuda::launch_probe_waves(waves_.get(), probe_.get(), positions_.get(), g.nx, g.ny, g.lx, g.ly, batch, amplitude,
                             stream_);
    batched_->run(waves_.get(), CUFFT_INVERSE);
    const std::size_t n_slices = slices.potentials.size();
    for (std::size_t s = 0; s < n_slices; ++s) {
      potential_.upload(slices.potentials[s].data(), n, stream_);
      cuda::launch_transmission(potential_.get(), static_cast<float>(arrays.sigma), transmission_.get(), n, stream_);
      single_->run(transmission_.get(), CUFFT_FORWARD);
      cuda::launch_scale_mask(transmission_.get(), band_.get(), static_cast<float>(inv_n), n, stream_);
      single_->run(transmission_.get(), CUFFT_INVERSE);
      cuda::launch_multiply_batched(waves_.get(), transmission_.get(), n, batch, stream_);
      batched_->run(waves_.get(), CUFFT_FORWARD);
      if (s + 1 == n_slices) {
        cuda::launch_mask_batched(waves_.get(), band_.get(), n, batch, stream_);
      } else {
        cuda::launch_multiply_batched(waves_.get(), propagators.at(slices.thickness[s]).get(), n, batch, stream_);
        batched_->run(waves_.get(), CUFFT_INVERSE);
      }
      CBEDNET_CUDA(op, cudaGetLastError());
    }
    cuda::launch_accumulate_intensity(waves_.get(), intensity_.get(), g.nx, g.ny, batch,
                                      static_cast<float>(1.0 / static_cast<double>(batch)), stream_);
    CBEDNET_CUDA(op, cudaGetLastError());
    std::vector<float> pattern(n);
    CBEDNET_CUDA(op,
                 cudaMemcpyAsync(pattern.data(), intensity_.get(), n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    CBEDNET_CUDA(op, cudaStreamSynchronize(stream_));
    const auto w = static_cast<float>(weight);
    for (std::size_t p = 0; p < n; ++p) out[p] += w * pattern[p];
  }

 private:
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  int nx_ = 0, ny_ = 0;
  std::size_t batch_ = 0;
  std::unique_ptr<FftPlan> single_, batched_;
  DeviceArray<float2> waves_, transmission_, probe_;
  DeviceArray<float> potential_, intensity_;
  DeviceArray<unsigned char> band_;
  DeviceArray<double2> positions_;
};

}  // namespace

std::unique_ptr<MultisliceEngine> make_cuda_engine(int device) { return std::make_unique<CudaEngine>(device); }

bool cuda_engine_built() { return true; }

}  // namespace cbednet::io::sim::multislice
