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

// With `has_mask`: checks the mask is [B or 1, 1, T, S] and sets `maskBatch`.
tensorflow::Status ReadMaskBatch(const Tensor& mask, Dims* d) {
  if (!d->hasMask) return tensorflow::OkStatus();
  if (mask.dims() != 4 || (mask.dim_size(0) != 1 && mask.dim_size(0) != d->b) || mask.dim_size(1) != 1 || mask.dim_size(2) != d->t ||
      mask.dim_size(3) != d->s)
    return errors::InvalidArgument("mask must be [", d->b, " or 1, 1, ", d->t, ", ", d->s, "], got ", mask.shape().DebugString());
  d->maskBatch = mask.dim_size(0);
  return tensorflow::OkStatus();
}

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
  TF_RETURN_IF_ERROR(ReadMaskBatch(mask, &d));
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

// Scratch of one thread.
struct Scratch {
  RowMat qs, scores, dProbs;
  Eigen::VectorXf delta;
};

// The forward of one (batch row, KV group): `q` [rows, D] grouped queries, `k`/`v` [S, D], `maskBase`
// [T, S] (or null); writes `o` [rows, D] and `st` [rows, 2] (maximum score, softmax denominator).
void ForwardGroup(const Dims& d, const float* q, const float* k, const float* v, const float* maskBase, float* o, float* st, Scratch& w) {
  for (int64_t r = 0; r < d.rep; r++) {
    for (int64_t i0 = 0; i0 < d.t; i0 += kBlock) {
      const int64_t rb = std::min(kBlock, d.t - i0), n = KeysOf(d, i0 + rb - 1);
      const int64_t row0 = r * d.t + i0;
      BlockScores(d, q + row0 * d.d, k, maskBase == nullptr ? nullptr : maskBase + i0 * d.s, rb, n, w.qs, w.scores);
      for (int64_t x = 0; x < rb; x++) {
        const int64_t lim = KeysOf(d, i0 + x);
        auto row = w.scores.row(x);
        const float top = row.head(lim).maxCoeff();
        row.head(lim) = (row.head(lim).array() - top).exp();
        const float sum = row.head(lim).sum();
        row.head(lim) /= sum;
        if (lim < n) row.tail(n - lim).setZero();
        st[2 * (row0 + x)] = top;
        st[2 * (row0 + x) + 1] = sum;
      }
      MutMap(o + row0 * d.d, rb, d.d).noalias() = w.scores * ConstMap(v, n, d.d);
    }
  }
}

// The backward of one (batch row, KV group), inputs as ForwardGroup's plus its `o` and `st` and
// the output gradient `dO` [rows, D]; writes `dq` [rows, D], `dk` and `dv` [S, D].
void BackwardGroup(const Dims& d, const float* q, const float* k, const float* v, const float* maskBase, const float* o, const float* st,
                   const float* dO, float* dq, float* dk, float* dv, Scratch& w) {
  MutMap dK(dk, d.s, d.d), dV(dv, d.s, d.d);
  dK.setZero();
  dV.setZero();
  for (int64_t r = 0; r < d.rep; r++) {
    for (int64_t i0 = 0; i0 < d.t; i0 += kBlock) {
      const int64_t rb = std::min(kBlock, d.t - i0), n = KeysOf(d, i0 + rb - 1);
      const int64_t row0 = r * d.t + i0;
      RowMat& probs = w.scores;
      BlockScores(d, q + row0 * d.d, k, maskBase == nullptr ? nullptr : maskBase + i0 * d.s, rb, n, w.qs, probs);
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
      w.delta = (dOut.array() * outBlock.array()).rowwise().sum();
      w.dProbs.resize(rb, n);
      w.dProbs.noalias() = dOut * ConstMap(v, n, d.d).transpose();
      dV.topRows(n).noalias() += probs.transpose() * dOut;
      probs.array() *= (w.dProbs.colwise() - w.delta).array();
      // s = (scale · q) · kᵀ: dK = dSᵀ · (scale · q), dQ = scale · (dS · K).
      dK.topRows(n).noalias() += probs.transpose() * w.qs;
      MutMap dQ(dq + row0 * d.d, rb, d.d);
      dQ.noalias() = probs * ConstMap(k, n, d.d);
      if (d.scale != 1.0f) dQ *= d.scale;
    }
  }
}

