// The fused field on the CPU: field_kernel.inc compiled for AVX-512, AVX2 and plain vectors,
// chosen at run time by what the CPU supports, and run in parallel over tiles of points.
#include "field_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HFCLI_X86_VARIANTS 1
#include <immintrin.h>
#endif

#ifdef HFCLI_X86_VARIANTS
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
namespace hfcli_field::avx512 {
#define HF_LANES 16
#define HF_FMA(a, b, c) ((vf)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define HF_FMA_HALF(a, b, c) ((vh)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define HF_SPLAT(x) ((vf)_mm512_set1_ps(x))
#include "field_kernel.inc"
#undef HF_LANES
#undef HF_FMA
#undef HF_FMA_HALF
#undef HF_SPLAT
}  // namespace hfcli_field::avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace hfcli_field::avx2 {
#define HF_LANES 8
#define HF_FMA(a, b, c) ((vf)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define HF_FMA_HALF(a, b, c) ((vh)_mm_fmadd_ps((__m128)(a), (__m128)(b), (__m128)(c)))
#define HF_SPLAT(x) ((vf)_mm256_set1_ps(x))
#include "field_kernel.inc"
#undef HF_LANES
#undef HF_FMA
#undef HF_FMA_HALF
#undef HF_SPLAT
}  // namespace hfcli_field::avx2
#pragma GCC pop_options
#endif

namespace hfcli_field::generic {
#define HF_LANES 4
#define HF_FMA(a, b, c) ((a) * (b) + (c))
#define HF_FMA_HALF(a, b, c) ((a) * (b) + (c))
#define HF_SPLAT(x) (vf{x, x, x, x})
#include "field_kernel.inc"
#undef HF_LANES
#undef HF_FMA
#undef HF_FMA_HALF
#undef HF_SPLAT
}  // namespace hfcli_field::generic

