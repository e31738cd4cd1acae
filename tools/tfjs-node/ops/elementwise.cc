// Elementwise kernels of lora_ops.node (see module.cc) for the decoding path, where a decoder
// layer's norms and gate otherwise take nine tfjs ops (each 5–20 µs of dispatch on tfjs-node):
//
//   LoraRmsNorm(x: float [..., H], scale: float [H]) -> y   y = x · rsqrt(mean(x²) + eps) · scale
//   LoraSiluMul(g: float, u: float, same shape)      -> y   y = g · sigmoid(g) · u
//
// Same formulas, in the same order of float32 roundings per element, as the tfjs ops they
// replace (`RMSNorm.apply`, the gated MLP); the mean's sum and the sigmoid are computed in another
// order / approximation than TensorFlow's, so results agree to float32 rounding, not bit for bit.
// Inference only: these ops have no gradient (the layers use them when no tape records).
#include <cmath>
#include <cstdint>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

namespace {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
namespace errors = tensorflow::errors;

class RmsNormOp : public OpKernel {
 public:
  explicit RmsNormOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("eps", &eps_)); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& scale = ctx->input(1);
    OP_REQUIRES(ctx, x.dims() >= 1 && scale.dims() == 1 && x.dim_size(x.dims() - 1) == scale.dim_size(0),
                errors::InvalidArgument("x [..., H] and scale [H] must agree, got ", x.shape().DebugString(), " and ",
                                        scale.shape().DebugString()));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const int64_t h = scale.dim_size(0);
    if (h == 0 || x.NumElements() == 0) return;
    const int64_t rows = x.NumElements() / h;
    const float* xs = x.flat<float>().data();
    const float* w = scale.flat<float>().data();
    float* ys = y->flat<float>().data();
    const float eps = eps_;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, rows, h * 4, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float* xr = xs + r * h;
        float* yr = ys + r * h;
        float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = 0;
        for (; i + 8 <= h; i += 8)
          for (int l = 0; l < 8; l++) part[l] += xr[i + l] * xr[i + l];
        float sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
        for (; i < h; i++) sum += xr[i] * xr[i];
        const float inv = 1.0f / std::sqrt(sum / static_cast<float>(h) + eps);
        for (int64_t j = 0; j < h; j++) yr[j] = (xr[j] * inv) * w[j];
      }
    });
  }

 private:
  float eps_ = 0;
};

class SiluMulOp : public OpKernel {
 public:
  explicit SiluMulOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& g = ctx->input(0);
    const Tensor& u = ctx->input(1);
    OP_REQUIRES(ctx, g.shape() == u.shape(),
                errors::InvalidArgument("g and u must have one shape, got ", g.shape().DebugString(), " and ", u.shape().DebugString()));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, g.shape(), &y));
    const float* gs = g.flat<float>().data();
    const float* us = u.flat<float>().data();
    float* ys = y->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, g.NumElements(), 40, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        const float s = 1.0f / (1.0f + std::exp(-gs[i]));
        ys[i] = (gs[i] * s) * us[i];
      }
    });
  }
};

}  // namespace

REGISTER_OP("LoraRmsNorm")
    .Input("x: float")
    .Input("scale: float")
    .Output("y: float")
    .Attr("eps: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraSiluMul")
    .Input("g: float")
    .Input("u: float")
    .Output("y: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraRmsNorm").Device(tensorflow::DEVICE_CPU), RmsNormOp);
REGISTER_KERNEL_BUILDER(Name("LoraSiluMul").Device(tensorflow::DEVICE_CPU), SiluMulOp);
