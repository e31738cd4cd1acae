#include <cstdlib>
// GGML block kernels of lora_ops.node (see module.cc): llama.cpp's block-quantized weights kept as
// they are stored in a GGUF file, multiplied by directly, so a decoding step reads 4–8.5 bits per
// weight instead of 32:
//
//   LoraGgmlMatMul(x: float [M, K], blocks: int32 [N, W]) -> y: float [M, N]   y = x · dequant(blocks)ᵀ
//   LoraGgmlDequantize(blocks: int32 [N, W])              -> w: float [N, K]   w = dequant(blocks)
//   LoraGgmlMatMulN(x, blocks_0, …)                       -> y_i: several products sharing x
//   LoraGgmlGateUp(x, gate, up)                            -> h = silu(x · Gᵀ) · (x · Uᵀ)
//
// `blocks` holds row n's ggml blocks as little-endian bytes (K / 32 blocks per row), each row
// zero-padded to whole int32 words (tfjs has no uint8 tensors). Attributes: `ggml_type` (2 Q4_0,
// 3 Q4_1, 8 Q8_0, ggml's type ids) and `k`. Dequantized values equal gguf-py's `dequantize` bit for
// bit (d·q + m with d, m widened from float16: d·q is exact in float32, so one rounding); the
// matmul sums in another order than a float32 GEMM, so it agrees to float32 rounding.
//
// The matmul is a fused loop over the rows of the weight, split over TensorFlow's intra-op thread
// pool: each block is unpacked once into floats and multiplied with the matching 32 inputs of every
// row of x (AVX2/FMA when the build machine has them, else a scalar loop that dequantizes one row of
// the weight into a buffer). It suits decoding (a few rows of x); for many rows the caller
// dequantizes the weight once and runs TensorFlow's own matmul.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>

#include "lora_ops.h"
#endif

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

constexpr int kQ4_0 = 2;
constexpr int kQ4_1 = 3;
constexpr int kQ8_0 = 8;
constexpr int kBlock = 32;

int BlockBytes(int type) {
  switch (type) {
    case kQ4_0: return 18;
    case kQ4_1: return 20;
    case kQ8_0: return 34;
    default: return 0;
  }
}

inline float HalfToFloat(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

// Dequantizes `blocks` ggml blocks of one row into `out` (blocks · 32 floats).
void DequantizeRow(int type, const uint8_t* row, int64_t blocks, float* out) {
  for (int64_t b = 0; b < blocks; b++) {
    float* o = out + b * kBlock;
    if (type == kQ4_1) {
      const uint8_t* p = row + b * 20;
      const float d = HalfToFloat(p), m = HalfToFloat(p + 2);
      const uint8_t* qs = p + 4;
      for (int j = 0; j < 16; j++) {
        o[j] = static_cast<float>(qs[j] & 15) * d + m;
        o[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
      }
    } else if (type == kQ4_0) {
      const uint8_t* p = row + b * 18;
      const float d = HalfToFloat(p);
      const uint8_t* qs = p + 2;
      for (int j = 0; j < 16; j++) {
        o[j] = static_cast<float>(static_cast<int>(qs[j] & 15) - 8) * d;
        o[j + 16] = static_cast<float>(static_cast<int>(qs[j] >> 4) - 8) * d;
      }
    } else {  // kQ8_0
      const uint8_t* p = row + b * 34;
      const float d = HalfToFloat(p);
      const int8_t* qs = reinterpret_cast<const int8_t*>(p + 2);
      for (int j = 0; j < 32; j++) o[j] = static_cast<float>(qs[j]) * d;
    }
  }
}

inline float Dot(const float* a, const float* b, int64_t n) {
  // Eight partial sums, so the compiler can keep them in one vector register without reassociating.
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; l++) s[l] += a[i + l] * b[i + l];
  }
  float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; i++) t += a[i] * b[i];
  return t;
}

