// NF4 / FP4 dequantization of lora_ops.node (see module.cc): the QLoRA base of @lora/quant's
// Nf4Linear turned into its float32 [rows, cols] weight in one pass, instead of tfjs' chain of byte
// splits, GatherNd look-ups and multiplies (about 15 ops per layer and per use):
//
//   LoraNf4Dequantize(words: int32 [w], code: float [16], absmax: float [blocks])             -> w: float [rows, cols]
//   LoraNf4DequantizeNested(words: int32 [w], code: float [16], nested_absmax: float [nb],
//                           offset: float [], nested_map: float [256])                        -> w: float [rows, cols]
//
// `words` is Nf4Linear's `words` with 32 bits per word (`packBytePlanes` of packages/quant/src/pack.ts):
// byte p of the layer's byte string is byte kPlanes[p / w] of word p % w, each word storing its two
// 16-bit halves minus 2^15 (so `word + 0x80008000` modulo 2^32 is the four bytes, little-endian).
// The byte string is the codes of the blocks·blocksize elements (element 2i in the low nibble of
// byte i, 2i + 1 in the high one; element e belongs to block e / blocksize), then with double
// quantization the 8-bit absmax codes of the blocks. Attributes: `rows`, `cols` (the PyTorch
// [out, in] shape), `blocksize` (even), and `nested_blocksize` for the nested op.
//
// Bit-identical to Nf4Linear's tfjs path, which computes in float32, one rounding per op:
//   absmax[b] = f32(f32(nested_map[c_b] · nested_absmax[b / nested_blocksize]) + offset)   (double quant)
//   w[e]      = f32(code[c_e] · absmax[e / blocksize])
// Here code[j] · absmax[b] is computed once per block for the 16 codes (the same products), and the
// elements are looked up in that table (8 bytes at a time with AVX2, else one at a time; sharded by
// blocks over TensorFlow's intra-op pool). The build passes -ffp-contract=off, and the product and sum
// of the absmax are computed in two loops besides, so no compiler fuses them into one rounding.
#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>

#include "lora_ops.h"
#endif

namespace {

using namespace lora_ops;  // NOLINT: the op files share these names (lora_ops.h)

// Byte of a word held by each plane (pack.ts PLANES_32).
constexpr int kPlanes[4] = {0, 2, 1, 3};

// Values of `length` bytes of one plane (`shift` = 8 · its byte of a word) of consecutive words:
// o[2i] = scaled[low nibble of byte i], o[2i + 1] = scaled[high nibble]. Only loads and stores of
// the products in `scaled`: the AVX2 loop (8 bytes at a time, two 8-lane permutes and a blend per
// nibble) gives the same bits as the scalar one.
inline void LookupRun(const int32_t* words, int shift, int64_t length, const float* scaled, float* o) {
  int64_t i = 0;
#if defined(__AVX2__)
  const __m256 t0 = _mm256_loadu_ps(scaled), t1 = _mm256_loadu_ps(scaled + 8);
  const __m256i bias = _mm256_set1_epi32(static_cast<int32_t>(0x80008000u));
  const __m256i byteMask = _mm256_set1_epi32(0xff), nibbleMask = _mm256_set1_epi32(15);
  const __m128i count = _mm_cvtsi32_si128(shift);
  for (; i + 8 <= length; i += 8) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words + i));
    const __m256i b = _mm256_and_si256(_mm256_srl_epi32(_mm256_add_epi32(w, bias), count), byteMask);
    const __m256i lo = _mm256_and_si256(b, nibbleMask), hi = _mm256_srli_epi32(b, 4);
    // Entry j < 8 from t0, else t1: bit 3 of the index moved to the sign bit picks t1.
    const __m256 vlo = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, lo), _mm256_permutevar8x32_ps(t1, lo),
                                        _mm256_castsi256_ps(_mm256_slli_epi32(lo, 28)));
    const __m256 vhi = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, hi), _mm256_permutevar8x32_ps(t1, hi),
                                        _mm256_castsi256_ps(_mm256_slli_epi32(hi, 28)));
    const __m256 a = _mm256_unpacklo_ps(vlo, vhi), c = _mm256_unpackhi_ps(vlo, vhi);  // pairs 0 1 4 5, 2 3 6 7
    _mm256_storeu_ps(o + 2 * i, _mm256_permute2f128_ps(a, c, 0x20));
    _mm256_storeu_ps(o + 2 * i + 8, _mm256_permute2f128_ps(a, c, 0x31));
  }
#endif
  for (; i < length; i++) {
    const uint32_t byte = ((static_cast<uint32_t>(words[i]) + 0x80008000u) >> shift) & 0xffu;
    o[2 * i] = scaled[byte & 15];
    o[2 * i + 1] = scaled[byte >> 4];
  }
}

