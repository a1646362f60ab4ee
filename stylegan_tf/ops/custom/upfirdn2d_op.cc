// upfirdn2d as a TensorFlow custom op: CPU kernel (and, when built with
// -DSTYLEGAN_TF_WITH_CUDA, the GPU registration whose kernel is in upfirdn2d_kernel.cu).
//
// y = downsample(conv2d(pad(upsample(x, up), pad), k), down) on NCHW tensors, as
// stylegan_tf/ops/upfirdn2d.py defines it. The kernel is an attribute: either the full
// row-major [kernel_h, kernel_w] convolution kernel, or (separable=True) its two factors, the
// vertical one (kernel_h values) followed by the horizontal one (kernel_w values).
//
// CPU strategy: the N*C planes are split across TensorFlow's intra-op thread pool. Each output
// row is produced in one streaming step: the vertical taps of that row are combined into one
// input-width row (separable case) and then filtered horizontally, both as polyphase sums of
// contiguous or stride-2 runs (see upfirdn2d_plan.h), so inserted zeros cost nothing and the
// inner loops vectorise. float16 is computed in float32.

#if defined(STYLEGAN_TF_WITH_CUDA)
#define EIGEN_USE_GPU
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/lib/core/threadpool.h"

#include "upfirdn2d_plan.h"

namespace stylegan_tf {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;
using tensorflow::shape_inference::DimensionHandle;
using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

REGISTER_OP("StyleganTfUpfirdn2d")
    .Input("x: T")
    .Output("y: T")
    .Attr("T: {half, float}")
    .Attr("kernel: list(float)")
    .Attr("kernel_h: int >= 1")
    .Attr("kernel_w: int >= 1")
    .Attr("separable: bool = false")
    .Attr("up_x: int >= 1 = 1")
    .Attr("up_y: int >= 1 = 1")
    .Attr("down_x: int >= 1 = 1")
    .Attr("down_y: int >= 1 = 1")
    .Attr("pad_x0: int = 0")
    .Attr("pad_x1: int = 0")
    .Attr("pad_y0: int = 0")
    .Attr("pad_y1: int = 0")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      ShapeHandle x;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      int kh, kw, ux, uy, dx, dy, px0, px1, py0, py1;
      TF_RETURN_IF_ERROR(c->GetAttr("kernel_h", &kh));
      TF_RETURN_IF_ERROR(c->GetAttr("kernel_w", &kw));
      TF_RETURN_IF_ERROR(c->GetAttr("up_x", &ux));
      TF_RETURN_IF_ERROR(c->GetAttr("up_y", &uy));
      TF_RETURN_IF_ERROR(c->GetAttr("down_x", &dx));
      TF_RETURN_IF_ERROR(c->GetAttr("down_y", &dy));
      TF_RETURN_IF_ERROR(c->GetAttr("pad_x0", &px0));
      TF_RETURN_IF_ERROR(c->GetAttr("pad_x1", &px1));
      TF_RETURN_IF_ERROR(c->GetAttr("pad_y0", &py0));
      TF_RETURN_IF_ERROR(c->GetAttr("pad_y1", &py1));
      DimensionHandle h = c->Dim(x, 2), w = c->Dim(x, 3);
      DimensionHandle oh = c->UnknownDim(), ow = c->UnknownDim();
      if (c->ValueKnown(h)) {
        int v = OutSize(static_cast<int>(c->Value(h)), uy, dy, py0, py1, kh);
        if (v <= 0) return tensorflow::errors::InvalidArgument("upfirdn2d: empty output height");
        oh = c->MakeDim(v);
      }
      if (c->ValueKnown(w)) {
        int v = OutSize(static_cast<int>(c->Value(w)), ux, dx, px0, px1, kw);
        if (v <= 0) return tensorflow::errors::InvalidArgument("upfirdn2d: empty output width");
        ow = c->MakeDim(v);
      }
      c->set_output(0, c->MakeShape({c->Dim(x, 0), c->Dim(x, 1), oh, ow}));
      return absl::OkStatus();
    });

// out[P*m] += w * in[S*m] for m in [0, count); out and in point at the first element.
template <int P, int S>
inline void Axpy(float* __restrict out, const float* __restrict in, float w, int count) {
  for (int m = 0; m < count; ++m) out[P * m] += w * in[S * m];
}