#if defined(__AVX512F__)
#define LORA_SIMD 1
// One vector: 16 floats (AVX-512); a block of 32 weights is two.
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec VLoad(const float* p) { return _mm512_loadu_ps(p); }
inline void VStore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline Vec VSet(float x) { return _mm512_set1_ps(x); }
inline Vec VZero() { return _mm512_setzero_ps(); }
inline Vec VAdd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec VMul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
inline Vec VFma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float VSum(Vec v) { return _mm512_reduce_add_ps(v); }
inline Vec U8ToFloat(__m128i sixteen) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(sixteen)); }
inline Vec I8ToFloat(__m128i sixteen) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sixteen)); }
#elif defined(__AVX2__) && defined(__FMA__)
#define LORA_SIMD 1
// One vector: 8 floats (AVX2); a block of 32 weights is four.
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec VLoad(const float* p) { return _mm256_loadu_ps(p); }
inline void VStore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline Vec VSet(float x) { return _mm256_set1_ps(x); }
inline Vec VZero() { return _mm256_setzero_ps(); }
inline Vec VAdd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec VMul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
inline Vec VFma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float VSum(Vec v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}
#endif

#if defined(LORA_SIMD)
constexpr int kGroups = kBlock / kLanes;  // vectors per block

// The 32 weights of one block as integers-as-floats (element j in lane j % kLanes of vector
// j / kLanes), and the block's scale d and offset m (value = d·q + m): Q4_1 stores m, Q4_0 is
// d·(q − 8) = d·q − 8d, Q8_0 has none.
struct Unpacked {
  Vec q[kGroups];
  float d, m;
};

inline void UnpackBlock(int type, const uint8_t* p, Unpacked* u) {
  u->d = HalfToFloat(p);
  if (type == kQ8_0) {
    u->m = 0.f;
#if defined(__AVX512F__)
    u->q[0] = I8ToFloat(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2)));
    u->q[1] = I8ToFloat(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 18)));
#else
    for (int g = 0; g < 4; g++) {
      const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 + 8 * g));
      u->q[g] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    }
#endif
    return;
  }
  const uint8_t* qs;
  if (type == kQ4_1) {
    u->m = HalfToFloat(p + 2);
    qs = p + 4;
  } else {
    u->m = -8.f * u->d;
    qs = p + 2;
  }
  // Low nibbles are elements 0–15, high nibbles 16–31.
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0f);
  const __m128i lo = _mm_and_si128(bytes, mask);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
#if defined(__AVX512F__)
  u->q[0] = U8ToFloat(lo);
  u->q[1] = U8ToFloat(hi);
#else
  u->q[0] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
  u->q[1] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
  u->q[2] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
  u->q[3] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
#endif
}

// Σ q·x over one block, as kLanes partial sums: independent product chains, so consecutive
// blocks overlap.
inline Vec BlockDot(const Unpacked& u, const float* x) {
#if defined(__AVX512F__)
  return VFma(u.q[1], VLoad(x + 16), VMul(u.q[0], VLoad(x)));
#else
  const Vec a = VFma(u.q[1], VLoad(x + 8), VMul(u.q[0], VLoad(x)));
  const Vec b = VFma(u.q[3], VLoad(x + 24), VMul(u.q[2], VLoad(x + 16)));
  return VAdd(a, b);
#endif
}

// y[i0 + i, r] for rows [begin, end) of the weight and R rows of x from i0: per block,
// d·Σ q·x + m·Σ x, with Σ x of each block of x computed once (`xsum`, kLanes partial sums per
// block). Each row of x has its own accumulators (d-terms and m-terms apart, so no chain waits on
// two FMAs a block), all in registers for R ≤ 4; one row of x also unrolls two blocks.
template <int R>
void FusedTile(int type, const uint8_t* src, int64_t rowBytes, int64_t blocksPerRow, const float* xs, const float* xsum, int64_t i0,
               int64_t n, int64_t k, int64_t begin, int64_t end, float* ys) {
  const int bb = BlockBytes(type);
  const bool offsets = type != kQ8_0;
  for (int64_t r = begin; r < end; r++) {
    const uint8_t* row = src + r * rowBytes;
    Vec acc[R], acc2[R], macc[R];
    for (int i = 0; i < R; i++) acc[i] = acc2[i] = macc[i] = VZero();
    int64_t b = 0;
    if (R == 1) {
      const float* x = xs + i0 * k;
      const float* xsm = xsum + i0 * blocksPerRow * kLanes;
      for (; b + 2 <= blocksPerRow; b += 2) {
        Unpacked u0, u1;
        UnpackBlock(type, row + b * bb, &u0);
        UnpackBlock(type, row + (b + 1) * bb, &u1);
        acc[0] = VFma(VSet(u0.d), BlockDot(u0, x + b * kBlock), acc[0]);
        acc2[0] = VFma(VSet(u1.d), BlockDot(u1, x + (b + 1) * kBlock), acc2[0]);
        if (offsets) {
          macc[0] = VFma(VSet(u0.m), VLoad(xsm + b * kLanes), macc[0]);
          macc[0] = VFma(VSet(u1.m), VLoad(xsm + (b + 1) * kLanes), macc[0]);
        }
      }
    }
    for (; b < blocksPerRow; b++) {
      Unpacked u;
      UnpackBlock(type, row + b * bb, &u);
      const Vec d = VSet(u.d), mm = VSet(u.m);
      for (int i = 0; i < R; i++) {
        acc[i] = VFma(d, BlockDot(u, xs + (i0 + i) * k + b * kBlock), acc[i]);
        if (offsets) acc2[i] = VFma(mm, VLoad(xsum + ((i0 + i) * blocksPerRow + b) * kLanes), acc2[i]);
      }
    }
    for (int i = 0; i < R; i++) ys[(i0 + i) * n + r] = VSum(VAdd(VAdd(acc[i], acc2[i]), macc[i]));
  }
}

