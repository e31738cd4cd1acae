// Training and prefill attention of lora_ops.node (see module.cc): grouped-query attention over a
// whole sequence as one op forward and one op backward, instead of tfjs's score tensor
// [B, KV, rep·T, S] going through a matmul, mask add, softmax and matmul (and six more ops back).
// The scores live only in a per-thread block of 64 query rows, as in FlashAttention-2's CPU
// analogue: the forward keeps each row's softmax statistics (its maximum score and the sum of
// exp(score − maximum)), from which the backward recomputes the block's probabilities exactly as
// the forward rounded them. (One log-sum-exp would not do: a fully masked row of a padded batch
// scores about −1e9, where float32 has no room left for the log of the sum.)
//
//   LoraAttention(q [B, KV, R, D], k [B, KV, S, D], v [B, KV, S, D], mask [Bm, 1, T, S])
//     -> out [B, KV, R, D], stats [B, KV, R, 2]
//   LoraAttentionGrad(q, k, v, mask, out, stats, d_out)
//     -> d_q [B, KV, R, D], d_k [B, KV, S, D], d_v [B, KV, S, D]
//
// Queries come in @lora's grouped layout (`groupedQueryAttention`): row `r·T + i` of group `g` is
// query `i` of head `g·rep + r`, R = rep·T. Scores are `(scale · q) · kᵀ + mask` (the tfjs path
// also scales the queries, not the scores); `mask` is the additive `[B or 1, 1, T, S]` mask of
// `attentionMask`, read only with `has_mask`. With `causal`, query `i` reads keys up to
// `S − T + i` only: the caller sets it when the mask is causal and no row is fully masked (no
// padding), so skipping keys the mask sets to −1e9 (whose exp is exactly 0) changes nothing.
// Products run through Eigen (the TensorFlow headers' copy); results agree with the tfjs ops to
// float32 rounding, not bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lora_ops.h"
#include "third_party/eigen3/Eigen/Core"

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMat>;
using MutMap = Eigen::Map<RowMat>;

// Query rows per block: a [64, S] score block stays in L2 for S up to a few thousand.
constexpr int64_t kBlock = 64;

// Shapes and attributes shared by the forward and the backward op.
struct Dims {
  int64_t b, kv, rows, d, s, t, rep, offset, maskBatch;
  bool hasMask, causal;
  float scale;
};

tensorflow::Status ReadDims(OpKernelContext* ctx, int64_t queryLength, bool hasMask, bool causal, float scale, Dims* dims) {
  const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2), &mask = ctx->input(3);
  if (q.dims() != 4 || k.dims() != 4 || v.shape() != k.shape())
    return errors::InvalidArgument("q [B, KV, R, D], k and v [B, KV, S, D] expected, got ", q.shape().DebugString(), ", ",
                                   k.shape().DebugString(), " and ", v.shape().DebugString());
  Dims d{};
  d.b = q.dim_size(0), d.kv = q.dim_size(1), d.rows = q.dim_size(2), d.d = q.dim_size(3), d.s = k.dim_size(2), d.t = queryLength;
  if (k.dim_size(0) != d.b || k.dim_size(1) != d.kv || k.dim_size(3) != d.d)
    return errors::InvalidArgument("k ", k.shape().DebugString(), " does not match q ", q.shape().DebugString());
  if (d.t <= 0 || d.rows % d.t != 0 || d.t > d.s)
    return errors::InvalidArgument("query_length ", d.t, " must divide the ", d.rows, " query rows and be at most the ", d.s, " keys");
  d.rep = d.rows / d.t, d.offset = d.s - d.t, d.hasMask = hasMask, d.causal = causal, d.scale = scale, d.maskBatch = 1;
  if (hasMask) {
    if (mask.dims() != 4 || (mask.dim_size(0) != 1 && mask.dim_size(0) != d.b) || mask.dim_size(1) != 1 || mask.dim_size(2) != d.t ||
        mask.dim_size(3) != d.s)
      return errors::InvalidArgument("mask must be [", d.b, " or 1, 1, ", d.t, ", ", d.s, "], got ", mask.shape().DebugString());
    d.maskBatch = mask.dim_size(0);
  }
  *dims = d;
  return tensorflow::OkStatus();
}

// The keys query `i` reads: all of them, or with `causal` those up to its own position.
inline int64_t KeysOf(const Dims& d, int64_t i) { return d.causal ? std::min(d.s, d.offset + i + 1) : d.s; }

