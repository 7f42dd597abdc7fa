// Per-point logic of the field's encoding (hfcli/field.py: Encoding), shared by the C++ and CUDA
// backends: three axis-aligned feature planes sampled bilinearly and a coarse feature volume
// sampled trilinearly, as torch's grid_sample does with align_corners=True, plus the backward
// into the planes and the volume. Features of a point: [plane xy | plane xz | plane yz | volume].
// Parameters are read channels-last, so a corner's channels are one contiguous run.
#pragma once

#include "raymarch.h"

namespace hfrm {

struct EncodingShape {
  int plane_channels, plane_res;  // planes, channels last: [3, R, R, C] (plane, y, x, channel)
  int grid_channels, grid_res;    // volume, channels last: [G, G, G, C3] (z, y, x, channel)
};

// Box [-1, 1]³ → grid_sample's [-1, 1], clamped, then the pixel coordinate (align_corners=True).
template <typename T>
HF_HD T pixel_coord(T p, int size) {
  T x = (p - T(-1)) / T(2) * T(2) - T(1);
  x = x < T(-1) ? T(-1) : (x > T(1) ? T(1) : x);
  return (x + T(1)) / T(2) * static_cast<T>(size - 1);
}

// Visit every corner that makes up a point's features: visit(first feature, volume?, offset of
// the corner's first channel, channels, weight). Corners outside the planes or volume read zero.
template <typename T, typename Visit>
HF_HD void encoding_corners(const T* p, const EncodingShape& s, Visit visit) {
  const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
  const int R = s.plane_res, C = s.plane_channels;
  for (int pl = 0; pl < 3; ++pl) {
    const T ix = pixel_coord(p[pairs[pl][0]], R), iy = pixel_coord(p[pairs[pl][1]], R);
    const T fx0 = floor(ix), fy0 = floor(iy);
    const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0);
    const T fx = ix - fx0, fy = iy - fy0;
    for (int dy = 0; dy < 2; ++dy) {
      for (int dx = 0; dx < 2; ++dx) {
        const int x = x0 + dx, y = y0 + dy;
        if (x < 0 || x >= R || y < 0 || y >= R) continue;
        const T w = (dx ? fx : T(1) - fx) * (dy ? fy : T(1) - fy);
        visit(pl * C, false, ((static_cast<int64_t>(pl) * R + y) * R + x) * C, C, w);
      }
    }
  }
  const int G = s.grid_res;
  const T ix = pixel_coord(p[0], G), iy = pixel_coord(p[1], G), iz = pixel_coord(p[2], G);
  const T fx0 = floor(ix), fy0 = floor(iy), fz0 = floor(iz);
  const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0), z0 = static_cast<int>(fz0);
  const T fx = ix - fx0, fy = iy - fy0, fz = iz - fz0;
  for (int corner = 0; corner < 8; ++corner) {
    const int dx = corner & 1, dy = (corner >> 1) & 1, dz = corner >> 2;
    const int x = x0 + dx, y = y0 + dy, z = z0 + dz;
    if (x < 0 || x >= G || y < 0 || y >= G || z < 0 || z >= G) continue;
    const T w = (dx ? fx : T(1) - fx) * (dy ? fy : T(1) - fy) * (dz ? fz : T(1) - fz);
    visit(3 * C, true, ((static_cast<int64_t>(z) * G + y) * G + x) * s.grid_channels, s.grid_channels, w);
  }
}

template <typename T>
HF_HD void encode_point(const T* p, const T* planes, const T* grid, const EncodingShape& s, T* out) {
  const int n = 3 * s.plane_channels + s.grid_channels;
  for (int f = 0; f < n; ++f) out[f] = T(0);
  encoding_corners<T>(p, s, [&](int first, bool volume, int64_t at, int channels, T w) {
    const T* v = (volume ? grid : planes) + at;
    T* o = out + first;
    for (int c = 0; c < channels; ++c) o[c] += w * v[c];
  });
}

// Adds this point's share of d(planes) and d(volume), given d(features) `g` of the point.
template <typename T>
HF_HD void encode_point_backward(const T* p, const T* g, const EncodingShape& s, T* d_planes, T* d_grid) {
  encoding_corners<T>(p, s, [&](int first, bool volume, int64_t at, int channels, T w) {
    T* dv = (volume ? d_grid : d_planes) + at;
    const T* gi = g + first;
#ifdef __CUDA_ARCH__
    for (int c = 0; c < channels; ++c) atomicAdd(dv + c, w * gi[c]);
#else
    for (int c = 0; c < channels; ++c) dv[c] += w * gi[c];
#endif
  });
}

}  // namespace hfrm