// The bytes of Nf4Linear's words: byte p of the byte string.
class BytePlanes {
 public:
  BytePlanes(const int32_t* words, int64_t count) : words_(words), count_(count) {}

  int64_t size() const { return 4 * count_; }

  // A position in the byte string: plane q, word k.
  struct Cursor {
    int64_t q, k;
  };

  Cursor At(int64_t p) const { return {p / count_, p % count_}; }

  // LookupRun over the next `length` bytes from `c`, which moves past them.
  void Lookup(Cursor* c, int64_t length, const float* scaled, float* o) const {
    while (length > 0) {
      const int64_t run = std::min(length, count_ - c->k);
      LookupRun(words_ + c->k, 8 * kPlanes[c->q], run, scaled, o);
      o += 2 * run;
      length -= run;
      c->k += run;
      if (c->k == count_) {
        c->k = 0;
        c->q++;
      }
    }
  }

  // Calls f(i, byte) for the bytes p = begin + i, i < length, walking the planes without a division
  // per byte.
  template <typename F>
  void ForRange(int64_t begin, int64_t length, F f) const {
    int64_t q = begin / count_, k = begin % count_;
    int64_t i = 0;
    while (i < length) {
      const int64_t run = std::min(length - i, count_ - k);
      const int shift = 8 * kPlanes[q];
      for (int64_t j = 0; j < run; j++) f(i + j, ((static_cast<uint32_t>(words_[k + j]) + 0x80008000u) >> shift) & 0xffu);
      i += run;
      k = 0;
      q++;
    }
  }

 private:
  const int32_t* words_;
  int64_t count_;
};

class Nf4DequantizeOp : public OpKernel {
 public:
  explicit Nf4DequantizeOp(OpKernelConstruction* c, bool nested) : OpKernel(c), nested_(nested) {
    OP_REQUIRES_OK(c, c->GetAttr("rows", &rows_));
    OP_REQUIRES_OK(c, c->GetAttr("cols", &cols_));
    OP_REQUIRES_OK(c, c->GetAttr("blocksize", &blocksize_));
    OP_REQUIRES(c, rows_ > 0 && cols_ > 0, errors::InvalidArgument("rows and cols must be positive, got ", rows_, " and ", cols_));
    OP_REQUIRES(c, blocksize_ >= 2 && blocksize_ % 2 == 0,
                errors::InvalidArgument("blocksize must be an even number ≥ 2, got ", blocksize_));
    if (nested_) {
      OP_REQUIRES_OK(c, c->GetAttr("nested_blocksize", &nestedBlocksize_));
      OP_REQUIRES(c, nestedBlocksize_ > 0, errors::InvalidArgument("nested_blocksize must be positive, got ", nestedBlocksize_));
    }
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& words = ctx->input(0);
    const Tensor& code = ctx->input(1);
    const int64_t n = rows_ * cols_;
    const int64_t blocks = (n + blocksize_ - 1) / blocksize_;
    const int64_t codeBytes = blocks * blocksize_ / 2;
    OP_REQUIRES(ctx, words.dims() == 1, errors::InvalidArgument("words must be 1-D, got ", words.shape().DebugString()));
    OP_REQUIRES(ctx, code.NumElements() == 16,
                errors::InvalidArgument("code must hold the 16 values of a 4-bit code map, got ", code.shape().DebugString()));
    const BytePlanes bytes(words.flat<int32_t>().data(), words.dim_size(0));
    const int64_t needBytes = codeBytes + (nested_ ? blocks : 0);
    OP_REQUIRES(ctx, bytes.size() >= needBytes,
                errors::InvalidArgument(words.dim_size(0), " words hold ", bytes.size(), " bytes; a [", rows_, ", ", cols_,
                                        "] weight in blocks of ", blocksize_, " needs ", needBytes,
                                        nested_ ? " (codes, then 8-bit absmax)" : " (codes)"));

    // float32 absmax of every block.
    std::vector<float> absmax(blocks);
    if (nested_) {
      const Tensor& nestedAbsmax = ctx->input(2);
      const Tensor& offset = ctx->input(3);
      const Tensor& nestedMap = ctx->input(4);
      const int64_t nestedBlocks = (blocks + nestedBlocksize_ - 1) / nestedBlocksize_;
      OP_REQUIRES(ctx, nestedAbsmax.NumElements() == nestedBlocks,
                  errors::InvalidArgument("nested_absmax must hold ", nestedBlocks, " values (", blocks, " blocks in nested blocks of ",
                                          nestedBlocksize_, "), got ", nestedAbsmax.shape().DebugString()));
      OP_REQUIRES(ctx, offset.NumElements() == 1, errors::InvalidArgument("offset must be a scalar, got ", offset.shape().DebugString()));
      OP_REQUIRES(ctx, nestedMap.NumElements() == 256,
                  errors::InvalidArgument("nested_map must hold the 256 values of an 8-bit code map, got ", nestedMap.shape().DebugString()));
      const float* nabs = nestedAbsmax.flat<float>().data();
      const float* map = nestedMap.flat<float>().data();
      const float off = offset.flat<float>().data()[0];
      // Two loops: the product is rounded to float32 before the offset is added, as tfjs' mul, add.
      bytes.ForRange(codeBytes, blocks, [&](int64_t b, uint32_t c) { absmax[b] = map[c] * nabs[b / nestedBlocksize_]; });
      for (int64_t b = 0; b < blocks; b++) absmax[b] = absmax[b] + off;
    } else {
      const Tensor& plain = ctx->input(2);
      OP_REQUIRES(ctx, plain.NumElements() == blocks,
                  errors::InvalidArgument("absmax must hold ", blocks, " values (", n, " elements in blocks of ", blocksize_, "), got ",
                                          plain.shape().DebugString()));
      const float* a = plain.flat<float>().data();
      for (int64_t b = 0; b < blocks; b++) absmax[b] = a[b];
    }

    Tensor* out = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({rows_, cols_}), &out));
    float* dst = out->flat<float>().data();
    const float* map = code.flat<float>().data();
    const int64_t half = blocksize_ / 2;
    auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
    tensorflow::Shard(workers->num_threads, workers->workers, blocks, blocksize_ * 2, [&](int64_t begin, int64_t end) {
      float scaled[16];
      BytePlanes::Cursor cursor = bytes.At(begin * half);
      for (int64_t b = begin; b < end; b++) {
        for (int j = 0; j < 16; j++) scaled[j] = map[j] * absmax[b];
        float* o = dst + b * blocksize_;
        if ((b + 1) * blocksize_ <= n) {
          bytes.Lookup(&cursor, half, scaled, o);
        } else {  // the last block, cut at n
          const int64_t left = n - b * blocksize_;
          bytes.ForRange(b * half, (left + 1) / 2, [&](int64_t i, uint32_t byte) {
            o[2 * i] = scaled[byte & 15];
            if (2 * i + 1 < left) o[2 * i + 1] = scaled[byte >> 4];
          });
        }
      }
    });
  }

 private:
  bool nested_;
  int64_t rows_ = 0, cols_ = 0, blocksize_ = 0, nestedBlocksize_ = 0;
};

