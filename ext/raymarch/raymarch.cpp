// The raymarcher's Python bindings (torch.utils.cpp_extension) and its C++ CPU implementation:
// the per-ray logic of raymarch.h, parallel over rays with at::parallel_for. Built with
// -DHFCLI_WITH_CUDA beside raymarch_cuda.cu, the same functions take CUDA tensors too.
// Conventions as in raymarch_torch.py: packed samples sorted by ray then t; rays [R, 3]
// float32; the occupancy grid as a packed bitfield.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "encoding.h"
#include "field_cpu.h"
#include "raymarch.h"
#ifdef HFCLI_WITH_CUDA
#include "raymarch_cuda.h"
#define ON_CUDA(tensor) (tensor).is_cuda()
#else
#define ON_CUDA(tensor) false
#endif

namespace {

using hfrm::Box;
using hfrm::Grid;
using hfrm::StepRule;

constexpr int64_t kGrain = 256;  // rays per parallel task
constexpr int64_t kMarchChunk = 512;  // rays per chunk of the march, taken by threads as they free up

// fn(chunk) for chunks [0, n), each thread taking the next chunk as it finishes one: for work
// whose cost varies from chunk to chunk. Results must not depend on which thread ran a chunk.
template <typename Fn>
void parallel_chunks(int64_t n, const Fn& fn) {
  std::atomic<int64_t> next{0};
  const int64_t workers = std::min<int64_t>(n, at::get_num_threads());
  at::parallel_for(0, workers, 1, [&](int64_t, int64_t) {
    for (int64_t c = next++; c < n; c = next++) fn(c);
  });
}

Box make_box(const std::vector<double>& aabb) {
  TORCH_CHECK(aabb.size() == 6, "aabb needs 6 numbers");
  Box box;
  for (int a = 0; a < 3; ++a) {
    box.lo[a] = static_cast<float>(aabb[a]);
    box.hi[a] = static_cast<float>(aabb[a + 3]);
  }
  return box;
}

Grid make_grid(const torch::Tensor& bits, int64_t res, const torch::Tensor& coarse, int64_t coarse_res) {
  TORCH_CHECK(coarse.numel() == 0 || (coarse_res > 0 && res % coarse_res == 0), "coarse_res must divide res");
  Grid grid;
  grid.bits = bits.numel() ? bits.data_ptr<uint8_t>() : nullptr;
  grid.res = static_cast<int>(res);
  grid.coarse = coarse.numel() ? coarse.data_ptr<uint8_t>() : nullptr;
  grid.coarse_res = static_cast<int>(coarse_res);
  return grid;
}

void check_rays(const torch::Tensor& o, const torch::Tensor& d) {
  TORCH_CHECK(o.dtype() == torch::kFloat32 && d.dtype() == torch::kFloat32, "rays must be float32");
  TORCH_CHECK(o.is_contiguous() && d.is_contiguous(), "rays must be contiguous");
  TORCH_CHECK(o.dim() == 2 && o.size(1) == 3 && d.sizes() == o.sizes(), "rays must be [R, 3]");
}

// t_near, t_far [R] of every ray.
std::vector<torch::Tensor> ray_bounds(torch::Tensor rays_o, torch::Tensor rays_d, std::vector<double> aabb) {
  check_rays(rays_o, rays_d);
  const Box box = make_box(aabb);
  const int64_t n = rays_o.size(0);
  auto t_near = torch::empty({n}, rays_o.options());
  auto t_far = torch::empty({n}, rays_o.options());
  const float* o = rays_o.data_ptr<float>();
  const float* d = rays_d.data_ptr<float>();
  float* tn = t_near.data_ptr<float>();
  float* tf = t_far.data_ptr<float>();
#ifdef HFCLI_WITH_CUDA
  if (ON_CUDA(rays_o)) {
    hfrm_cuda::ray_bounds(o, d, n, box, tn, tf);
    return {t_near, t_far};
  }
#endif
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) hfrm::ray_box(o + 3 * r, d + 3 * r, box, tn[r], tf[r]);
  });
  return {t_near, t_far};
}

