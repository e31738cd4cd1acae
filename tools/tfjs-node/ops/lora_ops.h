// Shared by the ops/*.cc of lora_ops.node (see module.cc): the TensorFlow headers every op needs
// and the names the files use from them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace lora_ops {
using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
namespace errors = tensorflow::errors;

// exp(x) for float32 within 2 ulp (Cephes' expf: x = n·ln2 + r, a degree-6 polynomial in r, times
// 2ⁿ), made of adds, multiplies and bit moves only, so that loops over it vectorize (std::exp
// does not without -ffast-math) and every element rounds the same in the vector body and the
// scalar tail. Clamped to [−87.3, 88]: exp underflows to 2⁻¹²⁶ there instead of 0, which no
// sigmoid below notices.
inline float FastExp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
  // Round x·log2(e) to the nearest integer n with the 1.5·2²³ trick (exact in float32).
  const float shifter = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  int32_t magic;
  std::memcpy(&magic, &shifter, sizeof magic);
  const int32_t ni = bits - magic;
  // r = x − n·ln2, with ln2 split in two so that n·ln2_hi is exact.
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = (p * (r * r) + r) + 1.0f;
  const int32_t scaleBits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &scaleBits, sizeof scale);
  return y * scale;
}

// sigmoid(g) = 1 / (1 + exp(−g)), vectorizable (FastExp).
inline float Sigmoid(float g) { return 1.0f / (1.0f + FastExp(-g)); }

// silu(g) · u = (g · sigmoid(g)) · u, rounded in that order: LoraSiluMul, LoraSiluMulGrad and
// LoraGgmlGateUp share it, so their results are equal bit for bit.
inline float SiluMul(float g, float u) { return (g * Sigmoid(g)) * u; }
}  // namespace lora_ops
