// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU) on float32 inputs
// read from files, and writes its outputs as raw little-endian float32 files.
//
//   node run.mjs JOB.json
//
// JOB.json: {"model": "m.onnx", "out": "DIR",
//            "feeds": [{"input_1": {"file": "x.f32", "dims": [1, 224, 224, 3]}}, ...],
//            "outputs": ["block5_pool"],   (empty or absent: all outputs)
//            "threads": 2, "reps": 5}      (optional: intra-op threads, default
//                                           ONNX Runtime's; timed runs after one
//                                           untimed run, default 0: one run)
// Each feed (a set of inputs) runs in turn in one session: the model is
// loaded and optimized once. Prints one JSON line: {"ort": "1.30.0",
// "results": [{"outputs": {"block5_pool": {"file": "DIR/0-block5_pool.f32",
// "dims": [...]}}, "ms": ..., "runs": [ms, ...]}, ...]}, one result per feed
// (ms: the median of runs). Errors go to stderr, exit 1.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

async function main() {
  const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (job.threads) {
    opts.intraOpNumThreads = job.threads;
  }
  const session = await ort.InferenceSession.create(job.model, opts);
  const names = job.outputs && job.outputs.length ? job.outputs : session.outputNames;
  const answers = [];
  for (const [f, inputs] of job.feeds.entries()) {
    const feeds = {};
    for (const [name, spec] of Object.entries(inputs)) {
      const buf = readFileSync(spec.file);
      const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      feeds[name] = new ort.Tensor('float32', data, spec.dims);
    }
    const runs = [];
    let results;
    for (let i = 0; i <= (job.reps || 0); i++) {
      const start = performance.now();
      results = await session.run(feeds, names);
      runs.push(performance.now() - start);
    }
    if (runs.length > 1) {
      runs.shift(); // the untimed warm-up
    }
    const ms = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    const outputs = {};
    for (const name of names) {
      const t = results[name];
      const file = join(job.out, `${f}-` + name.replace(/[^A-Za-z0-9_.-]/g, '_') + '.f32');
      writeFileSync(file, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      outputs[name] = { file, dims: Array.from(t.dims, Number) };
    }
    answers.push({ outputs, ms, runs });
  }
  console.log(JSON.stringify({ ort: ort.env.versions.node, results: answers }));
}

main().catch((err) => {
  console.error(`onnxruntime: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
