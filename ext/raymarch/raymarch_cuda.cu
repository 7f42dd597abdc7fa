// CUDA kernels of the raymarcher: one thread per ray (per cell for the grid update), each running
// the per-ray functions of raymarch.h that the C++ backend runs. Built with --fmad=false so the
// arithmetic matches the reference's.
#include <cuda_runtime.h>

#include "raymarch_cuda.h"

namespace hfrm_cuda {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

__global__ void ray_bounds_kernel(const float* o, const float* d, int64_t n, hfrm::Box box, float* tn, float* tf) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r < n) hfrm::ray_box(o + 3 * r, d + 3 * r, box, tn[r], tf[r]);
}

__global__ void march_kernel(const float* o, const float* d, const int64_t* scene, const float* jitter,
                             const float* tn, const float* tf, hfrm::Grid grid, hfrm::Box box, hfrm::StepRule rule,
                             int64_t n_rays, bool write, int64_t* counts, const int64_t* offsets, int64_t* out_ray,
                             float* out_t0, float* out_t1) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  const float j = jitter ? jitter[r] : 0.0f;
  if (!write) {
    int64_t count = 0;
    hfrm::march_ray(o + 3 * r, d + 3 * r, scene[r], j, tn[r], tf[r], box, grid, rule, [&](int, float, float) { ++count; });
    counts[r] = count;
    return;
  }
  int64_t at = offsets[r];
  hfrm::march_ray(o + 3 * r, d + 3 * r, scene[r], j, tn[r], tf[r], box, grid, rule, [&](int, float t0, float t1) {
    out_ray[at] = r;
    out_t0[at] = t0;
    out_t1[at] = t1;
    ++at;
  });
}

template <typename scalar_t>
__global__ void composite_forward_kernel(const scalar_t* s, const scalar_t* c, const scalar_t* a, const scalar_t* b,
                                         const int64_t* off, int64_t n_rays, scalar_t* out_rgb, scalar_t* out_op,
                                         scalar_t* out_depth) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  const int64_t i = off[r];
  hfrm::composite_ray<scalar_t>(off[r + 1] - i, s + i, c + 3 * i, a + i, b + i, out_rgb + 3 * r, out_op + r,
                                out_depth + r);
}

template <typename scalar_t>
__global__ void composite_backward_kernel(const scalar_t* s, const scalar_t* c, const scalar_t* a, const scalar_t* b,
                                          const int64_t* off, int64_t n_rays, const scalar_t* gr, const scalar_t* go,
                                          const scalar_t* gd, scalar_t* ds, scalar_t* dc) {
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  const int64_t i = off[r];
  hfrm::composite_ray_backward<scalar_t>(off[r + 1] - i, s + i, c + 3 * i, a + i, b + i, gr + 3 * r, go[r], gd[r],
                                         ds + i, dc + 3 * i);
}

__global__ void grid_update_kernel(float* ema, const float* sigma, int64_t n, float decay) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) hfrm::grid_cell_update(ema[i], sigma[i], decay);
}

template <typename scalar_t>
__global__ void encode_forward_kernel(const scalar_t* p, const scalar_t* planes, const scalar_t* grid,
                                      hfrm::EncodingShape<scalar_t> shape, int64_t n, scalar_t* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t width = 3 * shape.plane_channels + shape.grid_channels;
  hfrm::encode_point(p + 3 * i, planes, grid, shape, out + width * i);
}

template <typename scalar_t>
__global__ void encode_backward_kernel(const scalar_t* p, const scalar_t* grad, hfrm::EncodingShape<scalar_t> shape,
                                       int64_t n, scalar_t* d_planes, scalar_t* d_grid) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  hfrm::encode_point_backward(p + 3 * i, grad + (3 * shape.plane_channels + shape.grid_channels) * i, shape, d_planes,
                              d_grid);
}

}  // namespace

