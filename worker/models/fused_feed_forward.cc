#include "worker/models/fused_feed_forward.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "worker/models/cpu_gemm.h"
#include "worker/models/token_layout.h"

namespace switchyard::worker::models {
namespace {

// The tokens of one call as rows of a matrix. Position-major rows (row
// t * B + b) when the maps are per position, so that the rows of one
// position are one contiguous block; otherwise the rows follow x's storage.
struct Rows {
  int64_t batch = 0;
  int64_t length = 0;
  int64_t positions = 0;  // P: 1 or length
  int64_t chunk = 0;      // rows per chunk
  bool position_major = false;

  int64_t count() const { return batch * length; }
  // Rows sharing one weight matrix: all of them, or one position's batch.
  int64_t per_map() const { return positions == 1 ? count() : batch; }
  int64_t chunks_per_map() const { return (per_map() + chunk - 1) / chunk; }
};

// The same tensor's rows, [B * T, C] (a view).
torch::Tensor RowView(const torch::Tensor& t, const Rows& rows) {
  return (rows.position_major ? t.transpose(0, 1) : t)
      .view({rows.count(), t.size(2)});
}

// Measured at the paper shape (feed_forward_bench, 32 to 1,024 rows): 256
// to 512 rows per chunk are fastest, smaller chunks lose more in the
// products' packing than they gain in cache. A cisformer chunk never
// spans two positions, so there a chunk is min(512, batch) rows.
constexpr int64_t kDefaultChunkRows = 512;

// The chunk `index` (counted over all maps) as (map, first row, row count).
struct Chunk {
  int64_t map;
  int64_t begin;
  int64_t size;
};

Chunk ChunkAt(const Rows& rows, int64_t index) {
  const int64_t map = index / rows.chunks_per_map();
  const int64_t within = (index % rows.chunks_per_map()) * rows.chunk;
  return {map, map * rows.per_map() + within,
          std::min(rows.chunk, rows.per_map() - within)};
}

class FusedFeedForwardFunction
    : public torch::autograd::Function<FusedFeedForwardFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx,
                               const torch::Tensor& x,
                               const torch::Tensor& w1,
                               const torch::Tensor& b1,
                               const torch::Tensor& w2,
                               const torch::Tensor& b2, int64_t chunk_rows) {
    torch::NoGradGuard no_grad;
    Rows rows;
    rows.batch = x.size(0);
    rows.length = x.size(1);
    rows.positions = w1.size(0);
    rows.position_major = rows.positions > 1 || IsPositionMajor(x);
    rows.chunk = chunk_rows;
    const int64_t hidden = w1.size(2);
    const torch::Tensor input = TokenRows(x, rows.position_major);
    torch::Tensor out = EmptyTokens(rows.batch, rows.length, w2.size(2),
                                    rows.position_major, x.options());
    torch::Tensor out_rows = RowView(out, rows);
    const int64_t chunks = rows.positions * rows.chunks_per_map();
    at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
      torch::Tensor h = torch::empty({rows.chunk, hidden}, x.options());
      for (int64_t i = first; i < last; ++i) {
        const Chunk c = ChunkAt(rows, i);
        torch::Tensor hc = h.narrow(0, 0, c.size);
        hc.copy_(b1[c.map].expand_as(hc));
        Gemm(input.narrow(0, c.begin, c.size), w1[c.map], hc, 1, 1);
        hc.relu_();
        torch::Tensor yc = out_rows.narrow(0, c.begin, c.size);
        yc.copy_(b2[c.map].expand_as(yc));
        Gemm(hc, w2[c.map], yc, 1, 1);
      }
    });
    ctx->save_for_backward({input, w1, b1, w2});
    ctx->saved_data["batch"] = rows.batch;
    ctx->saved_data["length"] = rows.length;
    ctx->saved_data["position_major"] = rows.position_major;
    ctx->saved_data["chunk"] = rows.chunk;
    return out;
  }

  static torch::autograd::tensor_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::tensor_list grad_outputs) {
    torch::NoGradGuard no_grad;
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const torch::Tensor& w1 = saved[1];
    const torch::Tensor& b1 = saved[2];
    const torch::Tensor& w2 = saved[3];
    Rows rows;
    rows.batch = ctx->saved_data["batch"].toInt();
    rows.length = ctx->saved_data["length"].toInt();
    rows.positions = w1.size(0);
    rows.position_major = ctx->saved_data["position_major"].toBool();
    rows.chunk = ctx->saved_data["chunk"].toInt();
    const int64_t in = w1.size(1);
    const int64_t hidden = w1.size(2);
    const int64_t out = w2.size(2);
    const torch::TensorOptions options = input.options();
    const torch::Tensor grad_rows =
        TokenRows(grad_outputs[0], rows.position_major);
    torch::Tensor grad_x =
        EmptyTokens(rows.batch, rows.length, in, rows.position_major, options);
    torch::Tensor grad_x_rows = RowView(grad_x, rows);

    // Weight gradients: with one map per position, one task owns each
    // position and adds into its slice; with a shared map, each thread adds
    // into its own copy and the copies are summed at the end.
    const bool shared = rows.positions == 1;
    const int64_t copies = shared ? at::get_num_threads() : 1;
    const int64_t slots = shared ? copies : rows.positions;
    torch::Tensor gw1 = torch::zeros({slots, in, hidden}, options);
    torch::Tensor gb1 = torch::zeros({slots, hidden}, options);
    torch::Tensor gw2 = torch::zeros({slots, hidden, out}, options);
    torch::Tensor gb2 = torch::zeros({slots, out}, options);

    auto run_chunks = [&](int64_t first, int64_t last, int64_t slot) {
      torch::Tensor h = torch::empty({rows.chunk, hidden}, options);
      torch::Tensor dh = torch::empty({rows.chunk, hidden}, options);
      for (int64_t i = first; i < last; ++i) {
        const Chunk c = ChunkAt(rows, i);
        const int64_t s = shared ? slot : c.map;
        const torch::Tensor xc = input.narrow(0, c.begin, c.size);
        const torch::Tensor gy = grad_rows.narrow(0, c.begin, c.size);
        torch::Tensor hc = h.narrow(0, 0, c.size);
        torch::Tensor dhc = dh.narrow(0, 0, c.size);
        // Recompute the chunk's pre-activation, then walk back through it.
        hc.copy_(b1[c.map].expand_as(hc));
        Gemm(xc, w1[c.map], hc, 1, 1);
        Gemm(gy, w2[c.map].t(), dhc);
        torch::threshold_backward_out(dhc, dhc, hc, 0);
        hc.relu_();
        Gemm(hc.t(), gy, gw2[s], 1, 1);
        gb2[s].add_(gy.sum(0));
        Gemm(xc.t(), dhc, gw1[s], 1, 1);
        gb1[s].add_(dhc.sum(0));
        Gemm(dhc, w1[c.map].t(), grad_x_rows.narrow(0, c.begin, c.size));
      }
    };
    if (shared) {
      // Contiguous runs of chunks per task; a task's thread picks the copy.
      at::parallel_for(0, rows.chunks_per_map(), 1,
                       [&](int64_t first, int64_t last) {
                         run_chunks(first, last, at::get_thread_num());
                       });
    } else {
      at::parallel_for(0, rows.positions, 1, [&](int64_t first, int64_t last) {
        run_chunks(first * rows.chunks_per_map(),
                   last * rows.chunks_per_map(), 0);
      });
    }
    if (shared) {
      gw1 = gw1.sum(0, /*keepdim=*/true);
      gb1 = gb1.sum(0, true);
      gw2 = gw2.sum(0, true);
      gb2 = gb2.sum(0, true);
    }
    return {grad_x, gw1, gb1, gw2, gb2, torch::Tensor()};
  }
};

