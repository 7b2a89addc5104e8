// onednn_vgg runs VGG19's features (16 3x3 convolutions with their ReLU
// fused, 5 max poolings) with oneDNN, the hand-tuned vendor library
// (Debian's libdnnl-dev), as bench/vgg's "best library" peer: each layer a
// oneDNN primitive, algorithm convolution_auto (oneDNN picks direct or
// Winograd), memory formats "any" (oneDNN picks its blocked layouts), the
// input reordered from NHWC and the output back to NHWC inside the timed run.
//
//	onednn_vgg WEIGHTS REPS OUT N,H,W [N,H,W ...]
//
// WEIGHTS holds the 16 convolutions' kernels (HWIO) and biases, float32
// little-endian, one after the other, as bench/vgg writes them. The input
// is bench/vgg's pattern (value j: j%251 - 125). The first case's output
// (block5_pool, NHWC) is written to OUT for bench/vgg to check against the
// Go model's. Threads: OMP_NUM_THREADS. Prints one JSON line: the oneDNN
// version and each case's median seconds per batch over REPS runs (after
// one untimed).
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(f)                                                          \
  do {                                                                    \
    dnnl_status_t s_ = (f);                                               \
    if (s_ != dnnl_success) {                                             \
      fprintf(stderr, "onednn_vgg: %s failed: status %d (line %d)\n", #f, \
              (int)s_, __LINE__);                                         \
      exit(1);                                                            \
    }                                                                     \
  } while (0)

static const int blocks[5] = {2, 2, 4, 4, 4};
static const int widths[5] = {64, 128, 256, 512, 512};

typedef struct {
  dnnl_primitive_t prim;
  int nargs;
  dnnl_exec_arg_t args[4];
} step;

static step steps[64];
static int nsteps;

static void add(dnnl_primitive_t p, int nargs, dnnl_exec_arg_t *args) {
  steps[nsteps].prim = p;
  steps[nsteps].nargs = nargs;
  memcpy(steps[nsteps].args, args, nargs * sizeof(dnnl_exec_arg_t));
  nsteps++;
}