// Every row of x (m of them) against rows [begin, end) of the weight, in tiles of up to 4 rows of x.
void FusedRows(int type, const uint8_t* src, int64_t rowBytes, int64_t blocksPerRow, const float* xs, const float* xsum, int64_t m,
               int64_t n, int64_t k, int64_t begin, int64_t end, float* ys) {
  int64_t i0 = 0;
  for (; i0 + 4 <= m; i0 += 4) FusedTile<4>(type, src, rowBytes, blocksPerRow, xs, xsum, i0, n, k, begin, end, ys);
  if (m - i0 >= 2) {
    FusedTile<2>(type, src, rowBytes, blocksPerRow, xs, xsum, i0, n, k, begin, end, ys);
    i0 += 2;
  }
  if (m - i0 == 1) FusedTile<1>(type, src, rowBytes, blocksPerRow, xs, xsum, i0, n, k, begin, end, ys);
}

// Σ x over each block of each row of x, as kLanes partial sums (lane l: elements l, l + kLanes, …).
void BlockSums(const float* xs, int64_t m, int64_t k, float* out) {
  const int64_t blocks = k / kBlock;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t b = 0; b < blocks; b++) {
      const float* x = xs + i * k + b * kBlock;
      Vec s = VLoad(x);
      for (int g = 1; g < kGroups; g++) s = VAdd(s, VLoad(x + g * kLanes));
      VStore(out + (i * blocks + b) * kLanes, s);
    }
  }
}
#endif

// The shape of one weight in ggml blocks, checked against the attributes.
struct GgmlLayout {
  int type = 0;
  int64_t k = 0;
  int64_t blocksPerRow = 0;
  int64_t rowBytes = 0;  // stride of one row in `blocks`
};

class GgmlOpBase : public OpKernel {
 public:
  explicit GgmlOpBase(OpKernelConstruction* c) : OpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("ggml_type", &type_));
    OP_REQUIRES_OK(c, c->GetAttr("k", &k_));
    OP_REQUIRES(c, BlockBytes(type_) > 0,
                errors::InvalidArgument("ggml_type ", type_, " is not supported (2 Q4_0, 3 Q4_1, 8 Q8_0)"));
    OP_REQUIRES(c, k_ > 0 && k_ % kBlock == 0, errors::InvalidArgument("k must be a positive multiple of 32, got ", k_));
  }

 protected:
  void Layout(OpKernelContext* ctx, const Tensor& blocks, GgmlLayout* layout) {
    OP_REQUIRES(ctx, blocks.dims() == 2,
                errors::InvalidArgument("blocks must be 2-D [rows, words], got ", blocks.shape().DebugString()));
    layout->type = type_;
    layout->k = k_;
    layout->blocksPerRow = k_ / kBlock;
    layout->rowBytes = blocks.dim_size(1) * 4;
    const int64_t need = layout->blocksPerRow * BlockBytes(type_);
    OP_REQUIRES(ctx, layout->rowBytes >= need && layout->rowBytes < need + 4,
                errors::InvalidArgument("a row of ", layout->blocksPerRow, " blocks of ggml type ", type_, " takes ", need,
                                        " bytes, padded to ", (need + 3) / 4, " int32 words; blocks has ", blocks.dim_size(1)));
  }

  int type_ = 0;
  int64_t k_ = 0;
};