void CheckAffine(const AffineWeights& map, const char* name) {
  TORCH_CHECK(map.weight.dim() == 3 && map.bias.dim() == 2 &&
                  map.bias.size(0) == map.weight.size(0) &&
                  map.bias.size(1) == map.weight.size(2),
              "FusedFeedForward: ", name,
              " must be weight [P, in, out] and bias [P, out], got ",
              map.weight.sizes(), " and ", map.bias.sizes());
  TORCH_CHECK(map.weight.device().is_cpu() && map.bias.device().is_cpu(),
              "FusedFeedForward: CPU tensors only, got ", name, " on ",
              map.weight.device());
}

}  // namespace

torch::Tensor FusedFeedForward(const torch::Tensor& x,
                               const AffineWeights& first,
                               const AffineWeights& second,
                               int64_t chunk_rows) {
  TORCH_CHECK(x.device().is_cpu(), "FusedFeedForward: CPU tensors only, got ",
              x.device());
  TORCH_CHECK(x.dim() == 3, "FusedFeedForward: x must be [B, T, in], got ",
              x.sizes());
  CheckAffine(first, "first");
  CheckAffine(second, "second");
  const int64_t positions = first.weight.size(0);
  TORCH_CHECK(second.weight.size(0) == positions,
              "FusedFeedForward: both maps need the same P, got ", positions,
              " and ", second.weight.size(0));
  TORCH_CHECK(positions == 1 || positions == x.size(1),
              "FusedFeedForward: P must be 1 or the window length ",
              x.size(1), ", got ", positions);
  TORCH_CHECK(first.weight.size(1) == x.size(2) &&
                  second.weight.size(1) == first.weight.size(2),
              "FusedFeedForward: widths do not chain: x ", x.sizes(),
              ", first ", first.weight.sizes(), ", second ",
              second.weight.sizes());
  TORCH_CHECK(chunk_rows >= 0, "FusedFeedForward: chunk_rows ", chunk_rows,
              " < 0");
  const int64_t chunk =
      chunk_rows > 0 ? chunk_rows : kDefaultChunkRows;
  return FusedFeedForwardFunction::apply(x, first.weight, first.bias,
                                         second.weight, second.bias, chunk);
}

}  // namespace switchyard::worker::models