namespace hfcli_field {
namespace {

using ForwardFn = void (*)(const Net&, const Encoding&, const float*, int64_t, int64_t, float*, float* const*, float*);
using BackwardFn = void (*)(const Net&, const Encoding&, const float*, const float*, const float* const*, int64_t,
                            int64_t, float* const*, float* const*, float*, float*, float*);

struct Kernels {
  ForwardFn forward;
  BackwardFn backward;
};

Kernels kernels_for(const std::string& isa) {
  const auto isas = field_isas();
  const std::string name = isa.empty() ? isas.front() : isa;
  TORCH_CHECK(std::find(isas.begin(), isas.end(), name) != isas.end(), "instruction set ", name,
              " is not available here");
#ifdef HFCLI_X86_VARIANTS
  if (name == "avx512") return {avx512::forward_range, avx512::backward_range};
  if (name == "avx2") return {avx2::forward_range, avx2::backward_range};
#endif
  return {generic::forward_range, generic::backward_range};
}

int padded(int64_t n) { return static_cast<int>((n + kPad - 1) / kPad * kPad); }

// The MLP's weights packed as Net reads them; `storage` keeps the buffers alive.
// The forward reads the transposed weights and biases; the backward (biases null) the others.
Net pack(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>* biases,
         std::vector<torch::Tensor>& storage) {
  Net net{};
  net.n_layers = static_cast<int>(weights.size());
  TORCH_CHECK(net.n_layers >= 1 && net.n_layers <= kMaxLayers, "the MLP needs 1 to ", kMaxLayers, " layers");
  net.dims[0] = static_cast<int>(weights[0].size(1));
  for (int l = 0; l < net.n_layers; ++l) {
    const auto& w = weights[l];
    TORCH_CHECK(w.dim() == 2 && w.size(1) == net.dims[l], "layer ", l, " has the wrong input width");
    TORCH_CHECK(w.scalar_type() == torch::kFloat32 && !w.is_cuda(), "weights must be float32 on the CPU");
    net.dims[l + 1] = static_cast<int>(w.size(0));
  }
  net.max_pad = 0;
  for (int l = 0; l <= net.n_layers; ++l) {
    net.pads[l] = padded(net.dims[l]);
    net.max_pad = std::max(net.max_pad, net.pads[l]);
  }
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  for (int l = 0; l < net.n_layers; ++l) {
    const auto w = weights[l].detach();
    const int out = net.dims[l + 1], in = net.dims[l];
    if (biases) {
      const auto& bl = (*biases)[l];
      TORCH_CHECK(bl.numel() == out && bl.scalar_type() == torch::kFloat32, "layer ", l, " has the wrong bias");
      auto wt = torch::zeros({in, net.pads[l + 1]}, opts);
      wt.narrow(1, 0, out).copy_(w.t());
      auto b = torch::zeros({net.pads[l + 1]}, opts);
      b.narrow(0, 0, out).copy_(bl.detach().reshape({out}));
      net.wt[l] = wt.data_ptr<float>();
      net.b[l] = b.data_ptr<float>();
      storage.insert(storage.end(), {wt, b});
    } else {
      auto wp = torch::zeros({out, net.pads[l]}, opts);
      wp.narrow(1, 0, in).copy_(w);
      net.w[l] = wp.data_ptr<float>();
      storage.push_back(wp);
    }
  }
  return net;
}

Encoding make_encoding(const torch::Tensor& points, const torch::Tensor& planes, const torch::Tensor& grid,
                       const std::vector<double>& aabb, const Net& net) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3 && points.scalar_type() == torch::kFloat32 &&
                  points.is_contiguous() && !points.is_cuda(),
              "points must be float32 [N, 3], contiguous, on the CPU");
  TORCH_CHECK(!planes.is_cuda() && !grid.is_cuda(), "planes and grid must be on the CPU");
  TORCH_CHECK(planes.dim() == 4 && planes.size(0) == 3 && planes.size(1) == planes.size(2) && planes.is_contiguous() &&
                  planes.scalar_type() == torch::kFloat32,
              "planes must be float32 [3, R, R, C], contiguous");
  TORCH_CHECK(grid.dim() == 4 && grid.size(0) == grid.size(1) && grid.size(1) == grid.size(2) && grid.is_contiguous() &&
                  grid.scalar_type() == torch::kFloat32,
              "grid must be float32 [G, G, G, C3], contiguous");
  check_box(aabb);
  Encoding enc;
  enc.shape = hfrm::make_encoding_shape<float>(static_cast<int>(planes.size(3)), static_cast<int>(planes.size(1)),
                                               static_cast<int>(grid.size(3)), static_cast<int>(grid.size(0)),
                                               aabb.data());
  TORCH_CHECK(planes.numel() < INT32_MAX && grid.numel() < INT32_MAX, "planes and grid must have < 2^31 values");
  TORCH_CHECK(net.dims[0] == 3 * enc.shape.plane_channels + enc.shape.grid_channels,
              "the first layer's width must match the encoding's features");
  enc.planes = planes.data_ptr<float>();
  enc.grid = grid.data_ptr<float>();
  return enc;
}

// The kernels' large buffers (saved activations, per-thread gradient sums) come back on every
// training step at the same sizes. Freed ones are kept here and handed out again: a fresh
// allocation of that size is a fresh mmap, whose page faults cost more than the kernels that
// fill it (measured: saving 25k points' activations took 7.0 ms instead of 3.0).
class BufferPool {
 public:
  torch::Tensor empty(at::IntArrayRef sizes, bool zero) {
    int64_t numel = 1;
    for (auto n : sizes) numel *= n;
    const size_t used = static_cast<size_t>(numel) * sizeof(float), bytes = size_class(std::max<size_t>(used, 64));
    void* ptr = take(bytes);
    if (zero) std::memset(ptr, 0, used);
    return torch::from_blob(ptr, sizes, [this, bytes](void* p) { give(p, bytes); },
                            torch::TensorOptions().dtype(torch::kFloat32));
  }