inline void AxpyGeneric(float* __restrict out, const float* __restrict in, float w, int count,
                        int P, int S) {
  for (int m = 0; m < count; ++m) out[P * m] += w * in[S * m];
}

// out[0, out_w) += horizontal upfirdn of the row `in` with flipped weights `f`.
inline void FilterRowAccumulate(const float* in, float* out, const AxisPlan& plan, const float* f) {
  const int P = plan.P, S = plan.S;
  for (int phase = 0; phase < P; ++phase) {
    for (const Tap& tap : plan.phases[phase]) {
      float* o = out + P * tap.m_lo + phase;
      const float* i = in + S * tap.m_lo + tap.offset;
      const int n = tap.m_hi - tap.m_lo;
      const float w = f[tap.t];
      if (P == 1 && S == 1) Axpy<1, 1>(o, i, w, n);
      else if (P == 2 && S == 1) Axpy<2, 1>(o, i, w, n);
      else if (P == 1 && S == 2) Axpy<1, 2>(o, i, w, n);
      else AxpyGeneric(o, i, w, n, P, S);
    }
  }
}

// Interior of one phase: out[P*m] = sum_t w[t] * src[t][S*m] for m in [lo, hi), every tap valid,
// all taps in one pass. NT, P and S are compile-time constants for the common cases so the loop
// vectorises.
template <int P, int S, int NT>
inline void Interior(float* __restrict out, const float* const* src, const float* w, int lo, int hi) {
  for (int m = lo; m < hi; ++m) {
    float acc = w[0] * src[0][S * m];
    for (int t = 1; t < NT; ++t) acc += w[t] * src[t][S * m];
    out[P * m] = acc;
  }
}

inline void InteriorGeneric(float* __restrict out, const float* const* src, const float* w, int lo,
                            int hi, int P, int S, int nt) {
  for (int m = lo; m < hi; ++m) {
    float acc = 0.0f;
    for (int t = 0; t < nt; ++t) acc += w[t] * src[t][S * m];
    out[P * m] = acc;
  }
}

template <int P, int S>
inline bool InteriorByTaps(float* out, const float* const* src, const float* w, int lo, int hi, int nt) {
  switch (nt) {
    case 1: Interior<P, S, 1>(out, src, w, lo, hi); return true;
    case 2: Interior<P, S, 2>(out, src, w, lo, hi); return true;
    case 3: Interior<P, S, 3>(out, src, w, lo, hi); return true;
    case 4: Interior<P, S, 4>(out, src, w, lo, hi); return true;
    case 5: Interior<P, S, 5>(out, src, w, lo, hi); return true;
    case 6: Interior<P, S, 6>(out, src, w, lo, hi); return true;
    case 7: Interior<P, S, 7>(out, src, w, lo, hi); return true;
    case 8: Interior<P, S, 8>(out, src, w, lo, hi); return true;
    default: return false;
  }
}

constexpr int kMaxFusedTaps = 16;

// out[0, out_w) = horizontal upfirdn of the row `in` with flipped weights `f`. Per phase: the
// interior, where every tap of the phase reads inside the row, in one fused pass; the short
// borders tap by tap.
inline void FilterRow(const float* in, float* out, const AxisPlan& plan, const float* f, int out_w) {
  const int P = plan.P, S = plan.S;
  for (int phase = 0; phase < P; ++phase) {
    const std::vector<Tap>& taps = plan.phases[phase];
    const int count = plan.m_count[phase];
    const int nt = static_cast<int>(taps.size());
    float* o = out + phase;  // o[P * m]
    if (nt == 0 || nt > kMaxFusedTaps) {
      for (int m = 0; m < count; ++m) o[P * m] = 0.0f;
      for (const Tap& tap : taps)
        AxpyGeneric(o + P * tap.m_lo, in + S * tap.m_lo + tap.offset, f[tap.t], tap.m_hi - tap.m_lo, P, S);
      continue;
    }
    int lo = 0, hi = count;
    for (const Tap& tap : taps) { lo = std::max(lo, tap.m_lo); hi = std::min(hi, tap.m_hi); }
    if (hi < lo) hi = lo;
    // Borders [0, lo) and [hi, count), tap by tap.
    for (int m = 0; m < lo; ++m) o[P * m] = 0.0f;
    for (int m = hi; m < count; ++m) o[P * m] = 0.0f;
    for (const Tap& tap : taps) {
      const float w = f[tap.t];
      for (int m = tap.m_lo; m < std::min(lo, tap.m_hi); ++m) o[P * m] += w * in[S * m + tap.offset];
      for (int m = std::max(hi, tap.m_lo); m < tap.m_hi; ++m) o[P * m] += w * in[S * m + tap.offset];
    }
    if (hi <= lo) continue;
    float w[kMaxFusedTaps];
    const float* src[kMaxFusedTaps];
    for (int t = 0; t < nt; ++t) { w[t] = f[taps[t].t]; src[t] = in + taps[t].offset; }
    bool done = false;
    if (P == 1 && S == 1) done = InteriorByTaps<1, 1>(o, src, w, lo, hi, nt);
    else if (P == 2 && S == 1) done = InteriorByTaps<2, 1>(o, src, w, lo, hi, nt);
    else if (P == 1 && S == 2) done = InteriorByTaps<1, 2>(o, src, w, lo, hi, nt);
    if (!done) InteriorGeneric(o, src, w, lo, hi, P, S, nt);
  }
}