class Nf4DequantizePlainOp : public Nf4DequantizeOp {
 public:
  explicit Nf4DequantizePlainOp(OpKernelConstruction* c) : Nf4DequantizeOp(c, false) {}
};

class Nf4DequantizeNestedOp : public Nf4DequantizeOp {
 public:
  explicit Nf4DequantizeNestedOp(OpKernelConstruction* c) : Nf4DequantizeOp(c, true) {}
};

tensorflow::Status WeightShape(tensorflow::shape_inference::InferenceContext* c) {
  int64_t rows, cols;
  TF_RETURN_IF_ERROR(c->GetAttr("rows", &rows));
  TF_RETURN_IF_ERROR(c->GetAttr("cols", &cols));
  tensorflow::shape_inference::ShapeHandle words;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 1, &words));
  c->set_output(0, c->Matrix(rows, cols));
  return tensorflow::OkStatus();
}

}  // namespace

REGISTER_OP("LoraNf4Dequantize")
    .Input("words: int32")
    .Input("code: float")
    .Input("absmax: float")
    .Output("w: float")
    .Attr("rows: int")
    .Attr("cols: int")
    .Attr("blocksize: int")
    .SetShapeFn(WeightShape);

REGISTER_OP("LoraNf4DequantizeNested")
    .Input("words: int32")
    .Input("code: float")
    .Input("nested_absmax: float")
    .Input("offset: float")
    .Input("nested_map: float")
    .Output("w: float")
    .Attr("rows: int")
    .Attr("cols: int")
    .Attr("blocksize: int")
    .Attr("nested_blocksize: int")
    .SetShapeFn(WeightShape);

REGISTER_KERNEL_BUILDER(Name("LoraNf4Dequantize").Device(tensorflow::DEVICE_CPU), Nf4DequantizePlainOp);
REGISTER_KERNEL_BUILDER(Name("LoraNf4DequantizeNested").Device(tensorflow::DEVICE_CPU), Nf4DequantizeNestedOp);