class GgmlDequantizeOp : public GgmlOpBase {
 public:
  explicit GgmlDequantizeOp(OpKernelConstruction* c) : GgmlOpBase(c) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& blocks = ctx->input(0);
    GgmlLayout layout;
    Layout(ctx, blocks, &layout);
    if (!ctx->status().ok()) return;
    const int64_t n = blocks.dim_size(0);
    Tensor* w = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({n, layout.k}), &w));
    const uint8_t* src = reinterpret_cast<const uint8_t*>(blocks.tensor_data().data());
    float* dst = w->flat<float>().data();
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, n, layout.k * 2, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; r++) DequantizeRow(layout.type, src + r * layout.rowBytes, layout.blocksPerRow, dst + r * layout.k);
    });
  }
};

// LoraGgmlMatMul (one weight) and LoraGgmlMatMulN (N weights of one type and width sharing x,
// e.g. a layer's q, k and v: one dispatch and one pass over the thread pool instead of N).
class GgmlMatMulOp : public GgmlOpBase {
 public:
  // `list`: N weights (LoraGgmlMatMulN); `gate`: two weights, gate and up, whose products leave
  // as one output silu(x·Gᵀ) · (x·Uᵀ) (LoraGgmlGateUp, the gated MLP's hidden state).
  GgmlMatMulOp(OpKernelConstruction* c, bool list, bool gate = false) : GgmlOpBase(c), gate_(gate) {
    if (list) OP_REQUIRES_OK(c, c->GetAttr("N", &count_));
    if (gate) count_ = 2;
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() == 2 && x.dim_size(1) == k_,
                errors::InvalidArgument("x must be [rows, ", k_, "], got ", x.shape().DebugString()));
    const int64_t m = x.dim_size(0), k = k_;
    struct Weight {
      const uint8_t* src;
      GgmlLayout layout;
      int64_t n, first;  // rows, and index of the first in the rows of all weights
      float* ys;
    };
    std::vector<Weight> weights(count_);
    Tensor temps[2];  // the gate and up products of LoraGgmlGateUp
    int64_t rows = 0;
    for (int w = 0; w < count_; w++) {
      const Tensor& blocks = ctx->input(1 + w);
      Layout(ctx, blocks, &weights[w].layout);
      if (!ctx->status().ok()) return;
      Tensor* y = nullptr;
      if (gate_) {
        OP_REQUIRES(ctx, w == 0 || blocks.dim_size(0) == weights[0].n,
                    errors::InvalidArgument("gate and up must have as many rows, got ", weights[0].n, " and ", blocks.dim_size(0)));
        OP_REQUIRES_OK(ctx, ctx->allocate_temp(tensorflow::DT_FLOAT, TensorShape({m, blocks.dim_size(0)}), &temps[w]));
        y = &temps[w];
      } else {
        OP_REQUIRES_OK(ctx, ctx->allocate_output(w, TensorShape({m, blocks.dim_size(0)}), &y));
      }
      weights[w].src = reinterpret_cast<const uint8_t*>(blocks.tensor_data().data());
      weights[w].n = blocks.dim_size(0);
      weights[w].first = rows;
      weights[w].ys = y->flat<float>().data();
      rows += weights[w].n;
    }
    if (m == 0 || rows == 0) return;
    const float* xs = x.flat<float>().data();
    const int64_t blocksPerRow = k / kBlock;
#if defined(LORA_SIMD)
    std::vector<float> xsum(m * blocksPerRow * kLanes);
    BlockSums(xs, m, k, xsum.data());
#endif
    // Rows [begin, end) of all weights, in order.
    auto work = [&](int64_t begin, int64_t end) {
      for (const Weight& w : weights) {
        const int64_t lo = std::max(begin, w.first) - w.first, hi = std::min(end, w.first + w.n) - w.first;
        if (lo >= hi) continue;
#if defined(LORA_SIMD)
        FusedRows(type_, w.src, w.layout.rowBytes, blocksPerRow, xs, xsum.data(), m, w.n, k, lo, hi, w.ys);
#else
        std::vector<float> row(k);
        for (int64_t r = lo; r < hi; r++) {
          DequantizeRow(type_, w.src + r * w.layout.rowBytes, blocksPerRow, row.data());
          for (int64_t i = 0; i < m; i++) w.ys[i * w.n + r] = Dot(xs + i * k, row.data(), k);
        }
#endif
      }
    };
    // Waking the pool's other threads costs more than it saves below about kInlineBlocks blocks ×
    // rows of x, and on a busy machine the caller then waits for a thread that is not running.
    if (rows * blocksPerRow * m < kInlineBlocks) {
      work(0, rows);
    } else {
      auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
      tensorflow::Shard(workers->num_threads, workers->workers, rows, k * (m + 1), work);
    }
    if (gate_) {
      Tensor* h = nullptr;
      OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({m, weights[0].n}), &h));
      const float *g = weights[0].ys, *u = weights[1].ys;
      float* hs = h->flat<float>().data();
      for (int64_t i = 0; i < m * weights[0].n; i++) hs[i] = SiluMul(g[i], u[i]);
    }
  }

 private:
  static const int64_t kInlineBlocks;
  int count_ = 1;
  bool gate_ = false;
};