// reorder adds a reorder of mem to md (if they differ) and returns the memory
// holding md.
static dnnl_memory_t reorder(dnnl_engine_t eng, dnnl_memory_t mem,
                             const dnnl_memory_desc_t *md, int record,
                             dnnl_stream_t s) {
  const dnnl_memory_desc_t *have;
  CHECK(dnnl_memory_get_memory_desc(mem, &have));
  if (dnnl_memory_desc_equal(have, md)) return mem;
  dnnl_memory_t out;
  CHECK(dnnl_memory_create(&out, md, eng, DNNL_MEMORY_ALLOCATE));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_reorder_primitive_desc_create(&pd, have, eng, md, eng, NULL));
  dnnl_primitive_t p;
  CHECK(dnnl_primitive_create(&p, pd));
  dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, mem}, {DNNL_ARG_TO, out}};
  if (record) {
    add(p, 2, args);
  } else {
    CHECK(dnnl_primitive_execute(p, s, 2, args));
    CHECK(dnnl_stream_wait(s));
  }
  return out;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: onednn_vgg WEIGHTS REPS OUT N,H,W [N,H,W ...]\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *wts = malloc(size);
  if (fread(wts, 1, size, f) != (size_t)size) {
    fprintf(stderr, "onednn_vgg: %s: short read\n", argv[1]);
    return 1;
  }
  fclose(f);
  long want = 0;
  for (int b = 0, cin = 3; b < 5; b++)
    for (int i = 0; i < blocks[b]; i++) {
      want += 9L * cin * widths[b] + widths[b];
      cin = widths[b];
    }
  if (size != want * 4) {
    fprintf(stderr, "onednn_vgg: %s has %ld bytes, want %ld (VGG19's 16 convolutions)\n", argv[1], size, want * 4);
    return 1;
  }
  int reps = atoi(argv[2]);
  dnnl_engine_t eng;
  CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
  dnnl_stream_t s;
  CHECK(dnnl_stream_create(&s, eng, dnnl_stream_default_flags));
  const dnnl_version_t *v = dnnl_version();
  printf("{\"version\": \"%d.%d.%d\", \"runs\": {", v->major, v->minor, v->patch);
  for (int ci = 4; ci < argc; ci++) {
    int n, h, w, h0, w0;
    if (sscanf(argv[ci], "%d,%d,%d", &n, &h, &w) != 3) {
      fprintf(stderr, "onednn_vgg: case %s: want N,H,W\n", argv[ci]);
      return 2;
    }
    nsteps = 0;
    h0 = h;
    w0 = w;
    // The input, NHWC, bench/vgg's pattern.
    dnnl_dims_t dims = {n, 3, h, w};
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, 4, dims, dnnl_f32, dnnl_nhwc));
    dnnl_memory_t in;
    CHECK(dnnl_memory_create(&in, &md, eng, DNNL_MEMORY_ALLOCATE));
    float *x;
    CHECK(dnnl_memory_get_data_handle(in, (void **)&x));
    for (long j = 0; j < (long)n * h * w * 3; j++) x[j] = (float)(j % 251) - 125;
    dnnl_memory_t cur = in;
    float *wp = wts;
    int cin = 3;
    for (int b = 0; b < 5; b++) {
      for (int i = 0; i < blocks[b]; i++) {
        int cout = widths[b];
        dnnl_dims_t sd = {n, cin, h, w}, wd = {cout, cin, 3, 3}, bd = {cout}, dd = {n, cout, h, w};
        dnnl_dims_t strides = {1, 1}, pad = {1, 1};
        dnnl_memory_desc_t smd, wmd, bmd, dmd;
        CHECK(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x));
        CHECK(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_format_tag_any));
        dnnl_convolution_desc_t cd;
        CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_auto,
                                                 &smd, &wmd, &bmd, &dmd, strides, pad, pad));
        dnnl_post_ops_t po;
        CHECK(dnnl_post_ops_create(&po));
        CHECK(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f));
        dnnl_primitive_attr_t attr;
        CHECK(dnnl_primitive_attr_create(&attr));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_primitive_desc_t pd;
        CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
        // The user's weights (HWIO) and bias, reordered once, untimed.
        dnnl_memory_desc_t uwmd;
        CHECK(dnnl_memory_desc_init_by_tag(&uwmd, 4, wd, dnnl_f32, dnnl_hwio));
        dnnl_memory_t uw, bias;
        CHECK(dnnl_memory_create(&uw, &uwmd, eng, wp));
        wp += 9L * cin * cout;
        CHECK(dnnl_memory_create(&bias, &bmd, eng, wp));
        wp += cout;
        dnnl_memory_t wmem = reorder(eng, uw, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), 0, s);
        dnnl_memory_t src = reorder(eng, cur, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), 1, s);
        dnnl_memory_t dst;
        CHECK(dnnl_memory_create(&dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), eng, DNNL_MEMORY_ALLOCATE));
        dnnl_primitive_t p;
        CHECK(dnnl_primitive_create(&p, pd));
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wmem}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
        add(p, 4, args);
        cur = dst;
        cin = cout;
      }
      // 2x2 max pooling, stride 2.
      const dnnl_memory_desc_t *smd;
      CHECK(dnnl_memory_get_memory_desc(cur, &smd));
      dnnl_dims_t dd = {n, cin, h / 2, w / 2}, strides = {2, 2}, kernel = {2, 2}, pad = {0, 0};
      dnnl_memory_desc_t dmd;
      CHECK(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_format_tag_any));
      dnnl_pooling_desc_t pdsc;
      CHECK(dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference, dnnl_pooling_max, smd, &dmd,
                                           strides, kernel, pad, pad));
      dnnl_primitive_desc_t pd;
      CHECK(dnnl_primitive_desc_create(&pd, &pdsc, NULL, eng, NULL));
      dnnl_memory_t dst;
      CHECK(dnnl_memory_create(&dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), eng, DNNL_MEMORY_ALLOCATE));
      dnnl_primitive_t p;
      CHECK(dnnl_primitive_create(&p, pd));
      dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, cur}, {DNNL_ARG_DST, dst}};
      add(p, 2, args);
      cur = dst;
      h /= 2;
      w /= 2;
    }
    // The output back to NHWC.
    dnnl_dims_t od = {n, cin, h, w};
    dnnl_memory_desc_t omd;
    CHECK(dnnl_memory_desc_init_by_tag(&omd, 4, od, dnnl_f32, dnnl_nhwc));
    dnnl_memory_t out = reorder(eng, cur, &omd, 1, s);
    double *ts = malloc(sizeof(double) * (reps + 1));
    for (int r = 0; r <= reps; r++) {
      double t0 = now();
      for (int i = 0; i < nsteps; i++) CHECK(dnnl_primitive_execute(steps[i].prim, s, steps[i].nargs, steps[i].args));
      CHECK(dnnl_stream_wait(s));
      ts[r] = now() - t0;
    }
    qsort(ts + 1, reps, sizeof(double), cmp);
    printf("%s\"%dx%dx%d\": %.6f", ci > 4 ? ", " : "", n, h0, w0, ts[1 + reps / 2]);
    if (ci == 4) {
      float *y;
      CHECK(dnnl_memory_get_data_handle(out, (void **)&y));
      FILE *o = fopen(argv[3], "wb");
      if (!o || fwrite(y, 4, (size_t)n * h * w * cin, o) != (size_t)n * h * w * cin || fclose(o)) {
        perror(argv[3]);
        return 1;
      }
    }
  }
  printf("}}\n");
  return 0;
}