// March every ray. Two passes over the rays, count then write, so the output is packed in ray
// order without locks and is the same on every run (the CUDA kernels walk each ray twice; the
// CPU loop keeps what its first walk finds, see below). Returns ray_indices [N] (int64), t_starts
// [N] and t_ends [N].
std::vector<torch::Tensor> march(torch::Tensor rays_o, torch::Tensor rays_d, torch::Tensor scene_ids,
                                 torch::Tensor jitter, torch::Tensor t_near, torch::Tensor t_far, torch::Tensor bits,
                                 int64_t res, torch::Tensor coarse, int64_t coarse_res, std::vector<double> aabb,
                                 double step, int64_t max_steps) {
  check_rays(rays_o, rays_d);
  TORCH_CHECK(scene_ids.dtype() == torch::kInt64 && scene_ids.numel() == rays_o.size(0), "scene_ids must be int64 [R]");
  TORCH_CHECK(bits.numel() == 0 || bits.dtype() == torch::kUInt8, "the grid bitfield must be uint8");
  TORCH_CHECK(coarse.numel() == 0 || coarse.dtype() == torch::kUInt8, "the coarse bitfield must be uint8");
  const Box box = make_box(aabb);
  const Grid grid = make_grid(bits, res, coarse, coarse_res);
  const StepRule rule{static_cast<float>(step), static_cast<int>(max_steps)};
  const int64_t n_rays = rays_o.size(0);
  const float* o = rays_o.data_ptr<float>();
  const float* d = rays_d.data_ptr<float>();
  const int64_t* scene = scene_ids.data_ptr<int64_t>();
  const float* jit = jitter.numel() ? jitter.data_ptr<float>() : nullptr;
  const float* tn = t_near.data_ptr<float>();
  const float* tf = t_far.data_ptr<float>();

#ifdef HFCLI_WITH_CUDA
  if (ON_CUDA(rays_o)) {
    auto counts = torch::empty({n_rays}, scene_ids.options());
    hfrm_cuda::march(o, d, scene, jit, tn, tf, grid, box, rule, n_rays, false, counts.data_ptr<int64_t>(), nullptr,
                     nullptr, nullptr, nullptr);
    auto ends = torch::cumsum(counts, 0);
    const int64_t total = n_rays ? ends[-1].item<int64_t>() : 0;
    auto starts = ends - counts;
    auto ray_indices = torch::empty({total}, scene_ids.options());
    auto t_starts = torch::empty({total}, rays_o.options());
    auto t_ends = torch::empty({total}, rays_o.options());
    hfrm_cuda::march(o, d, scene, jit, tn, tf, grid, box, rule, n_rays, true, nullptr, starts.data_ptr<int64_t>(),
                     ray_indices.data_ptr<int64_t>(), t_starts.data_ptr<float>(), t_ends.data_ptr<float>());
    return {ray_indices, t_starts, t_ends};
  }
#endif
  auto walk = [&](int64_t r, auto emit) {
    const float j = jit ? jit[r] : 0.0f;
    hfrm::march_ray(o + 3 * r, d + 3 * r, scene[r], j, tn[r], tf[r], box, grid, rule, emit);
  };

  // On the CPU the first pass keeps the samples it counts, per chunk of rays, and the second
  // copies them into place: marching once instead of twice. Chunks are taken dynamically, since
  // rays that cross the object cost far more than rays that miss it.
  struct Staged {
    std::vector<int64_t> ray;
    std::vector<float> t0, t1;
  };
  const int64_t chunks = (n_rays + kMarchChunk - 1) / kMarchChunk;
  std::vector<Staged> staged(chunks);
  std::vector<int64_t> offsets(n_rays + 1, 0);
  parallel_chunks(chunks, [&](int64_t c) {
    Staged& st = staged[c];
    for (int64_t r = c * kMarchChunk; r < std::min(n_rays, (c + 1) * kMarchChunk); ++r) {
      const int64_t before = static_cast<int64_t>(st.t0.size());
      walk(r, [&](int, float t0, float t1) {
        st.ray.push_back(r);
        st.t0.push_back(t0);
        st.t1.push_back(t1);
      });
      offsets[r + 1] = static_cast<int64_t>(st.t0.size()) - before;
    }
  });
  for (int64_t i = 0; i < n_rays; ++i) offsets[i + 1] += offsets[i];

  const int64_t total = offsets[n_rays];
  auto ray_indices = torch::empty({total}, scene_ids.options());
  auto t_starts = torch::empty({total}, rays_o.options());
  auto t_ends = torch::empty({total}, rays_o.options());
  int64_t* out_ray = ray_indices.data_ptr<int64_t>();
  float* out_t0 = t_starts.data_ptr<float>();
  float* out_t1 = t_ends.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const Staged& st = staged[c];
      const int64_t at = offsets[c * kMarchChunk];
      std::copy(st.ray.begin(), st.ray.end(), out_ray + at);
      std::copy(st.t0.begin(), st.t0.end(), out_t0 + at);
      std::copy(st.t1.begin(), st.t1.end(), out_t1 + at);
    }
  });
  return {ray_indices, t_starts, t_ends};
}