template <typename scalar_t>
void encode_forward(const scalar_t* points, const scalar_t* planes, const scalar_t* grid,
                    hfrm::EncodingShape<scalar_t> shape, int64_t n, scalar_t* out) {
  if (n) encode_forward_kernel<scalar_t><<<blocks_for(n), kThreads>>>(points, planes, grid, shape, n, out);
}

template <typename scalar_t>
void encode_backward(const scalar_t* points, const scalar_t* grad, hfrm::EncodingShape<scalar_t> shape, int64_t n,
                     scalar_t* d_planes, scalar_t* d_grid) {
  if (n) encode_backward_kernel<scalar_t><<<blocks_for(n), kThreads>>>(points, grad, shape, n, d_planes, d_grid);
}

template void encode_forward<float>(const float*, const float*, const float*, hfrm::EncodingShape<float>, int64_t,
                                    float*);
template void encode_forward<double>(const double*, const double*, const double*, hfrm::EncodingShape<double>, int64_t,
                                     double*);
template void encode_backward<float>(const float*, const float*, hfrm::EncodingShape<float>, int64_t, float*, float*);
template void encode_backward<double>(const double*, const double*, hfrm::EncodingShape<double>, int64_t, double*,
                                      double*);

void ray_bounds(const float* o, const float* d, int64_t n, hfrm::Box box, float* t_near, float* t_far) {
  if (n) ray_bounds_kernel<<<blocks_for(n), kThreads>>>(o, d, n, box, t_near, t_far);
}

void march(const float* o, const float* d, const int64_t* scene, const float* jitter, const float* t_near,
           const float* t_far, hfrm::Grid grid, hfrm::Box box, hfrm::StepRule rule, int64_t n_rays, bool write,
           int64_t* counts, const int64_t* offsets, int64_t* out_ray, float* out_t0, float* out_t1) {
  if (n_rays)
    march_kernel<<<blocks_for(n_rays), kThreads>>>(o, d, scene, jitter, t_near, t_far, grid, box, rule, n_rays, write,
                                                   counts, offsets, out_ray, out_t0, out_t1);
}

template <typename scalar_t>
void composite_forward(const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0, const scalar_t* t1,
                       const int64_t* offsets, int64_t n_rays, scalar_t* out_rgb, scalar_t* out_opacity,
                       scalar_t* out_depth) {
  if (n_rays)
    composite_forward_kernel<scalar_t><<<blocks_for(n_rays), kThreads>>>(sigma, rgb, t0, t1, offsets, n_rays, out_rgb,
                                                                         out_opacity, out_depth);
}

template <typename scalar_t>
void composite_backward(const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0, const scalar_t* t1,
                        const int64_t* offsets, int64_t n_rays, const scalar_t* g_rgb, const scalar_t* g_opacity,
                        const scalar_t* g_depth, scalar_t* d_sigma, scalar_t* d_rgb) {
  if (n_rays)
    composite_backward_kernel<scalar_t><<<blocks_for(n_rays), kThreads>>>(sigma, rgb, t0, t1, offsets, n_rays, g_rgb,
                                                                          g_opacity, g_depth, d_sigma, d_rgb);
}

template void composite_forward<float>(const float*, const float*, const float*, const float*, const int64_t*, int64_t,
                                       float*, float*, float*);
template void composite_forward<double>(const double*, const double*, const double*, const double*, const int64_t*,
                                        int64_t, double*, double*, double*);
template void composite_backward<float>(const float*, const float*, const float*, const float*, const int64_t*,
                                        int64_t, const float*, const float*, const float*, float*, float*);
template void composite_backward<double>(const double*, const double*, const double*, const double*, const int64_t*,
                                         int64_t, const double*, const double*, const double*, double*, double*);

void grid_update(float* ema, const float* sigma, int64_t n, float decay) {
  if (n) grid_update_kernel<<<blocks_for(n), kThreads>>>(ema, sigma, n, decay);
}

}  // namespace hfrm_cuda
