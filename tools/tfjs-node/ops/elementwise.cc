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
#include <utility>

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

// One Adam / AdamW update of a variable, in the order of float32 roundings of @lora/train's tfjs
// ops (torch.optim.Adam(W)'s single-tensor path):
//   g' = g + p·wd (mode 1, Adam's L2)      m' = m + (g' − m)·(1 − β1)     v' = v·β2 + (g'·g')·(1 − β2)
//   denom = sqrt(v') / sqrt(1 − β2ᵗ) + eps  p' = base + (m' / denom)·(−step), base = p·(1 − lr·wd) (mode 2, AdamW) or p
class AdamStepOp : public OpKernel {
 public:
  explicit AdamStepOp(OpKernelConstruction* c) : OpKernel(c) {
    for (const auto& [name, field] : {std::pair<const char*, float*>{"one_minus_beta1", &oneMinusBeta1_},
                                      {"beta2", &beta2_},
                                      {"one_minus_beta2", &oneMinusBeta2_},
                                      {"bias2_sqrt", &bias2Sqrt_},
                                      {"eps", &eps_},
                                      {"neg_step_size", &negStep_},
                                      {"weight_decay", &wd_},
                                      {"decay_factor", &decayFactor_}})
      OP_REQUIRES_OK(c, c->GetAttr(name, field));
    OP_REQUIRES_OK(c, c->GetAttr("mode", &mode_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &p = ctx->input(0), &m = ctx->input(1), &v = ctx->input(2), &g = ctx->input(3);
    OP_REQUIRES(ctx, m.shape() == p.shape() && v.shape() == p.shape() && g.shape() == p.shape(),
                errors::InvalidArgument("param, exp_avg, exp_avg_sq and grad must have one shape, got ", p.shape().DebugString(), ", ",
                                        m.shape().DebugString(), ", ", v.shape().DebugString(), " and ", g.shape().DebugString()));
    Tensor *pOut = nullptr, *mOut = nullptr, *vOut = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, p.shape(), &pOut));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, p.shape(), &mOut));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, p.shape(), &vOut));
    const float *ps = p.flat<float>().data(), *ms = m.flat<float>().data(), *vs = v.flat<float>().data(), *gs = g.flat<float>().data();
    float *po = pOut->flat<float>().data(), *mo = mOut->flat<float>().data(), *vo = vOut->flat<float>().data();
    const int64_t n = p.NumElements();
    const float omb1 = oneMinusBeta1_, b2 = beta2_, omb2 = oneMinusBeta2_, bc2 = bias2Sqrt_, eps = eps_, step = negStep_, wd = wd_,
                decay = decayFactor_;
    const int64_t mode = mode_;
    auto work = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; i++) {
        const float gi = mode == 1 ? gs[i] + ps[i] * wd : gs[i];
        const float mi = ms[i] + (gi - ms[i]) * omb1;
        const float vi = vs[i] * b2 + (gi * gi) * omb2;
        const float denom = std::sqrt(vi) / bc2 + eps;
        const float base = mode == 2 ? ps[i] * decay : ps[i];
        po[i] = base + (mi / denom) * step;
        mo[i] = mi;
        vo[i] = vi;
      }
    };
    if (n < (1 << 16)) {
      work(0, n);
    } else {
      auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
      tensorflow::Shard(workers->num_threads, workers->workers, n, 30, work);
    }
  }

 private:
  float oneMinusBeta1_ = 0, beta2_ = 0, oneMinusBeta2_ = 0, bias2Sqrt_ = 1, eps_ = 0, negStep_ = 0, wd_ = 0, decayFactor_ = 1;
  int64_t mode_ = 0;
};

}  // namespace

REGISTER_OP("LoraAdamStep")
    .Input("param: float")
    .Input("exp_avg: float")
    .Input("exp_avg_sq: float")
    .Input("grad: float")
    .Output("param_out: float")
    .Output("exp_avg_out: float")
    .Output("exp_avg_sq_out: float")
    .Attr("one_minus_beta1: float")
    .Attr("beta2: float")
    .Attr("one_minus_beta2: float")
    .Attr("bias2_sqrt: float")
    .Attr("eps: float")
    .Attr("neg_step_size: float")
    .Attr("weight_decay: float")
    .Attr("decay_factor: float")
    .Attr("mode: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      for (int i = 0; i < 3; i++) c->set_output(i, c->input(0));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraAdamStep").Device(tensorflow::DEVICE_CPU), AdamStepOp);

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