// The midpoints of samples, o + d · (t0 + t1) / 2 per sample's ray [N, 3], in the float
// operations (and order) of the renderer's PyTorch expression. CPU tensors only.
torch::Tensor sample_points(torch::Tensor rays_o, torch::Tensor rays_d, torch::Tensor ray_indices, torch::Tensor t0,
                            torch::Tensor t1) {
  check_rays(rays_o, rays_d);
  TORCH_CHECK(!rays_o.is_cuda(), "sample_points runs on the CPU");
  TORCH_CHECK(ray_indices.dtype() == torch::kInt64 && ray_indices.is_contiguous(), "ray_indices must be int64");
  TORCH_CHECK(!t0.is_cuda() && !t1.is_cuda() && !ray_indices.is_cuda(), "sample_points runs on the CPU");
  if (ray_indices.numel()) {
    const auto [lo, hi] = torch::aminmax(ray_indices);  // one pass over the indices
    TORCH_CHECK(lo.item<int64_t>() >= 0 && hi.item<int64_t>() < rays_o.size(0), "ray_indices out of range");
  }
  TORCH_CHECK(t0.dtype() == torch::kFloat32 && t1.dtype() == torch::kFloat32 && t0.is_contiguous() &&
                  t1.is_contiguous() && t0.numel() == ray_indices.numel() && t1.numel() == ray_indices.numel(),
              "t_starts, t_ends must be float32 [N]");
  const int64_t n = ray_indices.numel();
  auto out = torch::empty({n, 3}, rays_o.options());
  const float* o = rays_o.data_ptr<float>();
  const float* d = rays_d.data_ptr<float>();
  const int64_t* r = ray_indices.data_ptr<int64_t>();
  const float* a = t0.data_ptr<float>();
  const float* b = t1.data_ptr<float>();
  float* p = out.data_ptr<float>();
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float mid = 0.5f * (a[i] + b[i]);
      for (int c = 0; c < 3; ++c) p[3 * i + c] = o[3 * r[i] + c] + d[3 * r[i] + c] * mid;
    }
  });
  return out;
}

void check_samples(const torch::Tensor& sigmas, const torch::Tensor& rgbs, const torch::Tensor& t0,
                   const torch::Tensor& t1, const torch::Tensor& offsets) {
  TORCH_CHECK(sigmas.is_contiguous() && rgbs.is_contiguous() && t0.is_contiguous() && t1.is_contiguous(),
              "samples must be contiguous");
  TORCH_CHECK(rgbs.dim() == 2 && rgbs.size(1) == 3 && rgbs.size(0) == sigmas.numel(), "rgbs must be [N, 3]");
  TORCH_CHECK(t0.numel() == sigmas.numel() && t1.numel() == sigmas.numel(), "t_starts, t_ends must be [N]");
  TORCH_CHECK(rgbs.dtype() == sigmas.dtype() && t0.dtype() == sigmas.dtype() && t1.dtype() == sigmas.dtype(),
              "samples must share one dtype");
  TORCH_CHECK(offsets.dtype() == torch::kInt64 && offsets.is_contiguous(), "offsets must be int64 [R + 1]");
}

// Composite every ray's samples [offsets[r], offsets[r + 1]). Returns rgb [R, 3] (no background),
// opacity [R], depth [R].
std::vector<torch::Tensor> composite_forward(torch::Tensor sigmas, torch::Tensor rgbs, torch::Tensor t0,
                                             torch::Tensor t1, torch::Tensor offsets) {
  check_samples(sigmas, rgbs, t0, t1, offsets);
  const int64_t n_rays = offsets.numel() - 1;
  auto rgb = torch::zeros({n_rays, 3}, rgbs.options());
  auto opacity = torch::zeros({n_rays}, sigmas.options());
  auto depth = torch::zeros({n_rays}, sigmas.options());
  const int64_t* off = offsets.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(sigmas.scalar_type(), "composite_forward", [&] {
    const scalar_t* s = sigmas.data_ptr<scalar_t>();
    const scalar_t* c = rgbs.data_ptr<scalar_t>();
    const scalar_t* a = t0.data_ptr<scalar_t>();
    const scalar_t* b = t1.data_ptr<scalar_t>();
    scalar_t* out_rgb = rgb.data_ptr<scalar_t>();
    scalar_t* out_op = opacity.data_ptr<scalar_t>();
    scalar_t* out_depth = depth.data_ptr<scalar_t>();
#ifdef HFCLI_WITH_CUDA
    if (ON_CUDA(sigmas)) return hfrm_cuda::composite_forward<scalar_t>(s, c, a, b, off, n_rays, out_rgb, out_op, out_depth);
#endif
    at::parallel_for(0, n_rays, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t i = off[r];
        hfrm::composite_ray<scalar_t>(off[r + 1] - i, s + i, c + 3 * i, a + i, b + i, out_rgb + 3 * r, out_op + r,
                                      out_depth + r);
      }
    });
  });
  return {rgb, opacity, depth};
}

