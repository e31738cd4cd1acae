// LoRA linear layer of lora_ops.node (see module.cc): a frozen float32 base plus one adapter, the
// layer PEFT computes as `base(x) + lora_B(lora_A(dropout(x))) · scaling`, as one op forward and one
// op backward instead of about five and eight tfjs ops (two of them full passes over [N, out]).
//
//   LoraLinear(x [N, in], xl [N, in], w [in, out], a [in, r], b [r, out], bias [out])
//     -> y = (x · w + bias) + ((xl · a) · b) · scale  [N, out],  xa = xl · a  [N, r] (kept for the backward)
//   LoraLinearGrad(xl, w, a, b, xa, dy)
//     -> dx = dy · wᵀ (+ dxl unless `split`),  dxl = ((dy · scale) · bᵀ) · aᵀ (only with `split`, else [0]),
//        da = xlᵀ · ((dy · scale) · bᵀ),  db = xaᵀ · (dy · scale)
//
// `xl` is the adapter's input: `x` itself (pass it twice), or `x` after dropout while training,
// whose gradient the caller routes back through the dropout (`split`).
//
// `bias` is read only with `has_bias`. Rows are split in fixed chunks (their count depends on N
// only), each chunk's partial da / db summed in chunk order: the result does not depend on how
// TensorFlow's threads take the chunks, so a run is repeatable bit for bit. Products through Eigen;
// results agree with the tfjs ops to float32 rounding.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "lora_ops.h"
#include "third_party/eigen3/Eigen/Core"

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;
using MutMap = Eigen::Map<RowMat>;

// Rows per chunk: at least 64, at most 16 chunks.
int64_t ChunkRows(int64_t n) { return std::max<int64_t>(64, (n + 15) / 16); }

struct LinearDims {
  int64_t n, in, out, r;
};

// Reads x [N, in] and w, a, b from inputs `first`, `first + 1`, `first + 2`, `first + 3`.
tensorflow::Status ReadLinearDims(OpKernelContext* ctx, int first, LinearDims* dims) {
  const Tensor &x = ctx->input(first), &w = ctx->input(first + 1), &a = ctx->input(first + 2), &b = ctx->input(first + 3);
  if (x.dims() != 2 || w.dims() != 2 || a.dims() != 2 || b.dims() != 2)
    return errors::InvalidArgument("x, w, a and b must be matrices, got ", x.shape().DebugString(), ", ", w.shape().DebugString(), ", ",
                                   a.shape().DebugString(), " and ", b.shape().DebugString());
  LinearDims d{x.dim_size(0), x.dim_size(1), w.dim_size(1), a.dim_size(1)};
  if (w.dim_size(0) != d.in || a.dim_size(0) != d.in || b.dim_size(0) != d.r || b.dim_size(1) != d.out)
    return errors::InvalidArgument("x [N, in], w [in, out], a [in, r], b [r, out] must agree, got ", x.shape().DebugString(), ", ",
                                   w.shape().DebugString(), ", ", a.shape().DebugString(), " and ", b.shape().DebugString());
  *dims = d;
  return tensorflow::OkStatus();
}

class LoraLinearOp : public OpKernel {
 public:
  explicit LoraLinearOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
    OP_REQUIRES_OK(c, c->GetAttr("has_bias", &hasBias_));
  }

  void Compute(OpKernelContext* ctx) override {
    LinearDims d;
    OP_REQUIRES_OK(ctx, ReadLinearDims(ctx, 1, &d));
    const Tensor &x = ctx->input(0), &bias = ctx->input(5);
    OP_REQUIRES(ctx, x.shape() == ctx->input(1).shape(),
                errors::InvalidArgument("x and xl must have one shape, got ", x.shape().DebugString(), " and ", ctx->input(1).shape().DebugString()));
    OP_REQUIRES(ctx, hasBias_ == 0 || (bias.dims() == 1 && bias.dim_size(0) == d.out),
                errors::InvalidArgument("bias must be [", d.out, "], got ", bias.shape().DebugString()));
    Tensor *y = nullptr, *xa = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({d.n, d.out}), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.n, d.r}), &xa));
    const float *xs = x.flat<float>().data(), *xls = ctx->input(1).flat<float>().data(), *ws = ctx->input(2).flat<float>().data(),
                *as = ctx->input(3).flat<float>().data(), *bs = ctx->input(4).flat<float>().data();
    const float* bias0 = hasBias_ != 0 ? bias.flat<float>().data() : nullptr;
    float *ys = y->flat<float>().data(), *xas = xa->flat<float>().data();
    const int64_t rows = ChunkRows(d.n), chunks = (d.n + rows - 1) / rows;
    const float scale = scale_;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, chunks, rows * (d.in * d.out + d.in * d.r + d.r * d.out) * 2,
                      [&](int64_t begin, int64_t end) {
                        RowMat lora;
                        for (int64_t c = begin; c < end; c++) {
                          const int64_t r0 = c * rows, rb = std::min(rows, d.n - r0);
                          ConstMap xb(xs + r0 * d.in, rb, d.in), xlb(xls + r0 * d.in, rb, d.in);
                          MutMap yb(ys + r0 * d.out, rb, d.out), xab(xas + r0 * d.r, rb, d.r);
                          xab.noalias() = xlb * ConstMap(as, d.in, d.r);
                          yb.noalias() = xb * ConstMap(ws, d.in, d.out);
                          if (bias0 != nullptr) yb.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias0, d.out);
                          lora.resize(rb, d.out);
                          lora.noalias() = xab * ConstMap(bs, d.r, d.out);
                          yb += lora * scale;
                        }
                      });
  }

 private:
  float scale_ = 1;
  int64_t hasBias_ = 0;
};

