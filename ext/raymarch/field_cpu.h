// The field fused on the CPU: encoding + MLP per tile of points, forward and backward
// (field_cpu.cpp, kernels in field_kernel.inc). The bindings live in raymarch.cpp.
#pragma once

#include <torch/extension.h>

#include <string>
#include <vector>

#include "encoding.h"

namespace hfcli_field {

constexpr int kTile = 36;  // points per tile (a multiple of the blocks' 6 and 2); stays in L1 through the MLP
constexpr int kMaxLayers = 8;
constexpr int kPad = 16;        // widths are padded to whole vectors of the widest set

// The MLP as the kernels read it: widths padded to kPad with zeros.
struct Net {
  int n_layers, max_pad;
  int dims[kMaxLayers + 1], pads[kMaxLayers + 1];  // real and padded widths, input first
  const float* wt[kMaxLayers];  // [dims[l]][pads[l+1]]: the weights transposed (forward)
  const float* w[kMaxLayers];   // [dims[l+1]][pads[l]]: the weights as given (backward)
  const float* b[kMaxLayers];   // [pads[l+1]]
};

// Floats of scratch one thread's backward needs: two gradient tiles, a tile of each layer's
// saved rows and the tile's points.
inline int64_t backward_scratch(const Net& net) {
  int64_t floats = 2 * kTile * net.max_pad + 3 * kTile;
  for (int l = 0; l < net.n_layers; ++l) floats += kTile * net.pads[l];
  return floats;
}

struct Encoding {
  hfrm::EncodingShape<float> shape;
  const float* planes;  // [3, R, R, C] channels last
  const float* grid;    // [G, G, G, C3] channels last
};

// The box the encoding spans, (min xyz, max xyz), as the bindings take it.
inline void check_box(const std::vector<double>& aabb) {
  TORCH_CHECK(aabb.size() == 6 && aabb[0] < aabb[3] && aabb[1] < aabb[4] && aabb[2] < aabb[5],
              "aabb must be 6 numbers, min xyz below max xyz");
}

// The instruction sets this build and this CPU can run, widest first.
std::vector<std::string> field_isas();

// raw [N, dims[n]] of the MLP (before activation), and with `save` each layer's input [N, pads[l]].
std::vector<torch::Tensor> field_forward(torch::Tensor points, torch::Tensor planes, torch::Tensor grid,
                                         std::vector<double> aabb, std::vector<torch::Tensor> weights,
                                         std::vector<torch::Tensor> biases, bool save, std::string isa);

// Given d(raw): d(planes), d(grid) (empty unless encoding_grad), then d(W) per layer, d(b) per layer.
std::vector<torch::Tensor> field_backward(torch::Tensor points, torch::Tensor planes, torch::Tensor grid,
                                          std::vector<double> aabb, std::vector<torch::Tensor> weights,
                                          std::vector<torch::Tensor> saved, torch::Tensor d_raw, bool encoding_grad,
                                          std::string isa);

}  // namespace hfcli_field
