// Launchers of the CUDA kernels (raymarch_cuda.cu), on raw device pointers so the .cu file needs
// no torch headers: nvcc compiles it alone, and raymarch_cuda_bind.cpp adapts torch tensors.
#pragma once

#include <cstdint>

#include "encoding.h"
#include "raymarch.h"

namespace hfrm_cuda {

void ray_bounds(const float* o, const float* d, int64_t n, hfrm::Box box, float* t_near, float* t_far);

// Pass 1 (write == false): counts[r] = kept samples of ray r. Pass 2: write them from offsets[r] on.
void march(const float* o, const float* d, const int64_t* scene, const float* jitter, const float* t_near,
           const float* t_far, hfrm::Grid grid, hfrm::Box box, hfrm::StepRule rule, int64_t n_rays, bool write,
           int64_t* counts, const int64_t* offsets, int64_t* out_ray, float* out_t0, float* out_t1);

template <typename scalar_t>
void composite_forward(const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0, const scalar_t* t1,
                       const int64_t* offsets, int64_t n_rays, scalar_t* out_rgb, scalar_t* out_opacity,
                       scalar_t* out_depth);

template <typename scalar_t>
void composite_backward(const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0, const scalar_t* t1,
                        const int64_t* offsets, int64_t n_rays, const scalar_t* g_rgb, const scalar_t* g_opacity,
                        const scalar_t* g_depth, scalar_t* d_sigma, scalar_t* d_rgb);

void grid_update(float* ema, const float* sigma, int64_t n, float decay);

template <typename scalar_t>
void encode_forward(const scalar_t* points, const scalar_t* planes, const scalar_t* grid,
                    hfrm::EncodingShape<scalar_t> shape, int64_t n, scalar_t* out);

// Adds into d_planes and d_grid (zeroed by the caller) with atomics.
template <typename scalar_t>
void encode_backward(const scalar_t* points, const scalar_t* grad, hfrm::EncodingShape<scalar_t> shape, int64_t n,
                     scalar_t* d_planes, scalar_t* d_grid);

}  // namespace hfrm_cuda
