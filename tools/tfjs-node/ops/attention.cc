// Decoding attention of lora_ops.node (see module.cc): one op for what a decoder layer's attention
// runs per generated token between its projections and o_proj — rotate the new query and key,
// append the key and value to the cache, grouped-query attention over the cache — instead of
// thirteen tfjs ops (reshapes, two rotation matmuls, two concats, two matmuls and a softmax):
//
//   LoraDecodeAttention(q [B, H·D], k [B, KV·D], v [B, KV·D], q_rot [B, D, D], k_rot [B, D, D],
//                       keys [B, KV, S, D], values [B, KV, S, D])
//     -> out [B, H·D], keys' [B, KV, S+1, D], values' [B, KV, S+1, D]
//
// One query per row (T = 1), no mask (no padding, no sliding window): the caller checks. The
// rotations are the per-step rotary matrices of `DecoderContext`, one per row (row vector ·
// matrix; the query's carries the attention scale; a first axis of 1 serves every row). Same formulas as the tfjs ops, summed in another order:
// results agree to float32 rounding. Inference only (no gradient).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "lora_ops.h"

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

// out[j] = Σ_i x[i] · m[i, j] (a row vector times a [d, d] matrix).
void RowTimesMatrix(const float* x, const float* m, int64_t d, float* out) {
  for (int64_t j = 0; j < d; j++) out[j] = 0.f;
  for (int64_t i = 0; i < d; i++) {
    const float xi = x[i];
    const float* row = m + i * d;
    for (int64_t j = 0; j < d; j++) out[j] += xi * row[j];
  }
}

class DecodeAttentionOp : public OpKernel {
 public:
  explicit DecodeAttentionOp(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("heads", &heads_));
    OP_REQUIRES_OK(c, c->GetAttr("kv_heads", &kvHeads_));
    OP_REQUIRES(c, heads_ > 0 && kvHeads_ > 0 && heads_ % kvHeads_ == 0,
                errors::InvalidArgument("heads (", heads_, ") must be a positive multiple of kv_heads (", kvHeads_, ")"));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2), &qRot = ctx->input(3), &kRot = ctx->input(4),
                 &keys = ctx->input(5), &values = ctx->input(6);
    OP_REQUIRES(ctx, keys.dims() == 4 && values.shape() == keys.shape(),
                errors::InvalidArgument("keys and values must be one [B, KV, S, D] shape, got ", keys.shape().DebugString(), " and ",
                                        values.shape().DebugString()));
    const int64_t b = keys.dim_size(0), kv = keys.dim_size(1), s = keys.dim_size(2), d = keys.dim_size(3);
    const int64_t h = heads_, rep = h / kvHeads_;
    OP_REQUIRES(ctx, kv == kvHeads_, errors::InvalidArgument("keys have ", kv, " heads, kv_heads is ", kvHeads_));
    OP_REQUIRES(ctx, q.dims() == 2 && q.dim_size(0) == b && q.dim_size(1) == h * d,
                errors::InvalidArgument("q must be [", b, ", ", h * d, "], got ", q.shape().DebugString()));
    OP_REQUIRES(ctx, k.dims() == 2 && k.dim_size(0) == b && k.dim_size(1) == kv * d && v.shape() == k.shape(),
                errors::InvalidArgument("k and v must be [", b, ", ", kv * d, "], got ", k.shape().DebugString(), " and ",
                                        v.shape().DebugString()));
    OP_REQUIRES(ctx,
                qRot.dims() == 3 && (qRot.dim_size(0) == b || qRot.dim_size(0) == 1) && qRot.dim_size(1) == d && qRot.dim_size(2) == d &&
                    kRot.shape() == qRot.shape(),
                errors::InvalidArgument("q_rot and k_rot must be [", b, " or 1, ", d, ", ", d, "], got ", qRot.shape().DebugString(), " and ",
                                        kRot.shape().DebugString()));
    const int64_t rotStride = qRot.dim_size(0) == 1 ? 0 : d * d;
    Tensor *out = nullptr, *keysOut = nullptr, *valuesOut = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({b, h * d}), &out));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({b, kv, s + 1, d}), &keysOut));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({b, kv, s + 1, d}), &valuesOut));
    const float *qs = q.flat<float>().data(), *ks = k.flat<float>().data(), *vs = v.flat<float>().data();
    const float *qr = qRot.flat<float>().data(), *kr = kRot.flat<float>().data();
    const float *kc = keys.flat<float>().data(), *vc = values.flat<float>().data();
    float *o = out->flat<float>().data(), *ko = keysOut->flat<float>().data(), *vo = valuesOut->flat<float>().data();
    std::vector<float> query(d), scores(s + 1);
    for (int64_t bi = 0; bi < b; bi++) {
      for (int64_t g = 0; g < kv; g++) {
        // The cache of (bi, g) with the new rotated key / value appended.
        const int64_t src = (bi * kv + g) * s * d, dst = (bi * kv + g) * (s + 1) * d;
        std::memcpy(ko + dst, kc + src, s * d * sizeof(float));
        std::memcpy(vo + dst, vc + src, s * d * sizeof(float));
        RowTimesMatrix(ks + (bi * kv + g) * d, kr + bi * rotStride, d, ko + dst + s * d);
        std::memcpy(vo + dst + s * d, vs + (bi * kv + g) * d, d * sizeof(float));
        const float* K = ko + dst;
        const float* V = vo + dst;
        for (int64_t r = 0; r < rep; r++) {
          const int64_t head = g * rep + r;
          RowTimesMatrix(qs + (bi * h + head) * d, qr + bi * rotStride, d, query.data());
          float top = -INFINITY;
          for (int64_t t = 0; t <= s; t++) {
            float dot = 0.f;
            for (int64_t j = 0; j < d; j++) dot += query[j] * K[t * d + j];
            scores[t] = dot;
            top = std::max(top, dot);
          }
          float sum = 0.f;
          for (int64_t t = 0; t <= s; t++) {
            scores[t] = std::exp(scores[t] - top);
            sum += scores[t];
          }
          float* y = o + (bi * h + head) * d;
          for (int64_t j = 0; j < d; j++) y[j] = 0.f;
          for (int64_t t = 0; t <= s; t++) {
            const float p = scores[t] / sum;
            for (int64_t j = 0; j < d; j++) y[j] += p * V[t * d + j];
          }
        }
      }
    }
  }

 private:
  int64_t heads_ = 0, kvHeads_ = 0;
};

}  // namespace

REGISTER_OP("LoraDecodeAttention")
    .Input("q: float")
    .Input("k: float")
    .Input("v: float")
    .Input("q_rot: float")
    .Input("k_rot: float")
    .Input("keys: float")
    .Input("values: float")
    .Output("out: float")
    .Output("keys_out: float")
    .Output("values_out: float")
    .Attr("heads: int")
    .Attr("kv_heads: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      c->set_output(0, c->input(0));
      c->set_output(1, c->UnknownShapeOfRank(4));
      c->set_output(2, c->UnknownShapeOfRank(4));
      return tensorflow::OkStatus();
    });

REGISTER_KERNEL_BUILDER(Name("LoraDecodeAttention").Device(tensorflow::DEVICE_CPU), DecodeAttentionOp);