// One block of rows [i0, i0 + rb) of one head copy: scores = (scale · q) · kᵀ + mask over the
// first `n` keys (n = the block's last row's keys), written to `scores` [rb, n]. `qs` receives the
// scaled queries [rb, D].
void BlockScores(const Dims& d, const float* qBlock, const float* keys, const float* maskRows, int64_t rb, int64_t n, RowMat& qs,
                 RowMat& scores) {
  qs = ConstMap(qBlock, rb, d.d);
  if (d.scale != 1.0f) qs *= d.scale;
  scores.resize(rb, n);
  scores.noalias() = qs * ConstMap(keys, n, d.d).transpose();
  if (maskRows != nullptr)
    for (int64_t r = 0; r < rb; r++) scores.row(r) += Eigen::Map<const Eigen::RowVectorXf>(maskRows + r * d.s, n);
}

class AttentionOp : public OpKernel {
 public:
  explicit AttentionOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
    OP_REQUIRES_OK(c, c->GetAttr("query_length", &queryLength_));
    OP_REQUIRES_OK(c, c->GetAttr("has_mask", &hasMask_));
    OP_REQUIRES_OK(c, c->GetAttr("causal", &causal_));
  }

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadDims(ctx, queryLength_, hasMask_ != 0, causal_ != 0, scale_, &d));
    Tensor *out = nullptr, *stats = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(0).shape(), &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.b, d.kv, d.rows, 2}), &stats));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const float* mask = d.hasMask ? ctx->input(3).flat<float>().data() : nullptr;
    float *o = out->flat<float>().data(), *st = stats->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    const int64_t cost = d.rows * d.s * (4 * d.d + 20);
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, cost, [&](int64_t begin, int64_t end) {
      RowMat qs, scores;
      for (int64_t task = begin; task < end; task++) {
        const int64_t bi = task / d.kv;
        const float* keys = k + task * d.s * d.d;
        const float* values = v + task * d.s * d.d;
        const float* maskBase = mask == nullptr ? nullptr : mask + (d.maskBatch == 1 ? 0 : bi) * d.t * d.s;
        for (int64_t r = 0; r < d.rep; r++) {
          for (int64_t i0 = 0; i0 < d.t; i0 += kBlock) {
            const int64_t rb = std::min(kBlock, d.t - i0), n = KeysOf(d, i0 + rb - 1);
            const int64_t row0 = task * d.rows + r * d.t + i0;
            BlockScores(d, q + row0 * d.d, keys, maskBase == nullptr ? nullptr : maskBase + i0 * d.s, rb, n, qs, scores);
            for (int64_t x = 0; x < rb; x++) {
              const int64_t lim = KeysOf(d, i0 + x);
              auto row = scores.row(x);
              const float top = row.head(lim).maxCoeff();
              row.head(lim) = (row.head(lim).array() - top).exp();
              const float sum = row.head(lim).sum();
              row.head(lim) /= sum;
              if (lim < n) row.tail(n - lim).setZero();
              st[2 * (row0 + x)] = top;
              st[2 * (row0 + x) + 1] = sum;
            }
            MutMap(o + row0 * d.d, rb, d.d).noalias() = scores * ConstMap(values, n, d.d);
          }
        }
      }
    });
  }

 private:
  float scale_ = 1;
  int64_t queryLength_ = 0;
  int64_t hasMask_ = 0, causal_ = 0;
};