// v[0, n) = sum_t w[t] * rows[t][0, n) in one pass (8 rows at a time beyond 8).
template <int NT>
inline void CombineRows(float* __restrict v, const float* const* rows, const float* w, int n) {
  for (int i = 0; i < n; ++i) {
    float acc = w[0] * rows[0][i];
    for (int t = 1; t < NT; ++t) acc += w[t] * rows[t][i];
    v[i] = acc;
  }
}

inline void CombineRowsAny(float* __restrict v, const float* const* rows, const float* w, int nt, int n) {
  switch (nt) {
    case 1: CombineRows<1>(v, rows, w, n); return;
    case 2: CombineRows<2>(v, rows, w, n); return;
    case 3: CombineRows<3>(v, rows, w, n); return;
    case 4: CombineRows<4>(v, rows, w, n); return;
    case 5: CombineRows<5>(v, rows, w, n); return;
    case 6: CombineRows<6>(v, rows, w, n); return;
    case 7: CombineRows<7>(v, rows, w, n); return;
    default: break;
  }
  CombineRows<8>(v, rows, w, n);
  for (int t = 8; t < nt; ++t) {
    const float wt = w[t];
    const float* __restrict r = rows[t];
    for (int i = 0; i < n; ++i) v[i] += wt * r[i];
  }
}

constexpr int kMaxRowTaps = 256;  // kernel_h limit of the separable path (checked in the constructor)

struct PlaneFilter {
  Upfirdn2dShape s;
  bool separable = false;
  std::vector<float> fy, fx, fxy;  // flipped kernels
  AxisPlan plan_x, plan_y;

  // One plane: in [in_h, in_w] -> out [out_h, out_w]; vrow has in_w floats of scratch.
  void Run(const float* in, float* out, float* vrow) const {
    const int W = s.in_w, OW = s.out_w;
    for (int oy = 0; oy < s.out_h; ++oy) {
      const int phase = oy % plan_y.P, m = oy / plan_y.P;
      float* out_row = out + static_cast<long long>(oy) * OW;
      if (separable) {
        const float* rows[kMaxRowTaps];
        float w[kMaxRowTaps];
        int nt = 0;
        for (const Tap& tap : plan_y.phases[phase]) {
          if (m < tap.m_lo || m >= tap.m_hi) continue;
          rows[nt] = in + static_cast<long long>(plan_y.S * m + tap.offset) * W;
          w[nt++] = fy[tap.t];
        }
        if (nt == 0) {
          std::fill(out_row, out_row + OW, 0.0f);
        } else {
          CombineRowsAny(vrow, rows, w, nt, W);
          FilterRow(vrow, out_row, plan_x, fx.data(), OW);
        }
      } else {
        std::fill(out_row, out_row + OW, 0.0f);
        for (const Tap& tap : plan_y.phases[phase]) {
          if (m < tap.m_lo || m >= tap.m_hi) continue;
          const float* row = in + static_cast<long long>(plan_y.S * m + tap.offset) * W;
          FilterRowAccumulate(row, out_row, plan_x, fxy.data() + tap.t * s.k_w);
        }
      }
    }
  }
};

