// Shared by the ops/*.cc of lora_ops.node (see module.cc): the TensorFlow headers every op needs
// and the names the files use from them.
#pragma once

#include <cmath>

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

// silu(g) · u = (g · sigmoid(g)) · u, rounded in that order: LoraSiluMul and LoraGgmlGateUp share it,
// so their results are equal bit for bit.
inline float SiluMul(float g, float u) { return (g * (1.0f / (1.0f + std::exp(-g)))) * u; }
}  // namespace lora_ops