class AttentionGradOp : public OpKernel {
 public:
  explicit AttentionGradOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale_));
    OP_REQUIRES_OK(c, c->GetAttr("query_length", &queryLength_));
    OP_REQUIRES_OK(c, c->GetAttr("has_mask", &hasMask_));
    OP_REQUIRES_OK(c, c->GetAttr("causal", &causal_));
  }

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadDims(ctx, queryLength_, hasMask_ != 0, causal_ != 0, scale_, &d));
    const Tensor &outT = ctx->input(4), &statsT = ctx->input(5), &dOutT = ctx->input(6);
    OP_REQUIRES(ctx, outT.shape() == ctx->input(0).shape() && dOutT.shape() == outT.shape(),
                errors::InvalidArgument("out and d_out must have q's shape ", ctx->input(0).shape().DebugString(), ", got ",
                                        outT.shape().DebugString(), " and ", dOutT.shape().DebugString()));
    OP_REQUIRES(ctx, statsT.NumElements() == 2 * d.b * d.kv * d.rows,
                errors::InvalidArgument("stats must be [", d.b, ", ", d.kv, ", ", d.rows, ", 2], got ", statsT.shape().DebugString()));
    Tensor *dqT = nullptr, *dkT = nullptr, *dvT = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(0).shape(), &dqT));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, ctx->input(1).shape(), &dkT));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, ctx->input(2).shape(), &dvT));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const float* mask = d.hasMask ? ctx->input(3).flat<float>().data() : nullptr;
    const float *o = outT.flat<float>().data(), *st = statsT.flat<float>().data(), *dO = dOutT.flat<float>().data();
    float *dq = dqT->flat<float>().data(), *dk = dkT->flat<float>().data(), *dv = dvT->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    const int64_t cost = d.rows * d.s * (10 * d.d + 30);
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, cost, [&](int64_t begin, int64_t end) {
      RowMat qs, probs, dProbs;
      Eigen::VectorXf delta;
      for (int64_t task = begin; task < end; task++) {
        const int64_t bi = task / d.kv;
        const float* keys = k + task * d.s * d.d;
        const float* values = v + task * d.s * d.d;
        const float* maskBase = mask == nullptr ? nullptr : mask + (d.maskBatch == 1 ? 0 : bi) * d.t * d.s;
        MutMap dK(dk + task * d.s * d.d, d.s, d.d), dV(dv + task * d.s * d.d, d.s, d.d);
        dK.setZero();
        dV.setZero();
        for (int64_t r = 0; r < d.rep; r++) {
          for (int64_t i0 = 0; i0 < d.t; i0 += kBlock) {
            const int64_t rb = std::min(kBlock, d.t - i0), n = KeysOf(d, i0 + rb - 1);
            const int64_t row0 = task * d.rows + r * d.t + i0;
            BlockScores(d, q + row0 * d.d, keys, maskBase == nullptr ? nullptr : maskBase + i0 * d.s, rb, n, qs, probs);
            // The forward's probabilities, rounded as it rounded them.
            for (int64_t x = 0; x < rb; x++) {
              const int64_t lim = KeysOf(d, i0 + x);
              auto row = probs.row(x);
              row.head(lim) = (row.head(lim).array() - st[2 * (row0 + x)]).exp();
              row.head(lim) /= st[2 * (row0 + x) + 1];
              if (lim < n) row.tail(n - lim).setZero();
            }
            ConstMap dOut(dO + row0 * d.d, rb, d.d), outBlock(o + row0 * d.d, rb, d.d);
            // Softmax backward: dS = P ⊙ (dP − rowsum(dO ⊙ O)), with dP = dO · Vᵀ.
            delta = (dOut.array() * outBlock.array()).rowwise().sum();
            dProbs.resize(rb, n);
            dProbs.noalias() = dOut * ConstMap(values, n, d.d).transpose();
            dV.topRows(n).noalias() += probs.transpose() * dOut;
            probs.array() *= (dProbs.colwise() - delta).array();
            // s = (scale · q) · kᵀ: dK = dSᵀ · (scale · q), dQ = scale · (dS · K).
            dK.topRows(n).noalias() += probs.transpose() * qs;
            MutMap dQ(dq + row0 * d.d, rb, d.d);
            dQ.noalias() = probs * ConstMap(keys, n, d.d);
            if (d.scale != 1.0f) dQ *= d.scale;
          }
        }
      }
    });
  }

 private:
  float scale_ = 1;
  int64_t queryLength_ = 0;
  int64_t hasMask_ = 0, causal_ = 0;
};

}  // namespace

REGISTER_OP("LoraAttention")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("mask: float")
    .Output("out: float")
    .Output("stats: float")
    .Attr("scale: float")
    .Attr("query_length: int")
    .Attr("has_mask: int")
    .Attr("causal: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShapeOfRank(4));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraAttentionGrad")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("mask: float")
    .Input("out: float")
    .Input("stats: float")
    .Input("d_out: float")
    .Output("d_q: float")
    .Output("d_k: float")
    .Output("d_v: float")
    .Attr("scale: float")
    .Attr("query_length: int")
    .Attr("has_mask: int")
    .Attr("causal: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(2));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraAttention").Device(tensorflow::DEVICE_CPU), AttentionOp);
REGISTER_KERNEL_BUILDER(Name("LoraAttentionGrad").Device(tensorflow::DEVICE_CPU), AttentionGradOp);