template <typename T>
struct Convert {
  static void ToFloat(const T* src, float* dst, long long n) {
    for (long long i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
  }
  static void FromFloat(const float* src, T* dst, long long n) {
    for (long long i = 0; i < n; ++i) dst[i] = static_cast<T>(src[i]);
  }
};

class Upfirdn2dBase : public OpKernel {
 public:
  explicit Upfirdn2dBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kernel", &kernel_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kernel_h", &shape_.k_h));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kernel_w", &shape_.k_w));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("separable", &separable_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("up_x", &shape_.up_x));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("up_y", &shape_.up_y));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("down_x", &shape_.down_x));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("down_y", &shape_.down_y));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("pad_x0", &shape_.pad_x0));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("pad_x1", &shape_.pad_x1));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("pad_y0", &shape_.pad_y0));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("pad_y1", &shape_.pad_y1));
    const size_t want = separable_ ? shape_.k_h + shape_.k_w
                                   : static_cast<size_t>(shape_.k_h) * shape_.k_w;
    OP_REQUIRES(ctx, !separable_ || shape_.k_h <= 256,
                tensorflow::errors::InvalidArgument("upfirdn2d: separable kernels are limited to 256 taps"));
    OP_REQUIRES(ctx, kernel_.size() == want,
                tensorflow::errors::InvalidArgument("upfirdn2d: kernel has ", kernel_.size(),
                                                    " values, expected ", want));
  }

 protected:
  // Validates x and allocates y; returns false (with the context's status set) on error or when
  // there is nothing to compute.
  bool Prepare(OpKernelContext* ctx, Upfirdn2dShape* s, Tensor** y) {
    const Tensor& x = ctx->input(0);
    if (x.dims() != 4) {
      ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(
          "upfirdn2d: x must be 4-D NCHW, got ", x.shape().DebugString()));
      return false;
    }
    if (x.dim_size(2) >= (1 << 24) || x.dim_size(3) >= (1 << 24)) {
      ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument("upfirdn2d: image too large"));
      return false;
    }
    *s = shape_;
    s->planes = x.dim_size(0) * x.dim_size(1);
    s->in_h = static_cast<int>(x.dim_size(2));
    s->in_w = static_cast<int>(x.dim_size(3));
    s->out_h = OutSize(s->in_h, s->up_y, s->down_y, s->pad_y0, s->pad_y1, s->k_h);
    s->out_w = OutSize(s->in_w, s->up_x, s->down_x, s->pad_x0, s->pad_x1, s->k_w);
    if (s->out_h <= 0 || s->out_w <= 0) {
      ctx->CtxFailure(__FILE__, __LINE__, tensorflow::errors::InvalidArgument(
          "upfirdn2d: padded input is smaller than the kernel"));
      return false;
    }
    TensorShape out_shape({x.dim_size(0), x.dim_size(1), s->out_h, s->out_w});
    absl::Status status = ctx->allocate_output(0, out_shape, y);
    if (!status.ok()) {
      ctx->CtxFailure(__FILE__, __LINE__, status);
      return false;
    }
    return s->planes > 0 && s->in_h > 0 && s->in_w > 0;
  }

  PlaneFilter MakeFilter(const Upfirdn2dShape& s) const {
    PlaneFilter pf;
    pf.s = s;
    pf.separable = separable_;
    const int kh = s.k_h, kw = s.k_w;
    if (separable_) {
      for (int t = 0; t < kh; ++t) pf.fy.push_back(kernel_[kh - 1 - t]);
      for (int t = 0; t < kw; ++t) pf.fx.push_back(kernel_[kh + kw - 1 - t]);
    } else {
      pf.fxy.resize(static_cast<size_t>(kh) * kw);
      for (int ty = 0; ty < kh; ++ty)
        for (int tx = 0; tx < kw; ++tx)
          pf.fxy[ty * kw + tx] = kernel_[(kh - 1 - ty) * kw + (kw - 1 - tx)];
    }
    pf.plan_x = MakeAxisPlan(s.in_w, s.up_x, s.down_x, s.pad_x0, kw, s.out_w);
    pf.plan_y = MakeAxisPlan(s.in_h, s.up_y, s.down_y, s.pad_y0, kh, s.out_h);
    return pf;
  }

  std::vector<float> kernel_;
  bool separable_ = false;
  Upfirdn2dShape shape_;
};