// Attributes shared by the four ops.
struct AttentionAttrs {
  float scale = 1;
  int64_t queryLength = 0, hasMask = 0, causal = 0;
  explicit AttentionAttrs(OpKernelConstruction* c) {
    OP_REQUIRES_OK(c, c->GetAttr("scale", &scale));
    OP_REQUIRES_OK(c, c->GetAttr("query_length", &queryLength));
    OP_REQUIRES_OK(c, c->GetAttr("has_mask", &hasMask));
    OP_REQUIRES_OK(c, c->GetAttr("causal", &causal));
  }
};

const float* MaskOf(const Dims& d, const float* mask, int64_t bi) {
  return mask == nullptr ? nullptr : mask + (d.maskBatch == 1 ? 0 : bi) * d.t * d.s;
}

class AttentionOp : public OpKernel {
 public:
  explicit AttentionOp(OpKernelConstruction* c) : OpKernel(c), attrs_(c) {}

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadDims(ctx, attrs_.queryLength, attrs_.hasMask != 0, attrs_.causal != 0, attrs_.scale, &d));
    Tensor *out = nullptr, *stats = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(0).shape(), &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.b, d.kv, d.rows, 2}), &stats));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const float* mask = d.hasMask ? ctx->input(3).flat<float>().data() : nullptr;
    float *o = out->flat<float>().data(), *st = stats->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, d.rows * d.s * (4 * d.d + 20), [&](int64_t begin, int64_t end) {
      Scratch w;
      for (int64_t task = begin; task < end; task++) {
        const int64_t rows = task * d.rows, keys = task * d.s;
        ForwardGroup(d, q + rows * d.d, k + keys * d.d, v + keys * d.d, MaskOf(d, mask, task / d.kv), o + rows * d.d, st + 2 * rows, w);
      }
    });
  }

 private:
  AttentionAttrs attrs_;
};

// What a backward op reads and writes besides q, k, v and the mask: the forward's `out` and
// `stats` and the output gradient (inputs first..first+2), and the gradients of q, k, v (outputs
// 0–2, their inputs' shapes).
struct GradIo {
  const float *o = nullptr, *st = nullptr, *dO = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
};

tensorflow::Status ReadGradIo(OpKernelContext* ctx, const Dims& d, int first, GradIo* io) {
  const Tensor &q = ctx->input(0), &out = ctx->input(first), &stats = ctx->input(first + 1), &dOut = ctx->input(first + 2);
  if (out.shape() != q.shape() || dOut.shape() != q.shape())
    return errors::InvalidArgument("out and d_out must have q's shape ", q.shape().DebugString(), ", got ", out.shape().DebugString(), " and ",
                                   dOut.shape().DebugString());
  if (stats.NumElements() != 2 * d.b * d.kv * d.rows)
    return errors::InvalidArgument("stats must be [", d.b, ", ", d.kv, ", ", d.rows, ", 2], got ", stats.shape().DebugString());
  Tensor* grads[3] = {nullptr, nullptr, nullptr};
  for (int i = 0; i < 3; i++) TF_RETURN_IF_ERROR(ctx->allocate_output(i, ctx->input(i).shape(), &grads[i]));
  io->o = out.flat<float>().data(), io->st = stats.flat<float>().data(), io->dO = dOut.flat<float>().data();
  io->dq = grads[0]->flat<float>().data(), io->dk = grads[1]->flat<float>().data(), io->dv = grads[2]->flat<float>().data();
  return tensorflow::OkStatus();
}

