// CUDA kernel of the upfirdn2d op (see upfirdn2d_op.cc). Compiled only when nvcc is available,
// TensorFlow is a CUDA build and a GPU is visible; it uses no TensorFlow headers.
//
// One thread per output element. Each output row/column visits only the kernel taps whose
// input sample is not an inserted zero (the polyphase structure of upfirdn2d_plan.h): with
// r = o * down + t - pad0, tap t contributes iff up divides r and 0 <= r / up < in.

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "upfirdn2d_plan.h"

namespace stylegan_tf {

constexpr int kMaxTaps = 256;

struct Weights {
  float w[kMaxTaps];  // flipped 2-D kernel, row-major [k_h, k_w]
};

__device__ inline float Load(const float* p, long long i) { return p[i]; }
__device__ inline float Load(const __half* p, long long i) { return __half2float(p[i]); }
__device__ inline void Store(float* p, long long i, float v) { p[i] = v; }
__device__ inline void Store(__half* p, long long i, float v) { p[i] = __float2half(v); }

// First tap t >= 0 with up | (base + t), i.e. t = (-base) mod up.
__device__ inline int FirstTap(int base, int up) {
  int r = (-base) % up;
  return r < 0 ? r + up : r;
}

template <typename T>
__global__ void Upfirdn2dKernel(const T* __restrict__ x, T* __restrict__ y, Upfirdn2dShape s,
                                Weights k) {
  const long long total = s.planes * s.out_h * s.out_w;
  for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int ox = static_cast<int>(idx % s.out_w);
    const int oy = static_cast<int>((idx / s.out_w) % s.out_h);
    const long long plane = idx / (static_cast<long long>(s.out_w) * s.out_h);
    const T* in = x + plane * s.in_h * s.in_w;
    const int base_y = oy * s.down_y - s.pad_y0;
    const int base_x = ox * s.down_x - s.pad_x0;
    float acc = 0.0f;
    for (int ty = FirstTap(base_y, s.up_y); ty < s.k_h; ty += s.up_y) {
      const int iy = (base_y + ty) / s.up_y;
      if (iy < 0 || iy >= s.in_h) continue;
      for (int tx = FirstTap(base_x, s.up_x); tx < s.k_w; tx += s.up_x) {
        const int ix = (base_x + tx) / s.up_x;
        if (ix < 0 || ix >= s.in_w) continue;
        acc += k.w[ty * s.k_w + tx] * Load(in, static_cast<long long>(iy) * s.in_w + ix);
      }
    }
    Store(y, idx, acc);
  }
}

// Returns nullptr on success, else the CUDA error string.
const char* LaunchUpfirdn2dCuda(const void* x, void* y, bool is_half, const Upfirdn2dShape& s,
                                const float* weights, void* stream) {
  if (s.k_h * s.k_w > kMaxTaps) return "kernel has more than 256 taps";
  Weights k;
  for (int i = 0; i < s.k_h * s.k_w; ++i) k.w[i] = weights[i];
  const long long total = s.planes * s.out_h * s.out_w;
  if (total == 0) return nullptr;
  const int threads = 256;
  const long long want = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(want < 65535 * 8 ? want : 65535 * 8);
  cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  if (is_half) {
    Upfirdn2dKernel<__half><<<blocks, threads, 0, st>>>(static_cast<const __half*>(x),
                                                        static_cast<__half*>(y), s, k);
  } else {
    Upfirdn2dKernel<float><<<blocks, threads, 0, st>>>(static_cast<const float*>(x),
                                                       static_cast<float*>(y), s, k);
  }
  cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? nullptr : cudaGetErrorString(err);
}

}  // namespace stylegan_tf
