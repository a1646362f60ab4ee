// Shared by the CPU op (upfirdn2d_op.cc) and the CUDA kernel (upfirdn2d_kernel.cu).
//
// One axis of upfirdn2d, written as a polyphase filter. With the kernel flipped
// (f[t] = k[K - 1 - t]) the output is
//     y[o] = sum_t f[t] * v[o * down + t],   v[j] = x[(j - pad0) / up] if up divides (j - pad0),
// and zero elsewhere (zero insertion, padding, cropping). With g = gcd(up, down), P = up / g and
// S = down / g, outputs o = P * m + phase only ever see the taps t for which up divides
// (phase * down + t - pad0), and each such tap reads input S * m + offset. So every phase is a
// short sum of strided input runs and no multiply is spent on an inserted zero.
#ifndef STYLEGAN_TF_UPFIRDN2D_PLAN_H_
#define STYLEGAN_TF_UPFIRDN2D_PLAN_H_

#include <vector>

namespace stylegan_tf {

struct Upfirdn2dShape {
  long long planes = 0;  // N * C
  int in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int up_x = 1, up_y = 1, down_x = 1, down_y = 1;
  int pad_x0 = 0, pad_x1 = 0, pad_y0 = 0, pad_y1 = 0;
  int k_h = 1, k_w = 1;
};

inline int FloorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int CeilDiv(int a, int b) { return -FloorDiv(-a, b); }
inline int Gcd(int a, int b) { while (b) { int t = a % b; a = b; b = t; } return a; }

// Output length of one axis (may be <= 0 for invalid arguments; the caller checks).
inline int OutSize(int in, int up, int down, int pad0, int pad1, int k) {
  int span = in * up + pad0 + pad1 - k;
  return span < 0 ? 0 : span / down + 1;
}

struct Tap {
  int t;       // index into the flipped kernel
  int offset;  // input index = S * m + offset
  int m_lo;    // valid m range [m_lo, m_hi): output in range and input in range
  int m_hi;
};

struct AxisPlan {
  int P = 1, S = 1;
  std::vector<std::vector<Tap>> phases;  // phases[phase] = taps contributing to o = P*m + phase
  std::vector<int> m_count;              // number of outputs of each phase
};

inline AxisPlan MakeAxisPlan(int in, int up, int down, int pad0, int k, int out) {
  AxisPlan plan;
  int g = Gcd(up, down);
  plan.P = up / g;
  plan.S = down / g;
  plan.phases.resize(plan.P);
  plan.m_count.resize(plan.P);
  for (int phase = 0; phase < plan.P; ++phase) {
    int count = phase < out ? CeilDiv(out - phase, plan.P) : 0;
    plan.m_count[phase] = count;
    for (int t = 0; t < k; ++t) {
      int r = phase * down + t - pad0;
      if (((r % up) + up) % up != 0) continue;
      int offset = r / up;  // exact
      int lo = CeilDiv(-offset, plan.S);
      int hi = FloorDiv(in - 1 - offset, plan.S) + 1;
      if (lo < 0) lo = 0;
      if (hi > count) hi = count;
      if (lo < hi) plan.phases[phase].push_back(Tap{t, offset, lo, hi});
    }
  }
  return plan;
}

}  // namespace stylegan_tf

#endif  // STYLEGAN_TF_UPFIRDN2D_PLAN_H_
