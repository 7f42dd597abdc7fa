// Per-ray logic of the raymarcher, shared by the C++ (CPU) and CUDA implementations.
//
// Every function works on one ray and is __host__ __device__, so the two backends cannot drift
// apart. The arithmetic mirrors hfcli/render/raymarch_torch.py operation by operation (same
// order, float32, no fused multiply-add: both builds pass flags that forbid contraction), so the
// compiled backends pick exactly the samples the PyTorch reference picks.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define HF_HD __host__ __device__ __forceinline__
#else
#define HF_HD inline
#endif

namespace hfrm {

// Samples whose transmittance has fallen to this are dropped (early ray termination).
constexpr float kTransmittanceEps = 1e-4f;

struct Box {
  float lo[3], hi[3];
};

// The occupancy grid as a bitfield: bit (((scene * G + x) * G + y) * G + z) of `bits`, and a
// coarser copy (a cell is set when any of the fine cells it covers is) for long empty stretches.
struct Grid {
  const uint8_t* bits;  // nullptr: everything is occupied
  int res;
  const uint8_t* coarse;  // nullptr: no coarse level
  int coarse_res;         // divides res
};

// Uniform steps of length `step` from t_near; `jitter` in [0, 1) shifts them (training).
struct StepRule {
  float step;
  int max_steps;  // the same bound for every ray of a call, as in the reference
};

HF_HD float ex(float x) { return expf(x); }
HF_HD double ex(double x) { return exp(x); }
HF_HD float fmin_(float a, float b) { return a < b ? a : b; }
HF_HD float fmax_(float a, float b) { return a > b ? a : b; }

// Slab test. t_near >= 0; a ray misses when t_far <= t_near.
HF_HD void ray_box(const float* o, const float* d, const Box& box, float& t_near, float& t_far) {
  float tn = -INFINITY, tf = INFINITY;
  for (int a = 0; a < 3; ++a) {
    const float da = fabsf(d[a]) < 1e-9f ? 1e-9f : d[a];
    const float inv = 1.0f / da;
    const float t0 = (box.lo[a] - o[a]) * inv;
    const float t1 = (box.hi[a] - o[a]) * inv;
    tn = fmax_(tn, fmin_(t0, t1));
    tf = fmin_(tf, fmax_(t0, t1));
  }
  t_near = fmax_(tn, 0.0f);
  t_far = tf;
}

// Cell index of coordinate p on axis a, truncated toward zero like torch's .long().
HF_HD int cell_of(float p, const Box& box, int a, int res) {
  return static_cast<int>((p - box.lo[a]) / (box.hi[a] - box.lo[a]) * static_cast<float>(res));
}

HF_HD bool in_range(int c, int res) { return c >= 0 && c < res; }

HF_HD bool bit_set(const uint8_t* bits, int64_t res, int64_t scene, int cx, int cy, int cz) {
  const int64_t bit = ((scene * res + cx) * res + cy) * res + cz;
  return (bits[bit >> 3] >> (bit & 7)) & 1;
}

// [t_start, t_end) of step k; empty when t_end <= t_start.
HF_HD void step_span(int k, float jitter, float t_near, float t_far, const StepRule& rule, float& t0, float& t1) {
  const float kj = static_cast<float>(k) + jitter;
  t0 = t_near + fmax_(kj - 1.0f, 0.0f) * rule.step;
  t1 = fmin_(t_near + kj * rule.step, t_far);
}

// The first step worth testing after step k, whose midpoint `mid` lies in the empty cell `cell`
// of a grid level (`bits` at resolution `res`): walk on through the level's empty cells (3D DDA)
// to the first occupied one, and return the first step whose midpoint lies past that point.
// The margin keeps the skip conservative against float error: a step it spares lies at least
// 1% of a step inside the empty stretch, and every other step is tested like any other.
// A walk on the fine level also stops where it enters an empty cell of the coarse level (`coarse`,
// `f` fine cells per coarse cell; null for none): the march crosses that one a coarse cell at a time.
HF_HD int skip_empty(int k, float jitter, float t_near, float mid, const float* o, const float* d, const Box& box,
                     const uint8_t* bits, int res, int64_t scene, const int* cell, const StepRule& rule,
                     const uint8_t* coarse = nullptr, int f = 1) {
  int c[3], dir[3];
  float t_next[3], t_delta[3];
  for (int a = 0; a < 3; ++a) {
    c[a] = cell[a];
    if (fabsf(d[a]) < 1e-9f) {
      dir[a] = 0;
      t_next[a] = t_delta[a] = INFINITY;
      continue;
    }
    const float size = (box.hi[a] - box.lo[a]) / static_cast<float>(res);
    const float inv = 1.0f / d[a];
    dir[a] = d[a] > 0 ? 1 : -1;
    t_next[a] = (box.lo[a] + size * static_cast<float>(d[a] > 0 ? c[a] + 1 : c[a]) - o[a]) * inv;
    t_delta[a] = size * fabsf(inv);
  }
  float t_exit = mid;
  for (int guard = 0; guard < 3 * res; ++guard) {
    const int a = t_next[0] < t_next[1] ? (t_next[0] < t_next[2] ? 0 : 2) : (t_next[1] < t_next[2] ? 1 : 2);
    t_exit = t_next[a];
    c[a] += dir[a];
    if (dir[a] == 0 || c[a] < 0 || c[a] >= res || bit_set(bits, res, scene, c[0], c[1], c[2])) break;
    if (coarse && !bit_set(coarse, res / f, scene, c[0] / f, c[1] / f, c[2] / f)) break;
    t_next[a] += t_delta[a];
  }
  if (!(t_exit > mid)) return k + 1;
  // Midpoint of step j (unclamped): t_near + (j + jitter - 0.5) * step.
  const float j = ceilf((t_exit - t_near) / rule.step - jitter + 0.5f - 0.01f);
  if (!(j > static_cast<float>(k + 1))) return k + 1;
  return j >= static_cast<float>(rule.max_steps) ? rule.max_steps : static_cast<int>(j);
}

// Walk the ray and visit each kept sample (midpoint in an occupied cell) with emit(k, t0, t1),
// in step order.
template <typename Emit>
HF_HD void march_ray(const float* o, const float* d, int64_t scene, float jitter, float t_near, float t_far,
                     const Box& box, const Grid& grid, const StepRule& rule, Emit emit) {
  int k = 0;
  while (k < rule.max_steps) {
    float t0, t1;
    step_span(k, jitter, t_near, t_far, rule, t0, t1);
    if (!(t1 > t0)) {
      if (t0 >= t_far) return;  // every later step is empty too
      ++k;
      continue;
    }
    if (grid.bits == nullptr) {  // no grid: every step is kept, as in the reference
      emit(k, t0, t1);
      ++k;
      continue;
    }
    const float mid = 0.5f * (t0 + t1);
    const float p[3] = {o[0] + d[0] * mid, o[1] + d[1] * mid, o[2] + d[2] * mid};
    int cell[3];
    bool inside = true;
    for (int a = 0; a < 3; ++a) {
      cell[a] = cell_of(p[a], box, a, grid.res);
      inside = inside && in_range(cell[a], grid.res);
    }
    if (!inside) {
      ++k;
    } else if (bit_set(grid.bits, grid.res, scene, cell[0], cell[1], cell[2])) {  // as grid_lookup
      emit(k, t0, t1);
      ++k;
    } else {
      const int f = grid.coarse ? grid.res / grid.coarse_res : 1;
      const int coarse[3] = {cell[0] / f, cell[1] / f, cell[2] / f};
      if (grid.coarse && !bit_set(grid.coarse, grid.coarse_res, scene, coarse[0], coarse[1], coarse[2])) {
        k = skip_empty(k, jitter, t_near, mid, o, d, box, grid.coarse, grid.coarse_res, scene, coarse, rule);
      } else {
        k = skip_empty(k, jitter, t_near, mid, o, d, box, grid.bits, grid.res, scene, cell, rule, grid.coarse, f);
      }
    }
  }
}

// Front-to-back compositing state of one ray. `tau` (the optical depth so far) is accumulated
// in double, as the reference's cumulative sum is.
template <typename scalar_t>
struct RayAccum {
  double tau = 0.0;
  scalar_t rgb[3] = {0, 0, 0};
  scalar_t opacity = 0, depth = 0;
  bool done = false;  // transmittance fell to kTransmittanceEps: later samples weigh nothing
};

// Transmittance before a sample, its alpha, and its weight (zero past termination).
template <typename scalar_t>
HF_HD scalar_t sample_weight(double tau_before, scalar_t sigma, scalar_t t0, scalar_t t1, scalar_t& trans,
                             scalar_t& tau) {
  tau = sigma * (t1 - t0);
  trans = ex(-static_cast<scalar_t>(tau_before));
  const scalar_t alpha = scalar_t(1) - ex(-tau);
  return trans > scalar_t(kTransmittanceEps) ? trans * alpha : scalar_t(0);
}

template <typename scalar_t>
HF_HD void composite_sample(RayAccum<scalar_t>& acc, scalar_t sigma, const scalar_t* rgb, scalar_t t0, scalar_t t1) {
  if (acc.done) return;
  scalar_t trans, tau;
  const scalar_t w = sample_weight(acc.tau, sigma, t0, t1, trans, tau);
  if (!(trans > scalar_t(kTransmittanceEps))) {
    acc.done = true;
    return;
  }
  for (int c = 0; c < 3; ++c) acc.rgb[c] += w * rgb[c];
  acc.opacity += w;
  acc.depth += w * (scalar_t(0.5) * (t0 + t1));
  acc.tau += static_cast<double>(tau);
}

// Composite the samples [0, n) of one ray front to back into its rgb[3], opacity and depth.
template <typename scalar_t>
HF_HD void composite_ray(int64_t n, const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0, const scalar_t* t1,
                         scalar_t* out_rgb, scalar_t* opacity, scalar_t* depth) {
  RayAccum<scalar_t> acc;
  for (int64_t i = 0; i < n && !acc.done; ++i) composite_sample(acc, sigma[i], rgb + 3 * i, t0[i], t1[i]);
  for (int c = 0; c < 3; ++c) out_rgb[c] = acc.rgb[c];
  *opacity = acc.opacity;
  *depth = acc.depth;
}

// Gradient of one ray's (rgb, opacity, depth) with respect to its samples' sigma and rgb, given
// the output gradients g_rgb[3], g_opacity, g_depth. Samples [0, n) of the ray, in order.
//   w_i = T_i a_i,  dw_i/dtau_i = T_{i+1},  dw_k/dtau_i = -w_k (k > i)
//   dL/dtau_i = T_{i+1} g_i - sum_{k>i} w_k g_k,   g_k = g_rgb . c_k + g_opacity + g_depth m_k
// Terminated samples have zero weight and zero gradient, as in the reference.
template <typename scalar_t>
HF_HD void composite_ray_backward(int64_t n, const scalar_t* sigma, const scalar_t* rgb, const scalar_t* t0,
                                  const scalar_t* t1, const scalar_t* g_rgb, scalar_t g_opacity, scalar_t g_depth,
                                  scalar_t* d_sigma, scalar_t* d_rgb) {
  // Pass 1: the total of w_k g_k over live samples.
  double tau_before = 0.0, total = 0.0;
  int64_t live = 0;
  for (; live < n; ++live) {
    scalar_t trans, tau;
    const scalar_t w = sample_weight(tau_before, sigma[live], t0[live], t1[live], trans, tau);
    if (!(trans > scalar_t(kTransmittanceEps))) break;
    const scalar_t* c = rgb + 3 * live;
    const scalar_t mid = scalar_t(0.5) * (t0[live] + t1[live]);
    total += static_cast<double>(w) * (g_rgb[0] * c[0] + g_rgb[1] * c[1] + g_rgb[2] * c[2] + g_opacity + g_depth * mid);
    tau_before += static_cast<double>(tau);
  }
  // Pass 2: each live sample's gradient from the running prefix.
  tau_before = 0.0;
  double prefix = 0.0;
  for (int64_t i = 0; i < live; ++i) {
    scalar_t trans, tau;
    const scalar_t w = sample_weight(tau_before, sigma[i], t0[i], t1[i], trans, tau);
    const scalar_t* c = rgb + 3 * i;
    const scalar_t mid = scalar_t(0.5) * (t0[i] + t1[i]);
    const double g = g_rgb[0] * c[0] + g_rgb[1] * c[1] + g_rgb[2] * c[2] + g_opacity + g_depth * mid;
    prefix += static_cast<double>(w) * g;
    const double trans_after = static_cast<double>(trans) * exp(-static_cast<double>(tau));
    const double d_tau = trans_after * g - (total - prefix);
    d_sigma[i] = static_cast<scalar_t>(d_tau * static_cast<double>(t1[i] - t0[i]));
    for (int ch = 0; ch < 3; ++ch) d_rgb[3 * i + ch] = w * g_rgb[ch];
    tau_before += static_cast<double>(tau);
  }
  for (int64_t i = live; i < n; ++i) {
    d_sigma[i] = scalar_t(0);
    for (int ch = 0; ch < 3; ++ch) d_rgb[3 * i + ch] = scalar_t(0);
  }
}

// EMA update of one grid cell (the trainer's grid update; thresholding follows in Python,
// since the threshold depends on the updated scene's mean).
HF_HD void grid_cell_update(float& ema, float sigma, float decay) {
  const float decayed = ema * decay;
  ema = decayed > sigma ? decayed : sigma;
}

}  // namespace hfrm