 private:
  static constexpr size_t kKeepBytes = size_t(512) << 20;  // at most this much stays cached
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // by size
  size_t cached_ = 0;

  // Sizes rounded up to one of 8 steps per power of two, so that buffers for a few more or
  // fewer points than last time are the same class (at most 1/8 wasted).
  static size_t size_class(size_t bytes) {
    size_t top = 64;
    while (top < bytes) top *= 2;
    const size_t step = std::max<size_t>(64, top / 16);
    return (bytes + step - 1) / step * step;
  }

  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end()) {
        void* p = it->second;
        cached_ -= it->first;
        free_.erase(it);
        return p;
      }
    }
    void* p = std::aligned_alloc(64, bytes);
    TORCH_CHECK(p, "out of memory (", bytes, " bytes)");
    return p;
  }

  void give(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > kKeepBytes) {
      std::free(p);
      return;
    }
    free_.emplace(bytes, p);
    cached_ += bytes;
  }
};

BufferPool& pool() {
  static BufferPool* instance = new BufferPool();  // never destroyed: tensors may outlive statics
  return *instance;
}

// Tiles per parallel task: enough work to amortise a task, small enough to balance two cores.
constexpr int64_t kGrainTiles = 8;

}  // namespace

std::vector<std::string> field_isas() {
  std::vector<std::string> out;
#ifdef HFCLI_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    out.push_back("avx512");
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back("avx2");
#endif
  out.push_back("generic");
  return out;
}

std::vector<torch::Tensor> field_forward(torch::Tensor points, torch::Tensor planes, torch::Tensor grid,
                                         std::vector<double> aabb, std::vector<torch::Tensor> weights,
                                         std::vector<torch::Tensor> biases, bool save, std::string isa) {
  const Kernels k = kernels_for(isa);
  std::vector<torch::Tensor> storage;
  TORCH_CHECK(biases.size() == weights.size(), "one bias per layer");
  const Net net = pack(weights, &biases, storage);
  const Encoding enc = make_encoding(points, planes, grid, aabb, net);
  const int64_t n = points.size(0);
  auto raw = torch::empty({n, net.dims[net.n_layers]}, points.options());
  std::vector<torch::Tensor> out{raw};
  std::vector<float*> saved;
  if (save) {
    for (int l = 0; l < net.n_layers; ++l) {
      out.push_back(pool().empty({n, net.pads[l]}, false));
      saved.push_back(out.back().data_ptr<float>());
    }
  }
  const float* p = points.data_ptr<float>();
  float* r = raw.data_ptr<float>();
  const int64_t tiles = (n + kTile - 1) / kTile;
  at::parallel_for(0, tiles, kGrainTiles, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(2 * kTile * net.max_pad);
    k.forward(net, enc, p, begin * kTile, std::min(end * kTile, n), r, save ? saved.data() : nullptr, scratch.data());
  });
  return out;
}