class AttentionGradOp : public OpKernel {
 public:
  explicit AttentionGradOp(OpKernelConstruction* c) : OpKernel(c), attrs_(c) {}

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadDims(ctx, attrs_.queryLength, attrs_.hasMask != 0, attrs_.causal != 0, attrs_.scale, &d));
    GradIo io;
    OP_REQUIRES_OK(ctx, ReadGradIo(ctx, d, 4, &io));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const float* mask = d.hasMask ? ctx->input(3).flat<float>().data() : nullptr;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, d.rows * d.s * (10 * d.d + 30), [&](int64_t begin, int64_t end) {
      Scratch w;
      for (int64_t task = begin; task < end; task++) {
        const int64_t rows = task * d.rows, keys = task * d.s;
        BackwardGroup(d, q + rows * d.d, k + keys * d.d, v + keys * d.d, MaskOf(d, mask, task / d.kv), io.o + rows * d.d, io.st + 2 * rows,
                      io.dO + rows * d.d, io.dq + rows * d.d, io.dk + keys * d.d, io.dv + keys * d.d, w);
      }
    });
  }

 private:
  AttentionAttrs attrs_;
};

// ---- With the rotary embedding and the head layout folded in ------------------------------------
//
//   LoraRopeAttention(q [B·T, H·D], k [B·T, KV·D], v [B·T, KV·D], cos [B, 1, T, D], sin [B, 1, T, D],
//                     mask [Bm, 1, T, T])  -> out [B·T, H·D], stats [B, KV, rep·T, 2]
//   LoraRopeAttentionGrad(q, k, v, cos, sin, mask, out, stats, d_out) -> d_q, d_k, d_v (q, k, v's shapes)
//
// The projections' rows as they come out of q/k/v_proj, the output as o_proj takes it: what the
// tfjs path does with reshapes, transposes and the rotation (`applyRope`: x·cos + roll(x)·sin, with
// roll(x)[j] = x[(j + D/2) mod D] and the signed sin table) happens while gathering one group's
// rows into the scratch, with the same roundings; its gradient (dy·cos + roll(dy·sin)) while
// scattering. Self-attention without a cache: S = T.

struct RopeTables {
  const float *cos, *sin;  // [B, T, D]
};

// Gathers head `head` of batch row `bi` from `x` [B·T, heads·D] into `out` [T, D], rotated when `rope`.
void GatherHead(const Dims& d, const float* x, int64_t heads, int64_t bi, int64_t head, const RopeTables* rope, float* out) {
  const int64_t half = d.d / 2, width = heads * d.d;
  for (int64_t t = 0; t < d.t; t++) {
    const float* src = x + (bi * d.t + t) * width + head * d.d;
    float* dst = out + t * d.d;
    if (rope == nullptr) {
      for (int64_t j = 0; j < d.d; j++) dst[j] = src[j];
      continue;
    }
    const float *c = rope->cos + (bi * d.t + t) * d.d, *s = rope->sin + (bi * d.t + t) * d.d;
    for (int64_t j = 0; j < d.d; j++) {
      const float rolled = src[j < half ? j + half : j - half];
      dst[j] = src[j] * c[j] + rolled * s[j];
    }
  }
}

// Scatters the gradient `g` [T, D] of a gathered head back to `dx` [B·T, heads·D], through the
// rotation's gradient when `rope`: dx = g·cos + roll(g·sin).
void ScatterHead(const Dims& d, const float* g, int64_t heads, int64_t bi, int64_t head, const RopeTables* rope, float* dx) {
  const int64_t half = d.d / 2, width = heads * d.d;
  for (int64_t t = 0; t < d.t; t++) {
    const float* src = g + t * d.d;
    float* dst = dx + (bi * d.t + t) * width + head * d.d;
    if (rope == nullptr) {
      for (int64_t j = 0; j < d.d; j++) dst[j] = src[j];
      continue;
    }
    const float *c = rope->cos + (bi * d.t + t) * d.d, *s = rope->sin + (bi * d.t + t) * d.d;
    for (int64_t j = 0; j < d.d; j++) {
      const int64_t m = j < half ? j + half : j - half;
      dst[j] = src[j] * c[j] + src[m] * s[m];
    }
  }
}