// Gradients of composite_forward's outputs with respect to sigmas [N] and rgbs [N, 3].
std::vector<torch::Tensor> composite_backward(torch::Tensor sigmas, torch::Tensor rgbs, torch::Tensor t0,
                                              torch::Tensor t1, torch::Tensor offsets, torch::Tensor g_rgb,
                                              torch::Tensor g_opacity, torch::Tensor g_depth) {
  check_samples(sigmas, rgbs, t0, t1, offsets);
  g_rgb = g_rgb.contiguous().to(sigmas.dtype());
  g_opacity = g_opacity.contiguous().to(sigmas.dtype());
  g_depth = g_depth.contiguous().to(sigmas.dtype());
  const int64_t n_rays = offsets.numel() - 1;
  auto d_sigma = torch::empty_like(sigmas);
  auto d_rgb = torch::empty_like(rgbs);
  const int64_t* off = offsets.data_ptr<int64_t>();
  AT_DISPATCH_FLOATING_TYPES(sigmas.scalar_type(), "composite_backward", [&] {
    const scalar_t* s = sigmas.data_ptr<scalar_t>();
    const scalar_t* c = rgbs.data_ptr<scalar_t>();
    const scalar_t* a = t0.data_ptr<scalar_t>();
    const scalar_t* b = t1.data_ptr<scalar_t>();
    const scalar_t* gr = g_rgb.data_ptr<scalar_t>();
    const scalar_t* go = g_opacity.data_ptr<scalar_t>();
    const scalar_t* gd = g_depth.data_ptr<scalar_t>();
    scalar_t* ds = d_sigma.data_ptr<scalar_t>();
    scalar_t* dc = d_rgb.data_ptr<scalar_t>();
#ifdef HFCLI_WITH_CUDA
    if (ON_CUDA(sigmas)) return hfrm_cuda::composite_backward<scalar_t>(s, c, a, b, off, n_rays, gr, go, gd, ds, dc);
#endif
    at::parallel_for(0, n_rays, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t i = off[r];
        hfrm::composite_ray_backward<scalar_t>(off[r + 1] - i, s + i, c + 3 * i, a + i, b + i, gr + 3 * r, go[r], gd[r],
                                               ds + i, dc + 3 * i);
      }
    });
  });
  return {d_sigma, d_rgb};
}

// ema [G³] (one scene, in place) <- max(ema * decay, sigma).
void grid_update(torch::Tensor ema, torch::Tensor sigma, double decay) {
  TORCH_CHECK(ema.dtype() == torch::kFloat32 && sigma.dtype() == torch::kFloat32, "grid_update is float32");
  TORCH_CHECK(ema.is_contiguous() && sigma.is_contiguous() && ema.numel() == sigma.numel(), "ema, sigma: same size");
  float* e = ema.data_ptr<float>();
  const float* s = sigma.data_ptr<float>();
  const float dec = static_cast<float>(decay);
#ifdef HFCLI_WITH_CUDA
  if (ON_CUDA(ema)) return hfrm_cuda::grid_update(e, s, ema.numel(), dec);
#endif
  at::parallel_for(0, ema.numel(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hfrm::grid_cell_update(e[i], s[i], dec);
  });
}

// ───────────────────────────── the field's encoding ─────────────────────────────

template <typename T>
hfrm::EncodingShape<T> encoding_shape(const torch::Tensor& planes, const torch::Tensor& grid,
                                      const std::vector<double>& aabb) {
  return hfrm::make_encoding_shape<T>(static_cast<int>(planes.size(3)), static_cast<int>(planes.size(1)),
                                      static_cast<int>(grid.size(3)), static_cast<int>(grid.size(0)), aabb.data());
}