std::vector<torch::Tensor> field_backward(torch::Tensor points, torch::Tensor planes, torch::Tensor grid,
                                          std::vector<double> aabb, std::vector<torch::Tensor> weights,
                                          std::vector<torch::Tensor> saved, torch::Tensor d_raw, bool encoding_grad,
                                          std::string isa) {
  const Kernels k = kernels_for(isa);
  std::vector<torch::Tensor> storage;
  const Net net = pack(weights, nullptr, storage);
  const Encoding enc = make_encoding(points, planes, grid, aabb, net);
  const int64_t n = points.size(0);
  d_raw = d_raw.contiguous().to(torch::kFloat32);
  TORCH_CHECK(d_raw.dim() == 2 && d_raw.size(0) == n && d_raw.size(1) == net.dims[net.n_layers], "d_raw: [N, out]");
  TORCH_CHECK(static_cast<int>(saved.size()) == net.n_layers, "one saved activation per layer");
  std::vector<const float*> saved_ptrs;
  for (int l = 0; l < net.n_layers; ++l) {
    TORCH_CHECK(saved[l].is_contiguous() && saved[l].scalar_type() == torch::kFloat32 && !saved[l].is_cuda() &&
                    saved[l].dim() == 2 && saved[l].size(0) == n && saved[l].size(1) == net.pads[l],
                "saved activations do not match the MLP");
    saved_ptrs.push_back(saved[l].data_ptr<float>());
  }
  // Each thread adds into its own buffers, summed at the end: no atomics, and the same result
  // for a given thread count.
  const int threads = std::max(1, at::get_num_threads());
  std::vector<std::vector<torch::Tensor>> dwt(threads), db(threads);
  std::vector<torch::Tensor> d_planes(threads), d_grid(threads);
  std::vector<char> used(threads, 0);
  const float* p = points.data_ptr<float>();
  const float* g = d_raw.data_ptr<float>();
  const int64_t tiles = (n + kTile - 1) / kTile;
  at::parallel_for(0, tiles, kGrainTiles, [&](int64_t begin, int64_t end) {
    const int t = at::get_thread_num();
    if (!used[t]) {  // zeroed by the thread that fills them, in parallel
      used[t] = 1;
      for (int l = 0; l < net.n_layers; ++l) {
        dwt[t].push_back(pool().empty({net.dims[l], net.pads[l + 1]}, true));
        db[t].push_back(pool().empty({net.pads[l + 1]}, true));
      }
      if (encoding_grad) {
        d_planes[t] = pool().empty(planes.sizes(), true);
        d_grid[t] = pool().empty(grid.sizes(), true);
      }
    }
    std::vector<float*> dwt_ptrs, db_ptrs;
    for (int l = 0; l < net.n_layers; ++l) {
      dwt_ptrs.push_back(dwt[t][l].data_ptr<float>());
      db_ptrs.push_back(db[t][l].data_ptr<float>());
    }
    std::vector<float> scratch(backward_scratch(net));
    k.backward(net, enc, p, g, saved_ptrs.data(), begin * kTile, std::min(end * kTile, n), dwt_ptrs.data(),
               db_ptrs.data(), encoding_grad ? d_planes[t].data_ptr<float>() : nullptr,
               encoding_grad ? d_grid[t].data_ptr<float>() : nullptr, scratch.data());
  });
  // Sum the threads' buffers into the first one used (or zeros: no points).
  int first = 0;
  while (first < threads && !used[first]) ++first;
  if (first == threads) {
    first = 0;
    for (int l = 0; l < net.n_layers; ++l) {
      dwt[0].push_back(torch::zeros({net.dims[l], net.pads[l + 1]}));
      db[0].push_back(torch::zeros({net.pads[l + 1]}));
    }
    d_planes[0] = torch::zeros_like(planes);
    d_grid[0] = torch::zeros_like(grid);
  }
  for (int t = first + 1; t < threads; ++t) {
    if (!used[t]) continue;
    for (int l = 0; l < net.n_layers; ++l) {
      dwt[first][l].add_(dwt[t][l]);
      db[first][l].add_(db[t][l]);
    }
    if (encoding_grad) {
      d_planes[first].add_(d_planes[t]);
      d_grid[first].add_(d_grid[t]);
    }
  }
  std::vector<torch::Tensor> out;
  out.push_back(encoding_grad ? d_planes[first] : torch::Tensor());
  out.push_back(encoding_grad ? d_grid[first] : torch::Tensor());
  for (int l = 0; l < net.n_layers; ++l) out.push_back(dwt[first][l].narrow(1, 0, net.dims[l + 1]).t().contiguous());
  for (int l = 0; l < net.n_layers; ++l) out.push_back(db[first][l].narrow(0, 0, net.dims[l + 1]).clone());
  return out;
}

}  // namespace hfcli_field
