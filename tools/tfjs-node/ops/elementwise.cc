// Elementwise kernels of lora_ops.node (see module.cc) for the decoding path, where a decoder
// layer's norms and gate otherwise take nine tfjs ops (each 5–20 µs of dispatch on tfjs-node):
//
//   LoraRmsNorm(x: float [..., H], scale: float [H]) -> y   y = x · rsqrt(mean(x²) + eps) · scale
//   LoraSiluMul(g: float, u: float, same shape)      -> y   y = g · sigmoid(g) · u
//   LoraAddRmsNorm(x, delta: float [..., H], scale [H]) -> (h, y)   h = x + delta, y = RmsNorm(h)
//   LoraMatMulN(x [M, K], w_0 [K, N_0], …)           -> y_i = x · w_i   (float32 weights, [in, out])
//
// and for training, the gradients of the first two (the layers run the forward ops above inside a
// hand-written gradient):
//
//   LoraRmsNormGrad(x, scale, dy)  -> dx   = r · (g − x̂ · mean(g · x̂)), g = dy · scale, x̂ = x · r,
//                                             r = rsqrt(mean(x²) + eps)   (the scale is frozen)
//   LoraSiluMulGrad(g, u, dy)      -> (dg, du)   du = dy · silu(g), dg = dy · u · s · (1 + g · (1 − s))
//
// Same formulas, in the same order of float32 roundings per element, as the tfjs ops they
// replace (`RMSNorm.apply`, the gated MLP); the mean's sum and the sigmoid are computed in another
// order / approximation than TensorFlow's, so results agree to float32 rounding, not bit for bit.
// The forward ops have no registered gradient of their own: under a tape the layers pair them with
// the gradient ops inside `customGrad`.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lora_ops.h"

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

// One row of RmsNorm: y = (x · rsqrt(mean(x²) + eps)) · w.
void RmsNormRow(const float* xr, const float* w, int64_t h, float eps, float* yr) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= h; i += 8)
    for (int l = 0; l < 8; l++) part[l] += xr[i + l] * xr[i + l];
  float sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
  for (; i < h; i++) sum += xr[i] * xr[i];
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(h) + eps);
  for (int64_t j = 0; j < h; j++) yr[j] = (xr[j] * inv) * w[j];
}

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
        RmsNormRow(xs + r * h, w, h, eps, ys + r * h);
      }
    });
  }

 private:
  float eps_ = 0;
};

class AddRmsNormOp : public OpKernel {
 public:
  explicit AddRmsNormOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("eps", &eps_)); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& delta = ctx->input(1);
    const Tensor& scale = ctx->input(2);
    OP_REQUIRES(ctx, x.shape() == delta.shape() && x.dims() >= 1 && scale.dims() == 1 && x.dim_size(x.dims() - 1) == scale.dim_size(0),
                errors::InvalidArgument("x and delta [..., H] and scale [H] must agree, got ", x.shape().DebugString(), ", ",
                                        delta.shape().DebugString(), " and ", scale.shape().DebugString()));
    Tensor *h = nullptr, *y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &h));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, x.shape(), &y));
    const int64_t width = scale.dim_size(0);
    if (width == 0 || x.NumElements() == 0) return;
    const float *xs = x.flat<float>().data(), *ds = delta.flat<float>().data(), *w = scale.flat<float>().data();
    float *hs = h->flat<float>().data(), *ys = y->flat<float>().data();
    const int64_t rows = x.NumElements() / width;
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t j = 0; j < width; j++) hs[r * width + j] = xs[r * width + j] + ds[r * width + j];
      RmsNormRow(hs + r * width, w, width, eps_, ys + r * width);
    }
  }

 private:
  float eps_ = 0;
};

// y_i = x · w_i for float32 weights stored [in, out]; one pass over the rows of each weight,
// adding x[m, k] · w[k, :] into every row m of y (so each weight row is read once).
class MatMulNOp : public OpKernel {
 public:
  explicit MatMulNOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("N", &count_)); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() == 2, errors::InvalidArgument("x must be [rows, in], got ", x.shape().DebugString()));
    const int64_t m = x.dim_size(0), k = x.dim_size(1);
    const float* xs = x.flat<float>().data();
    for (int i = 0; i < count_; i++) {
      const Tensor& w = ctx->input(1 + i);
      OP_REQUIRES(ctx, w.dims() == 2 && w.dim_size(0) == k,
                  errors::InvalidArgument("weight ", i, " must be [", k, ", out], got ", w.shape().DebugString()));
      const int64_t n = w.dim_size(1);
      Tensor* y = nullptr;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(i, tensorflow::TensorShape({m, n}), &y));
      const float* ws = w.flat<float>().data();
      float* ys = y->flat<float>().data();
      auto work = [&](int64_t begin, int64_t end) {  // columns [begin, end)
        for (int64_t r = 0; r < m; r++)
          for (int64_t j = begin; j < end; j++) ys[r * n + j] = 0.f;
        for (int64_t t = 0; t < k; t++) {
          const float* wr = ws + t * n;
          for (int64_t r = 0; r < m; r++) {
            const float xv = xs[r * k + t];
            float* yr = ys + r * n;
            for (int64_t j = begin; j < end; j++) yr[j] += xv * wr[j];
          }
        }
      };
      if (k * n * m < (1 << 18)) {
        work(0, n);
      } else {
        auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
        tensorflow::Shard(workers->num_threads, workers->workers, n, k * m, work);
      }
    }
  }

 private:
  int count_ = 1;
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
      for (int64_t i = begin; i < end; i++) ys[i] = SiluMul(gs[i], us[i]);
    });
  }
};