class LoraLinearGradOp : public OpKernel {
 public:
  explicit LoraLinearGradOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
    OP_REQUIRES_OK(c, c->GetAttr("split", &split_));
  }

  void Compute(OpKernelContext* ctx) override {
    LinearDims d;
    OP_REQUIRES_OK(ctx, ReadLinearDims(ctx, 0, &d));
    const Tensor &xa = ctx->input(4), &dy = ctx->input(5);
    OP_REQUIRES(ctx, xa.shape() == TensorShape({d.n, d.r}) && dy.shape() == TensorShape({d.n, d.out}),
                errors::InvalidArgument("xa must be [", d.n, ", ", d.r, "] and dy [", d.n, ", ", d.out, "], got ", xa.shape().DebugString(),
                                        " and ", dy.shape().DebugString()));
    Tensor *dx = nullptr, *dxl = nullptr, *da = nullptr, *db = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({d.n, d.in}), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, split_ != 0 ? TensorShape({d.n, d.in}) : TensorShape({0}), &dxl));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({d.in, d.r}), &da));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({d.r, d.out}), &db));
    const float *xs = ctx->input(0).flat<float>().data(), *ws = ctx->input(1).flat<float>().data(),
                *as = ctx->input(2).flat<float>().data(), *bs = ctx->input(3).flat<float>().data(), *xas = xa.flat<float>().data(),
                *dys = dy.flat<float>().data();
    float* dxs = dx->flat<float>().data();
    float* dxls = split_ != 0 ? dxl->flat<float>().data() : nullptr;
    const int64_t rows = ChunkRows(d.n), chunks = (d.n + rows - 1) / rows;
    // Per chunk, its partial da [in, r] and db [r, out].
    std::vector<float> partA(chunks * d.in * d.r), partB(chunks * d.r * d.out);
    const float scale = scale_;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, chunks, rows * (d.in * d.out + 2 * d.in * d.r + 2 * d.r * d.out) * 2,
                      [&](int64_t begin, int64_t end) {
                        RowMat scaled, t;
                        for (int64_t c = begin; c < end; c++) {
                          const int64_t r0 = c * rows, rb = std::min(rows, d.n - r0);
                          ConstMap dyb(dys + r0 * d.out, rb, d.out), xb(xs + r0 * d.in, rb, d.in), xab(xas + r0 * d.r, rb, d.r);
                          scaled = dyb * scale;
                          t.resize(rb, d.r);
                          t.noalias() = scaled * ConstMap(bs, d.r, d.out).transpose();
                          MutMap dxb(dxs + r0 * d.in, rb, d.in);
                          dxb.noalias() = dyb * ConstMap(ws, d.in, d.out).transpose();
                          if (dxls == nullptr) dxb.noalias() += t * ConstMap(as, d.in, d.r).transpose();
                          else MutMap(dxls + r0 * d.in, rb, d.in).noalias() = t * ConstMap(as, d.in, d.r).transpose();
                          MutMap(partA.data() + c * d.in * d.r, d.in, d.r).noalias() = xb.transpose() * t;
                          MutMap(partB.data() + c * d.r * d.out, d.r, d.out).noalias() = xab.transpose() * scaled;
                        }
                      });
    MutMap daM(da->flat<float>().data(), d.in, d.r), dbM(db->flat<float>().data(), d.r, d.out);
    daM = ConstMap(partA.data(), d.in, d.r);
    dbM = ConstMap(partB.data(), d.r, d.out);
    for (int64_t c = 1; c < chunks; c++) {
      daM += ConstMap(partA.data() + c * d.in * d.r, d.in, d.r);
      dbM += ConstMap(partB.data() + c * d.r * d.out, d.r, d.out);
    }
  }

 private:
  float scale_ = 1;
  int64_t split_ = 0;
};

}  // namespace

REGISTER_OP("LoraLinear")
    .Input("x: float")
    .Input("xl: float")
    .Input("w: float")
    .Input("a: float")
    .Input("b: float")
    .Input("bias: float")
    .Output("y: float")
    .Output("xa: float")
    .Attr("scale: float")
    .Attr("has_bias: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->Matrix(c->Dim(c->input(0), 0), c->Dim(c->input(2), 1)));
      c->set_output(1, c->Matrix(c->Dim(c->input(0), 0), c->Dim(c->input(3), 1)));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraLinearGrad")
    .Input("xl: float")
    .Input("w: float")
    .Input("a: float")
    .Input("b: float")
    .Input("xa: float")
    .Input("dy: float")
    .Output("dx: float")
    .Output("dxl: float")
    .Output("da: float")
    .Output("db: float")
    .Attr("scale: float")
    .Attr("split: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShape());
      c->set_output(2, c->input(2));
      c->set_output(3, c->input(3));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraLinear").Device(tensorflow::DEVICE_CPU), LoraLinearOp);
REGISTER_KERNEL_BUILDER(Name("LoraLinearGrad").Device(tensorflow::DEVICE_CPU), LoraLinearGradOp);