// Features per point: 3C + C3.
int64_t check_encoding(const torch::Tensor& points, const torch::Tensor& planes, const torch::Tensor& grid,
                       const std::vector<double>& aabb) {
  TORCH_CHECK(points.dim() == 2 && points.size(1) == 3, "points: [N, 3]");
  TORCH_CHECK(planes.dim() == 4 && planes.size(0) == 3 && planes.size(1) == planes.size(2), "planes: [3, R, R, C]");
  TORCH_CHECK(grid.dim() == 4 && grid.size(0) == grid.size(1) && grid.size(1) == grid.size(2), "grid: [G, G, G, C]");
  TORCH_CHECK(points.is_contiguous() && planes.is_contiguous() && grid.is_contiguous(), "encoding inputs: contiguous");
  TORCH_CHECK(planes.dtype() == points.dtype() && grid.dtype() == points.dtype(), "encoding inputs: one dtype");
  hfcli_field::check_box(aabb);
  return 3 * planes.size(3) + grid.size(3);
}

// Features [N, 3C + C3] of points [N, 3]: Encoding.forward of hfcli/field.py, with the planes
// [3, R, R, C] and the volume [G, G, G, C3] given channels-last, over the box aabb.
torch::Tensor encode_forward(torch::Tensor points, torch::Tensor planes, torch::Tensor grid, std::vector<double> aabb) {
  const int64_t width = check_encoding(points, planes, grid, aabb), n = points.size(0);
  auto out = torch::empty({n, width}, points.options());
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "encode_forward", [&] {
    const auto shape = encoding_shape<scalar_t>(planes, grid, aabb);
    const scalar_t* p = points.data_ptr<scalar_t>();
    const scalar_t* pl = planes.data_ptr<scalar_t>();
    const scalar_t* gr = grid.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
#ifdef HFCLI_WITH_CUDA
    if (ON_CUDA(points)) return hfrm_cuda::encode_forward<scalar_t>(p, pl, gr, shape, n, o);
#endif
    at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hfrm::encode_point(p + 3 * i, pl, gr, shape, o + width * i);
    });
  });
  return out;
}

// Gradients of encode_forward with respect to the planes and the volume, given d(features).
// On the CPU each thread adds into its own buffers, summed at the end: no atomics, same result
// for a given thread count.
std::vector<torch::Tensor> encode_backward(torch::Tensor points, torch::Tensor grad, torch::Tensor planes,
                                           torch::Tensor grid, std::vector<double> aabb) {
  const int64_t width = check_encoding(points, planes, grid, aabb), n = points.size(0);
  grad = grad.contiguous().to(points.dtype());
  TORCH_CHECK(grad.dim() == 2 && grad.size(0) == n && grad.size(1) == width, "grad: [N, features]");
  auto d_planes = torch::zeros_like(planes);
  auto d_grid = torch::zeros_like(grid);
#ifdef HFCLI_WITH_CUDA
  if (ON_CUDA(points)) {
    AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "encode_backward", [&] {
      hfrm_cuda::encode_backward<scalar_t>(points.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                                           encoding_shape<scalar_t>(planes, grid, aabb), n,
                                           d_planes.data_ptr<scalar_t>(), d_grid.data_ptr<scalar_t>());
    });
    return {d_planes, d_grid};
  }
#endif
  const int threads = at::get_num_threads();
  std::vector<torch::Tensor> bufs_p(threads), bufs_g(threads);
  bufs_p[0] = d_planes;
  bufs_g[0] = d_grid;
  for (int t = 1; t < threads; ++t) {
    bufs_p[t] = torch::zeros_like(planes);
    bufs_g[t] = torch::zeros_like(grid);
  }
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "encode_backward", [&] {
    const auto shape = encoding_shape<scalar_t>(planes, grid, aabb);
    const scalar_t* p = points.data_ptr<scalar_t>();
    const scalar_t* g = grad.data_ptr<scalar_t>();
    at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
      const int t = at::get_thread_num();
      scalar_t* dp = bufs_p[t].data_ptr<scalar_t>();
      scalar_t* dg = bufs_g[t].data_ptr<scalar_t>();
      for (int64_t i = begin; i < end; ++i) hfrm::encode_point_backward(p + 3 * i, g + width * i, shape, dp, dg);
    });
  });
  for (int t = 1; t < threads; ++t) {
    d_planes.add_(bufs_p[t]);
    d_grid.add_(bufs_g[t]);
  }
  return {d_planes, d_grid};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "hfcli raymarcher: C++ on the CPU (and CUDA kernels when built with them)";
  m.def("ray_bounds", &ray_bounds);
  m.def("march", &march);
  m.def("sample_points", &sample_points);
  m.def("composite_forward", &composite_forward);
  m.def("composite_backward", &composite_backward);
  m.def("grid_update", &grid_update);
  m.def("encode_forward", &encode_forward);
  m.def("encode_backward", &encode_backward);
  m.def("field_isas", &hfcli_field::field_isas);
  m.def("field_forward", &hfcli_field::field_forward);
  m.def("field_backward", &hfcli_field::field_backward);
}