tensorflow::Status ReadRopeDims(OpKernelContext* ctx, const AttentionAttrs& a, int64_t heads, int64_t kvHeads, Dims* dims) {
  const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2), &cos = ctx->input(3), &sin = ctx->input(4),
               &mask = ctx->input(5);
  const int64_t t = a.queryLength;
  if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return errors::InvalidArgument("heads (", heads, ") must be a positive multiple of kv_heads (", kvHeads, ")");
  if (t <= 0 || q.dims() != 2 || q.dim_size(0) % t != 0 || q.dim_size(1) % heads != 0)
    return errors::InvalidArgument("q must be [B·", t, ", heads·D] with ", heads, " heads, got ", q.shape().DebugString());
  Dims d{};
  d.b = q.dim_size(0) / t, d.kv = kvHeads, d.d = q.dim_size(1) / heads, d.t = t, d.s = t, d.rep = heads / kvHeads;
  d.rows = d.rep * t, d.offset = 0, d.hasMask = a.hasMask != 0, d.causal = a.causal != 0, d.scale = a.scale, d.maskBatch = 1;
  if (d.d % 2 != 0) return errors::InvalidArgument("the head dimension ", d.d, " must be even for the rotary embedding");
  const TensorShape kvShape({d.b * t, kvHeads * d.d});
  if (k.shape() != kvShape || v.shape() != kvShape)
    return errors::InvalidArgument("k and v must be ", kvShape.DebugString(), ", got ", k.shape().DebugString(), " and ",
                                   v.shape().DebugString());
  const TensorShape tableShape({d.b, 1, t, d.d});
  if (cos.shape() != tableShape || sin.shape() != tableShape)
    return errors::InvalidArgument("cos and sin must be ", tableShape.DebugString(), ", got ", cos.shape().DebugString(), " and ",
                                   sin.shape().DebugString());
  TF_RETURN_IF_ERROR(ReadMaskBatch(mask, &d));
  *dims = d;
  return tensorflow::OkStatus();
}

// One group's gathered inputs: queries [rows, D], keys and values [T, D].
struct GroupInputs {
  std::vector<float> q, k, v;
  void Gather(const Dims& d, const float* qs, const float* ks, const float* vs, int64_t bi, int64_t g, const RopeTables& rope) {
    q.resize(d.rows * d.d), k.resize(d.s * d.d), v.resize(d.s * d.d);
    for (int64_t r = 0; r < d.rep; r++) GatherHead(d, qs, d.kv * d.rep, bi, g * d.rep + r, &rope, q.data() + r * d.t * d.d);
    GatherHead(d, ks, d.kv, bi, g, &rope, k.data());
    GatherHead(d, vs, d.kv, bi, g, nullptr, v.data());
  }
};

class RopeAttentionOp : public OpKernel {
 public:
  explicit RopeAttentionOp(OpKernelConstruction* c) : OpKernel(c), attrs_(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("kv_heads", &kvHeads_));
  }

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadRopeDims(ctx, attrs_, heads_, kvHeads_, &d));
    Tensor *out = nullptr, *stats = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(0).shape(), &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({d.b, d.kv, d.rows, 2}), &stats));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const RopeTables rope{ctx->input(3).flat<float>().data(), ctx->input(4).flat<float>().data()};
    const float* mask = d.hasMask ? ctx->input(5).flat<float>().data() : nullptr;
    float *o = out->flat<float>().data(), *st = stats->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, d.rows * d.s * (4 * d.d + 20), [&](int64_t begin, int64_t end) {
      Scratch w;
      GroupInputs in;
      std::vector<float> og(d.rows * d.d);
      for (int64_t task = begin; task < end; task++) {
        const int64_t bi = task / d.kv, g = task % d.kv;
        in.Gather(d, q, k, v, bi, g, rope);
        ForwardGroup(d, in.q.data(), in.k.data(), in.v.data(), MaskOf(d, mask, bi), og.data(), st + 2 * task * d.rows, w);
        for (int64_t r = 0; r < d.rep; r++) ScatterHead(d, og.data() + r * d.t * d.d, heads_, bi, g * d.rep + r, nullptr, o);
      }
    });
  }

 private:
  AttentionAttrs attrs_;
  int64_t heads_ = 0, kvHeads_ = 0;
};