// Σ_{j < n} term(j) in 8 interleaved partial sums (vectorizable without reassociating flags).
template <typename Term>
inline float Sum8(Term term, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) part[l] += term(i + l);
  float sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
  for (; i < n; i++) sum += term(i);
  return sum;
}

class RmsNormGradOp : public OpKernel {
 public:
  explicit RmsNormGradOp(OpKernelConstruction* c) : OpKernel(c) { OP_REQUIRES_OK(c, c->GetAttr("eps", &eps_)); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &scale = ctx->input(1), &dy = ctx->input(2);
    OP_REQUIRES(ctx, x.shape() == dy.shape() && x.dims() >= 1 && scale.dims() == 1 && x.dim_size(x.dims() - 1) == scale.dim_size(0),
                errors::InvalidArgument("x and dy [..., H] and scale [H] must agree, got ", x.shape().DebugString(), ", ",
                                        dy.shape().DebugString(), " and ", scale.shape().DebugString()));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    const int64_t h = scale.dim_size(0);
    if (h == 0 || x.NumElements() == 0) return;
    const int64_t rows = x.NumElements() / h;
    const float *xs = x.flat<float>().data(), *w = scale.flat<float>().data(), *dys = dy.flat<float>().data();
    float* dxs = dx->flat<float>().data();
    const float eps = eps_;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, rows, h * 10, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) {
        const float *xr = xs + r * h, *dyr = dys + r * h;
        float* out = dxs + r * h;
        const float inv = 1.0f / std::sqrt(Sum8([&](int64_t j) { return xr[j] * xr[j]; }, h) / static_cast<float>(h) + eps);
        const float mean = Sum8([&](int64_t j) { return (dyr[j] * w[j]) * (xr[j] * inv); }, h) / static_cast<float>(h);
        for (int64_t j = 0; j < h; j++) out[j] = ((dyr[j] * w[j]) - (xr[j] * inv) * mean) * inv;
      }
    });
  }

 private:
  float eps_ = 0;
};

class SiluMulGradOp : public OpKernel {
 public:
  explicit SiluMulGradOp(OpKernelConstruction* c) : OpKernel(c) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor &g = ctx->input(0), &u = ctx->input(1), &dy = ctx->input(2);
    OP_REQUIRES(ctx, g.shape() == u.shape() && g.shape() == dy.shape(),
                errors::InvalidArgument("g, u and dy must have one shape, got ", g.shape().DebugString(), ", ", u.shape().DebugString(),
                                        " and ", dy.shape().DebugString()));
    Tensor *dg = nullptr, *du = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, g.shape(), &dg));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, g.shape(), &du));
    const float *gs = g.flat<float>().data(), *us = u.flat<float>().data(), *dys = dy.flat<float>().data();
    float *dgs = dg->flat<float>().data(), *dus = du->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, g.NumElements(), 40, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        const float gi = gs[i], s = Sigmoid(gi), dyi = dys[i];
        dus[i] = dyi * (gi * s);
        dgs[i] = (dyi * us[i]) * (s * (gi * (1.0f - s) + 1.0f));
      }
    });
  }
};

}  // namespace

REGISTER_OP("LoraRmsNormGrad")
    .Input("x: float")
    .Input("scale: float")
    .Input("dy: float")
    .Output("dx: float")
    .Attr("eps: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraSiluMulGrad")
    .Input("g: float")
    .Input("u: float")
    .Input("dy: float")
    .Output("dg: float")
    .Output("du: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraRmsNormGrad").Device(tensorflow::DEVICE_CPU), RmsNormGradOp);
REGISTER_KERNEL_BUILDER(Name("LoraSiluMulGrad").Device(tensorflow::DEVICE_CPU), SiluMulGradOp);

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

REGISTER_OP("LoraAddRmsNorm")
    .Input("x: float")
    .Input("delta: float")
    .Input("scale: float")
    .Output("h: float")
    .Output("y: float")
    .Attr("eps: float")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraMatMulN")
    .Input("x: float")
    .Input("w: N * float")
    .Output("y: N * float")
    .Attr("N: int >= 1")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      for (int i = 1; i < c->num_inputs(); i++) c->set_output(i - 1, c->Matrix(c->Dim(c->input(0), 0), c->Dim(c->input(i), 1)));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraAddRmsNorm").Device(tensorflow::DEVICE_CPU), AddRmsNormOp);
REGISTER_KERNEL_BUILDER(Name("LoraMatMulN").Device(tensorflow::DEVICE_CPU), MatMulNOp);
REGISTER_KERNEL_BUILDER(Name("LoraRmsNorm").Device(tensorflow::DEVICE_CPU), RmsNormOp);
REGISTER_KERNEL_BUILDER(Name("LoraSiluMul").Device(tensorflow::DEVICE_CPU), SiluMulOp);
