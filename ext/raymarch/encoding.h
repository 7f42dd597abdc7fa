// Per-point logic of the field's encoding (hfcli/field.py: Encoding), shared by the C++ and CUDA
// backends: three axis-aligned feature planes sampled bilinearly and a coarse feature volume
// sampled trilinearly, as torch's grid_sample does with align_corners=True, plus the backward
// into the planes and the volume. Features of a point: [plane xy | plane xz | plane yz | volume].
// Parameters are read channels-last, so a corner's channels are one contiguous run. The box the
// encoding spans comes with its shape (hfcli/scene.py: BOX, or the Encoding's own).
#pragma once

#include "raymarch.h"

namespace hfrm {

template <typename T>
struct EncodingShape {
  int plane_channels, plane_res;  // planes, channels last: [3, R, R, C] (plane, y, x, channel)
  int grid_channels, grid_res;    // volume, channels last: [G, G, G, C3] (z, y, x, channel)
  T lo[3], extent[3];             // the box it spans: min corner, hi - lo (per axis, once per call)
};

// The shape with its box (min xyz, max xyz), rounded to T as the reference rounds it.
template <typename T>
EncodingShape<T> make_encoding_shape(int plane_channels, int plane_res, int grid_channels, int grid_res,
                                     const double* box) {
  EncodingShape<T> s{plane_channels, plane_res, grid_channels, grid_res, {}, {}};
  for (int a = 0; a < 3; ++a) {
    s.lo[a] = static_cast<T>(box[a]);
    s.extent[a] = static_cast<T>(box[a + 3]) - s.lo[a];
  }
  return s;
}

// Inlined into the fused field's kernels, so its arithmetic is compiled for their instruction set.
#if defined(__CUDACC__) || !defined(__GNUC__)
#define HF_HD_INLINE HF_HD
#else
#define HF_HD_INLINE inline __attribute__((always_inline))
#endif

// A coordinate in the box → grid_sample's [-1, 1], clamped, then → [0, 1]: times (size - 1) it
// is the pixel coordinate (align_corners=True). The reference's operations, in its order.
template <typename T>
HF_HD_INLINE T box_fraction(T p, T lo, T extent) {
  T x = (p - lo) / extent * T(2) - T(1);
  x = x < T(-1) ? T(-1) : (x > T(1) ? T(1) : x);
  return (x + T(1)) / T(2);
}

// The 20 corners that make up a point's features, in a fixed layout: 4 per plane (xy, xz, yz;
// dy-major), then 8 of the volume (z, y, x bits). `at` is the offset of the corner's first
// channel in the planes (corners 0-11) or the volume (12-19); a corner outside the planes or the
// volume gets weight 0 and offset 0, so callers need no branch (adding 0·v leaves a sum as it is).
constexpr int kPlaneCorners = 12, kCorners = 20;

template <typename T>
HF_HD_INLINE void encoding_corners(const T* p, const EncodingShape<T>& s, int64_t at[kCorners], T w[kCorners]) {
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  const int R = s.plane_res, C = s.plane_channels;
  T u[3];
  for (int a = 0; a < 3; ++a) u[a] = box_fraction(p[a], s.lo[a], s.extent[a]);
  const T r1 = static_cast<T>(R - 1);
  for (int pl = 0; pl < 3; ++pl) {
    const T ix = u[pairs[pl][0]] * r1, iy = u[pairs[pl][1]] * r1;
    const int x0 = static_cast<int>(ix), y0 = static_cast<int>(iy);  // ≥ 0: truncation is floor
    const T fx0 = static_cast<T>(x0), fy0 = static_cast<T>(y0);
    const T fx = ix - fx0, fy = iy - fy0;
    for (int corner = 0; corner < 4; ++corner) {
      const int dx = corner & 1, dy = corner >> 1, x = x0 + dx, y = y0 + dy, i = 4 * pl + corner;
      const bool inside = x >= 0 && x < R && y >= 0 && y < R;
      w[i] = inside ? (dx ? fx : T(1) - fx) * (dy ? fy : T(1) - fy) : T(0);
      at[i] = inside ? ((static_cast<int64_t>(pl) * R + y) * R + x) * C : 0;
    }
  }
  const int G = s.grid_res;
  const T g1 = static_cast<T>(G - 1), ix = u[0] * g1, iy = u[1] * g1, iz = u[2] * g1;
  const int x0 = static_cast<int>(ix), y0 = static_cast<int>(iy), z0 = static_cast<int>(iz);
  const T fx0 = static_cast<T>(x0), fy0 = static_cast<T>(y0), fz0 = static_cast<T>(z0);
  const T fx = ix - fx0, fy = iy - fy0, fz = iz - fz0;
  for (int corner = 0; corner < 8; ++corner) {
    const int dx = corner & 1, dy = (corner >> 1) & 1, dz = corner >> 2;
    const int x = x0 + dx, y = y0 + dy, z = z0 + dz, i = kPlaneCorners + corner;
    const bool inside = x >= 0 && x < G && y >= 0 && y < G && z >= 0 && z < G;
    w[i] = inside ? (dx ? fx : T(1) - fx) * (dy ? fy : T(1) - fy) * (dz ? fz : T(1) - fz) : T(0);
    at[i] = inside ? ((static_cast<int64_t>(z) * G + y) * G + x) * s.grid_channels : 0;
  }
}

// Where corner i's channels go in the point's features [plane xy | plane xz | plane yz | volume].
template <typename T>
HF_HD_INLINE int corner_feature(int i, const EncodingShape<T>& s) {
  return i < kPlaneCorners ? (i / 4) * s.plane_channels : 3 * s.plane_channels;
}

template <typename T>
HF_HD void encode_point(const T* p, const T* planes, const T* grid, const EncodingShape<T>& s, T* out) {
  const int n = 3 * s.plane_channels + s.grid_channels;
  for (int f = 0; f < n; ++f) out[f] = T(0);
  int64_t at[kCorners];
  T w[kCorners];
  encoding_corners<T>(p, s, at, w);
  for (int i = 0; i < kCorners; ++i) {
    const bool volume = i >= kPlaneCorners;
    const T* v = (volume ? grid : planes) + at[i];
    T* o = out + corner_feature(i, s);
    const int channels = volume ? s.grid_channels : s.plane_channels;
    for (int c = 0; c < channels; ++c) o[c] += w[i] * v[c];
  }
}

// Adds this point's share of d(planes) and d(volume), given d(features) `g` of the point.
template <typename T>
HF_HD void encode_point_backward(const T* p, const T* g, const EncodingShape<T>& s, T* d_planes, T* d_grid) {
  int64_t at[kCorners];
  T w[kCorners];
  encoding_corners<T>(p, s, at, w);
  for (int i = 0; i < kCorners; ++i) {
    if (w[i] == T(0)) continue;  // outside (offset 0 is a stand-in): nothing to add, NaN included
    const bool volume = i >= kPlaneCorners;
    T* dv = (volume ? d_grid : d_planes) + at[i];
    const T* gi = g + corner_feature(i, s);
    const int channels = volume ? s.grid_channels : s.plane_channels;
#ifdef __CUDA_ARCH__
    for (int c = 0; c < channels; ++c) atomicAdd(dv + c, w[i] * gi[c]);
#else
    for (int c = 0; c < channels; ++c) dv[c] += w[i] * gi[c];
#endif
  }
}

}  // namespace hfrm