class RopeAttentionGradOp : public OpKernel {
 public:
  explicit RopeAttentionGradOp(OpKernelConstruction* c) : OpKernel(c), attrs_(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("kv_heads", &kvHeads_));
  }

  void Compute(OpKernelContext* ctx) override {
    Dims d;
    OP_REQUIRES_OK(ctx, ReadRopeDims(ctx, attrs_, heads_, kvHeads_, &d));
    GradIo io;
    OP_REQUIRES_OK(ctx, ReadGradIo(ctx, d, 6, &io));
    const float *q = ctx->input(0).flat<float>().data(), *k = ctx->input(1).flat<float>().data(),
                *v = ctx->input(2).flat<float>().data();
    const RopeTables rope{ctx->input(3).flat<float>().data(), ctx->input(4).flat<float>().data()};
    const float* mask = d.hasMask ? ctx->input(5).flat<float>().data() : nullptr;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, d.b * d.kv, d.rows * d.s * (10 * d.d + 30), [&](int64_t begin, int64_t end) {
      Scratch w;
      GroupInputs in;
      std::vector<float> og(d.rows * d.d), dOg(d.rows * d.d), dQg(d.rows * d.d), dKg(d.s * d.d), dVg(d.s * d.d);
      for (int64_t task = begin; task < end; task++) {
        const int64_t bi = task / d.kv, g = task % d.kv;
        in.Gather(d, q, k, v, bi, g, rope);
        for (int64_t r = 0; r < d.rep; r++) {
          GatherHead(d, io.o, heads_, bi, g * d.rep + r, nullptr, og.data() + r * d.t * d.d);
          GatherHead(d, io.dO, heads_, bi, g * d.rep + r, nullptr, dOg.data() + r * d.t * d.d);
        }
        BackwardGroup(d, in.q.data(), in.k.data(), in.v.data(), MaskOf(d, mask, bi), og.data(), io.st + 2 * task * d.rows, dOg.data(),
                      dQg.data(), dKg.data(), dVg.data(), w);
        for (int64_t r = 0; r < d.rep; r++) ScatterHead(d, dQg.data() + r * d.t * d.d, heads_, bi, g * d.rep + r, &rope, io.dq);
        ScatterHead(d, dKg.data(), kvHeads_, bi, g, &rope, io.dk);
        ScatterHead(d, dVg.data(), kvHeads_, bi, g, nullptr, io.dv);
      }
    });
  }

 private:
  AttentionAttrs attrs_;
  int64_t heads_ = 0, kvHeads_ = 0;
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

REGISTER_OP("LoraRopeAttention")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("cos: float")
    .Input("sin: float")
    .Input("mask: float")
    .Output("out: float")
    .Output("stats: float")
    .Attr("scale: float")
    .Attr("query_length: int")
    .Attr("has_mask: int")
    .Attr("causal: int")
    .Attr("heads: int")
    .Attr("kv_heads: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShapeOfRank(4));
      return tensorflow::OkStatus();
    });

REGISTER_OP("LoraRopeAttentionGrad")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("cos: float")
    .Input("sin: float")
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
    .Attr("heads: int")
    .Attr("kv_heads: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      c->set_output(2, c->input(2));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraRopeAttention").Device(tensorflow::DEVICE_CPU), RopeAttentionOp);
REGISTER_KERNEL_BUILDER(Name("LoraRopeAttentionGrad").Device(tensorflow::DEVICE_CPU), RopeAttentionGradOp);
REGISTER_KERNEL_BUILDER(Name("LoraAttention").Device(tensorflow::DEVICE_CPU), AttentionOp);
REGISTER_KERNEL_BUILDER(Name("LoraAttentionGrad").Device(tensorflow::DEVICE_CPU), AttentionGradOp);