const int64_t GgmlMatMulOp::kInlineBlocks =
    getenv("LORA_OPS_INLINE_BLOCKS") != nullptr ? atoll(getenv("LORA_OPS_INLINE_BLOCKS")) : 1 << 16;

// Shapes of the products: output i is [rows of x, rows of input 1 + i] (LoraGgmlMatMul, …MatMulN,
// …GateUp, whose one output has the gate's rows).
tensorflow::Status ProductsShape(tensorflow::shape_inference::InferenceContext* c) {
  tensorflow::shape_inference::ShapeHandle x;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &x));
  for (int i = 0; i < c->num_outputs(); i++) {
    tensorflow::shape_inference::ShapeHandle blocks;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(1 + i), 2, &blocks));
    c->set_output(i, c->Matrix(c->Dim(x, 0), c->Dim(blocks, 0)));
  }
  return tensorflow::OkStatus();
}

}  // namespace

REGISTER_OP("LoraGgmlMatMul")
    .Input("x: float")
    .Input("blocks: int32")
    .Output("y: float")
    .Attr("ggml_type: int")
    .Attr("k: int")
    .SetShapeFn(ProductsShape);

REGISTER_OP("LoraGgmlMatMulN")
    .Input("x: float")
    .Input("blocks: N * int32")
    .Output("y: N * float")
    .Attr("N: int >= 1")
    .Attr("ggml_type: int")
    .Attr("k: int")
    .SetShapeFn(ProductsShape);

REGISTER_OP("LoraGgmlGateUp")
    .Input("x: float")
    .Input("gate: int32")
    .Input("up: int32")
    .Output("h: float")
    .Attr("ggml_type: int")
    .Attr("k: int")
    .SetShapeFn(ProductsShape);

REGISTER_OP("LoraGgmlDequantize")
    .Input("blocks: int32")
    .Output("w: float")
    .Attr("ggml_type: int")
    .Attr("k: int")
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      int64_t k;
      TF_RETURN_IF_ERROR(c->GetAttr("k", &k));
      tensorflow::shape_inference::ShapeHandle blocks;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &blocks));
      c->set_output(0, c->Matrix(c->Dim(blocks, 0), k));
      return tensorflow::OkStatus();
    });

class GgmlMatMulOneOp : public GgmlMatMulOp {
 public:
  explicit GgmlMatMulOneOp(OpKernelConstruction* c) : GgmlMatMulOp(c, false) {}
};
class GgmlMatMulListOp : public GgmlMatMulOp {
 public:
  explicit GgmlMatMulListOp(OpKernelConstruction* c) : GgmlMatMulOp(c, true) {}
};
REGISTER_KERNEL_BUILDER(Name("LoraGgmlMatMul").Device(tensorflow::DEVICE_CPU), GgmlMatMulOneOp);
REGISTER_KERNEL_BUILDER(Name("LoraGgmlMatMulN").Device(tensorflow::DEVICE_CPU), GgmlMatMulListOp);
class GgmlGateUpOp : public GgmlMatMulOp {
 public:
  explicit GgmlGateUpOp(OpKernelConstruction* c) : GgmlMatMulOp(c, false, true) {}
};
REGISTER_KERNEL_BUILDER(Name("LoraGgmlGateUp").Device(tensorflow::DEVICE_CPU), GgmlGateUpOp);
REGISTER_KERNEL_BUILDER(Name("LoraGgmlDequantize").Device(tensorflow::DEVICE_CPU), GgmlDequantizeOp);