template <typename T>
class Upfirdn2dCpuOp : public Upfirdn2dBase {
 public:
  using Upfirdn2dBase::Upfirdn2dBase;

  void Compute(OpKernelContext* ctx) override {
    Upfirdn2dShape s;
    Tensor* y = nullptr;
    if (!Prepare(ctx, &s, &y)) return;
    const PlaneFilter pf = MakeFilter(s);
    const T* x_data = ctx->input(0).flat<T>().data();
    T* y_data = y->flat<T>().data();
    const long long in_size = static_cast<long long>(s.in_h) * s.in_w;
    const long long out_size = static_cast<long long>(s.out_h) * s.out_w;
    const long long taps = (pf.separable ? 2 : s.k_h * s.k_w);
    const long long cost = in_size * 2 + out_size * (taps + 2);
    auto work = [&](long long begin, long long end) {
      std::vector<float> vrow(s.in_w);
      std::vector<float> in_buf, out_buf;
      for (long long p = begin; p < end; ++p) {
        const T* in = x_data + p * in_size;
        T* out = y_data + p * out_size;
        if (std::is_same<T, float>::value) {
          pf.Run(reinterpret_cast<const float*>(in), reinterpret_cast<float*>(out), vrow.data());
        } else {
          in_buf.resize(in_size);
          out_buf.resize(out_size);
          Convert<T>::ToFloat(in, in_buf.data(), in_size);
          pf.Run(in_buf.data(), out_buf.data(), vrow.data());
          Convert<T>::FromFloat(out_buf.data(), out, out_size);
        }
      }
    };
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    pool->ParallelFor(s.planes, cost, work);
  }
};

REGISTER_KERNEL_BUILDER(
    Name("StyleganTfUpfirdn2d").Device(tensorflow::DEVICE_CPU).TypeConstraint<float>("T"),
    Upfirdn2dCpuOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("StyleganTfUpfirdn2d").Device(tensorflow::DEVICE_CPU).TypeConstraint<Eigen::half>("T"),
    Upfirdn2dCpuOp<Eigen::half>);

#if defined(STYLEGAN_TF_WITH_CUDA)
// Defined in upfirdn2d_kernel.cu. `weights` is the flipped full 2-D kernel (k_h * k_w values).
const char* LaunchUpfirdn2dCuda(const void* x, void* y, bool is_half, const Upfirdn2dShape& s,
                                const float* weights, void* stream);

template <typename T>
class Upfirdn2dGpuOp : public Upfirdn2dBase {
 public:
  using Upfirdn2dBase::Upfirdn2dBase;

  void Compute(OpKernelContext* ctx) override {
    Upfirdn2dShape s;
    Tensor* y = nullptr;
    if (!Prepare(ctx, &s, &y)) return;
    const PlaneFilter pf = MakeFilter(s);
    std::vector<float> weights(static_cast<size_t>(s.k_h) * s.k_w);
    for (int ty = 0; ty < s.k_h; ++ty)
      for (int tx = 0; tx < s.k_w; ++tx)
        weights[ty * s.k_w + tx] = pf.separable ? pf.fy[ty] * pf.fx[tx] : pf.fxy[ty * s.k_w + tx];
    auto stream = ctx->eigen_device<Eigen::GpuDevice>().stream();
    const char* err = LaunchUpfirdn2dCuda(ctx->input(0).flat<T>().data(), y->flat<T>().data(),
                                          std::is_same<T, Eigen::half>::value, s, weights.data(),
                                          reinterpret_cast<void*>(stream));
    OP_REQUIRES(ctx, err == nullptr, tensorflow::errors::Internal("upfirdn2d CUDA: ", err ? err : ""));
  }
};

REGISTER_KERNEL_BUILDER(
    Name("StyleganTfUpfirdn2d").Device(tensorflow::DEVICE_GPU).TypeConstraint<float>("T"),
    Upfirdn2dGpuOp<float>);
REGISTER_KERNEL_BUILDER(
    Name("StyleganTfUpfirdn2d").Device(tensorflow::DEVICE_GPU).TypeConstraint<Eigen::half>("T"),
    Upfirdn2dGpuOp<Eigen::half>);
#endif  // STYLEGAN_TF_WITH_CUDA

}  // namespace stylegan_tf
