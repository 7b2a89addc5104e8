// The notebooks as a person sees them: each one opened in Jupyter Notebook in
// Debian's Chromium (driven by puppeteer-core), all cells run, then each code
// cell checked to stand alone after a kernel restart.
//
//   node browser_test.mjs --url http://127.0.0.1:PORT --token TOKEN --out DIR [--phase all|alone|every] [--executed DIR] NAME.ipynb...
//
// Standing alone is checked without executing the notebook a second time.
// GoNB compiles each cell as a whole program from the declarations and kernel
// commands of the cells run before it plus the cell's own code: no value
// passes from one cell to the next. So a cell whose code is all after "%%"
// (its main function) and holds no other kernel command ("%..." or "!...")
// gives later cells nothing: run alone after the set-up cell, any later cell
// compiles and runs as in Run All. The test fails a code cell other than the
// set-up cell that is not of that form, and runs one cell alone after a
// restart (the one tagged "alone", else the quickest in Run All) to check the
// set-up cell is enough. --phase every runs every code cell alone after a
// restart instead (the notebook executed a second time); --phase all only
// runs all; --phase alone skips Run All.
//
// With --executed DIR it writes each notebook as Run All left it (outputs
// included, as Jupyter would save it) to DIR/NAME.ipynb, for the kernel
// package's notebook tests to check (VGGNB_EXECUTED_NOTEBOOKS): the suite
// executes each notebook once.
//
// With --expect REGEXP (repeated) it checks itself instead: it passes only if
// every REGEXP matches one of the failures (testdata/broken.ipynb).
//
// It fails on
//   - error outputs and anything a cell writes to stderr (the pink box);
//   - an output wider than the output column (a horizontal scrollbar, or an
//     element reaching past the column's right edge);
//   - an image that did not load;
//   - an output that is folded: scrolled into a box, or collapsed;
//   - SVG text cut off at the drawing's edge, and code lines wider than the
//     input column;
//   - a cell that is not self-contained (above), or that fails when run alone
//     after a restart (after the set-up cell, when the notebook's first cell
//     says to run it first).
// It saves a full-page screenshot of each notebook after Run All, and one of
// each code cell, under DIR (scripts/browser-test.sh: out/browser).
//
// Started by scripts/browser-test.sh (make browser-test), which starts Jupyter
// on 127.0.0.1 with a token on a copy of the notebooks.
import fs from "node:fs";
import path from "node:path";
import puppeteer from "puppeteer-core";

const args = parseArgs(process.argv.slice(2));
const viewport = { width: 1280, height: 900 };
const failures = [];
const timings = [];

function parseArgs(argv) {
  const a = { url: "", token: "", out: "out/browser", chromium: "/usr/bin/chromium",
    timeout: 1200, only: "", executed: "", expect: [], notebooks: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} wants a value`);
      return argv[++i];
    };
    if (k === "--url") a.url = v();
    else if (k === "--token") a.token = v();
    else if (k === "--out") a.out = v();
    else if (k === "--chromium") a.chromium = v();
    else if (k === "--timeout") a.timeout = Number(v());
    else if (k === "--phase") a.only = v();
    else if (k === "--executed") a.executed = v();
    else if (k === "--expect") a.expect.push(new RegExp(v()));
    else if (k.startsWith("--")) throw new Error(`unknown flag ${k}`);
    else a.notebooks.push(k);
  }
  if (!["", "all", "alone", "every"].includes(a.only)) throw new Error(`--phase ${a.only}: want all, alone or every`);
  if (!a.url || !a.token || a.notebooks.length === 0) {
    throw new Error("usage: browser_test.mjs --url URL --token TOKEN [--out DIR] [--phase all|alone|every] [--executed DIR] [--expect REGEXP]... NAME.ipynb...");
  }
  return a;
}

function fail(nb, where, what) {
  const msg = `${nb}: ${where}: ${what}`;
  failures.push(msg);
  console.log(`FAIL ${msg}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// waitFor polls fn (run in the page) until it returns a truthy value.
async function waitFor(page, what, fn, timeoutS, ...fnArgs) {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = await page.evaluate(fn, ...fnArgs).catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutS}s waiting for ${what}`);
    await sleep(200);
  }
}

async function openNotebook(browser, name) {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  page.on("pageerror", (e) => console.log(`  page error in ${name}: ${e.message}`));
  page.on("dialog", (d) => {
    console.log(`  dialog in ${name}: ${d.message()}`);
    d.dismiss();
  });
  const url = `${args.url}/notebooks/${encodeURIComponent(name)}?token=${encodeURIComponent(args.token)}`;
  const resp = await page.goto(url, { waitUntil: "domcontentloaded" });
  if (!resp || !resp.ok()) throw new Error(`${url.replace(args.token, "TOKEN")}: HTTP ${resp && resp.status()}`);
  await waitFor(page, "the notebook and its kernel", () =>
    window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded &&
    Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected() &&
    Jupyter.notebook.kernel.info_reply && Jupyter.notebook.kernel.info_reply.status === "ok", 120);
  await page.evaluate(() => {
    // The copy is thrown away, but nothing needs to be written either.
    Jupyter.notebook.set_autosave_interval(0);
  });
  return page;
}

// runCells runs the code cells at indices one after the other, as Shift+Enter
// would, and waits until each is done. It returns each cell's seconds.
async function runCells(page, indices, timeoutS) {
  const secs = [];
  for (const i of indices) {
    const t0 = Date.now();
    await page.evaluate((i) => {
      const c = Jupyter.notebook.get_cell(i);
      c.output_area.clear_output();
      c.execute();
    }, i);
    await waitFor(page, `cell ${i}`, (i) => {
      const c = Jupyter.notebook.get_cell(i);
      return !c.element.hasClass("running") && typeof c.input_prompt_number === "number";
    }, timeoutS, i);
    secs.push((Date.now() - t0) / 1000);
  }
  return secs;
}

// runAll is the menu's Cell > Run All, then waits until no cell is running or
// queued and the kernel is idle.
async function runAll(page, timeoutS) {
  const t0 = Date.now();
  await page.evaluate(() => {
    Jupyter.notebook.clear_all_output();
    Jupyter.notebook.execute_all_cells();
  });
  // Per-cell times: polled from the page, each cell's end noticed within 200 ms.
  const done = {};
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const s = await page.evaluate(() => Jupyter.notebook.get_cells().map((c, i) => ({
      i, code: c.cell_type === "code", running: c.element.hasClass("running"),
      n: c.cell_type === "code" ? c.input_prompt_number : null,
    })));
    for (const c of s) {
      if (c.code && !c.running && typeof c.n === "number" && !(c.i in done)) done[c.i] = (Date.now() - t0) / 1000;
    }
    const busy = s.some((c) => c.code && (c.running || c.n === "*"));
    const idle = await page.evaluate(() => document.querySelector("#kernel_indicator_icon.kernel_idle_icon") !== null);
    if (!busy && idle) break;
    if (Date.now() > deadline) throw new Error(`Run All did not finish in ${timeoutS}s`);
    await sleep(200);
  }
  return { total: (Date.now() - t0) / 1000, done };
}

async function restartKernel(page) {
  await page.evaluate(() => new Promise((resolve, reject) => {
    Jupyter.notebook.events.one("kernel_ready.Kernel", () => resolve());
    setTimeout(() => reject(new Error("kernel did not restart in 60s")), 60000);
    Jupyter.notebook.kernel.restart();
  }));
  await page.evaluate(() => Jupyter.notebook.clear_all_output());
}

// problems returns what is wrong with the outputs of the code cells at indices
// (all code cells when indices is null), as [cell index, message] pairs.
async function problems(page, indices) {
  // Images first: give them time to load.
  await waitFor(page, "images", () => [...document.querySelectorAll(".output_area img")].every((im) => im.complete), 30)
    .catch(() => {});
  return page.evaluate((indices) => {
    const out = [];
    const cells = Jupyter.notebook.get_cells();
    const which = indices || cells.map((c, i) => i).filter((i) => cells[i].cell_type === "code");
    const short = (s) => (s.length > 300 ? s.slice(0, 300) + "…" : s).replace(/\x1b\[[0-9;]*m/g, "");
    for (const i of which) {
      const c = cells[i];
      for (const o of c.output_area.outputs) {
        if (o.output_type === "error") out.push([i, `error output: ${o.ename}: ${short(o.evalue + "\n" + (o.traceback || []).join("\n"))}`]);
        if (o.output_type === "stream" && o.name === "stderr") out.push([i, `stderr: ${short(o.text)}`]);
      }
      if (c.output_area.collapsed || c.metadata.collapsed || (c.metadata.jupyter && c.metadata.jupyter.outputs_hidden)) {
        out.push([i, "output collapsed"]);
      }
      if (c.output_area.element.hasClass("output_scroll")) {
        out.push([i, "output folded into a scroll box (cell metadata scrolled: false keeps it whole)"]);
      }
      for (const sub of c.output_area.element[0].querySelectorAll(".output_subarea")) {
        const col = sub.getBoundingClientRect();
        if (sub.scrollWidth > sub.clientWidth + 1) {
          out.push([i, `output ${sub.scrollWidth}px wide in a ${sub.clientWidth}px column (horizontal scrollbar)`]);
        }
        for (const el of sub.querySelectorAll("img, svg, table, pre, canvas")) {
          if (el.closest("svg") !== el && el.closest("svg")) continue; // inside an SVG: its root is measured
          const r = el.getBoundingClientRect();
          if (r.width > 0 && r.right > col.right + 1) {
            out.push([i, `<${el.tagName.toLowerCase()}> reaches ${Math.round(r.right - col.left)}px in a ${Math.round(col.width)}px column`]);
          }
        }
        for (const im of sub.querySelectorAll("img")) {
          if (!im.complete || im.naturalWidth === 0) out.push([i, `image did not load: ${im.src.slice(0, 80)}`]);
        }
        // Text cut off at a drawing's edge (a title wider than its diagram, say):
        // the browser's fonts are not the ones Graphviz measured with.
        for (const svg of sub.querySelectorAll("svg")) {
          if (svg.parentElement.closest("svg")) continue;
          const b = svg.getBoundingClientRect();
          for (const t of svg.querySelectorAll("text")) {
            const r = t.getBoundingClientRect();
            if (r.width > 0 && (r.left < b.left - 1 || r.right > b.right + 1)) {
              out.push([i, `SVG text cut off at the drawing's edge: "${t.textContent.slice(0, 60)}"`]);
            }
          }
        }
      }
      // The code itself: a line longer than the input column hides behind a scrollbar.
      const cm = c.element[0].querySelector(".CodeMirror-scroll");
      if (cm && cm.scrollWidth > cm.clientWidth + 1) {
        out.push([i, `code ${cm.scrollWidth}px wide in a ${cm.clientWidth}px input column (a line is cut off)`]);
      }
    }
    return out;
  }, indices);
}

// screenshots saves the whole notebook as one picture (Jupyter scrolls #site,
// not the page: it is unrolled first) and each code cell as its own.
async function screenshots(page, name, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, name.replace(/\.ipynb$/, ""));
  await page.addStyleTag({ content: "html, body { height: auto !important; overflow: visible !important; } #site { height: auto !important; overflow: visible !important; }" });
  await sleep(300);
  await page.screenshot({ path: `${base}.png`, fullPage: true });
  const n = await page.evaluate(() => Jupyter.notebook.get_cells().length);
  fs.mkdirSync(base, { recursive: true });
  for (let i = 0; i < n; i++) {
    const code = await page.evaluate((i) => Jupyter.notebook.get_cell(i).cell_type === "code", i);
    if (!code) continue;
    const el = await page.evaluateHandle((i) => Jupyter.notebook.get_cell(i).element[0], i);
    await el.asElement().screenshot({ path: path.join(base, `cell-${String(i).padStart(2, "0")}.png`) });
  }
  // Back to Jupyter's own layout for what follows.
  await page.evaluate(() => document.head.lastElementChild.remove());
  return `${base}.png`;
}

// setupCell returns the index of the cell to run first after a restart, or -1:
// the notebook says so in its first cell ("restart" and "set-up cell"), and
// the cell is the one tagged "setup" (else the first code cell).
async function setupCell(page, name) {
  const r = await page.evaluate(() => {
    const cells = Jupyter.notebook.get_cells();
    const first = cells.length ? cells[0].get_text() : "";
    const says = /restart/i.test(first) && /set-?up cell/i.test(first);
    let i = cells.findIndex((c) => (c.metadata.tags || []).includes("setup"));
    if (i < 0) i = cells.findIndex((c) => c.cell_type === "code");
    return { says, i, text: i >= 0 ? cells[i].get_text() : "" };
  });
  if (!r.says) return -1;
  // Helpers come from a package: a set-up cell that declares functions would
  // make every other cell depend on having run it.
  if (/^func\s/m.test(r.text)) fail(name, `set-up cell ${r.i}`, "declares functions (helpers belong in a package)");
  return r.i;
}

// saveExecuted writes the notebook model nb (Jupyter.notebook.toJSON(), what
// Save would write) to args.executed/name, through a temporary file renamed
// into place: a reader never sees half a notebook.
function saveExecuted(name, nb) {
  fs.mkdirSync(args.executed, { recursive: true });
  const dst = path.join(args.executed, name);
  const tmp = `${dst}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(nb, null, 1) + "\n");
  fs.renameSync(tmp, dst);
}

// notSelfContained returns the code cells, but the set-up cell, that give
// later cells something (GoNB keeps a cell's declarations and kernel commands
// for the cells run after it): cells whose first line is not "%%" or with
// another line that starts with "%" or "!", as [cell index, message] pairs.
async function notSelfContained(page, setup) {
  return page.evaluate((setup) => {
    const out = [];
    Jupyter.notebook.get_cells().forEach((c, i) => {
      if (c.cell_type !== "code" || i === setup) return;
      const lines = c.get_text().split("\n");
      const first = lines.findIndex((l) => l.trim() !== "");
      if (first < 0) return;
      if (lines[first].trim() !== "%%") {
        out.push([i, `not self-contained: its code does not start with %% (what comes before %% is declared for every later cell, which then fails alone after a restart)`]);
        return;
      }
      const cmd = lines.slice(first + 1).find((l) => /^\s*[%!]/.test(l));
      if (cmd) out.push([i, `not self-contained: kernel command ${JSON.stringify(cmd.trim().slice(0, 60))} outside the set-up cell (it stays in force for every later cell)`]);
    });
    return out;
  }, setup);
}

// aloneCell picks the cell the default phase runs alone: the code cell tagged
// "alone", else the one that took least time in Run All (done: the seconds
// into Run All at which each cell finished).
async function aloneCell(page, setup, done) {
  const tagged = await page.evaluate(() => Jupyter.notebook.get_cells().findIndex((c) => (c.metadata.tags || []).includes("alone")));
  if (tagged >= 0) return tagged;
  let best = -1, bestSecs = Infinity, prev = 0;
  for (const [i, t] of Object.entries(done).map(([i, t]) => [Number(i), t]).sort((a, b) => a[0] - b[0])) {
    if (i !== setup && t - prev < bestSecs) {
      best = i;
      bestSecs = t - prev;
    }
    prev = t;
  }
  return best;
}

// runAlone restarts the kernel and runs the set-up cell (when there is one)
// and cell i, failing what goes wrong.
async function runAlone(page, name, setup, i) {
  await restartKernel(page);
  const first = setup >= 0 ? [setup] : [];
  const secs = await runCells(page, [...first, i], args.timeout);
  const probs = await problems(page, [...first, i]);
  for (const [j, m] of probs) fail(name, `cell ${i} alone after a restart${j === i ? "" : `, in cell ${j}`}`, m);
  console.log(`    cell ${i}: ${secs.map((s) => s.toFixed(1) + "s").join(" + ")}${probs.length ? ` (${probs.length} problem(s))` : ""}`);
  timings.push({ notebook: name, phase: "alone", cell: i, seconds: secs });
}

async function testNotebook(browser, name) {
  console.log(`== ${name}`);
  const page = await openNotebook(browser, name);
  try {
    let run = null;
    if (args.only !== "alone") {
      run = await runAll(page, args.timeout);
      const probs = await problems(page, null);
      for (const [i, m] of probs) fail(name, `Run All, cell ${i}`, m);
      const shot = await screenshots(page, name, args.out);
      const cells = Object.entries(run.done).map(([i, t]) => `${i}:${t.toFixed(1)}s`).join(" ");
      console.log(`  Run All: ${run.total.toFixed(1)}s, ${probs.length} problem(s); cells done at ${cells}; screenshot ${shot}`);
      timings.push({ notebook: name, phase: "run-all", seconds: run.total, done: run.done });
      if (args.executed) saveExecuted(name, await page.evaluate(() => Jupyter.notebook.toJSON()));
    }
    if (args.only === "all") return;
    const setup = await setupCell(page, name);
    console.log(setup >= 0 ? `  alone after a restart, after set-up cell ${setup}:` : "  alone after a restart (no set-up cell named in the first cell):");
    if (args.only === "alone" || args.only === "every") {
      const code = await page.evaluate(() => Jupyter.notebook.get_cells().map((c, i) => (c.cell_type === "code" ? i : -1)).filter((i) => i >= 0));
      for (const i of code) {
        if (i !== setup) await runAlone(page, name, setup, i);
      }
      return;
    }
    const loose = await notSelfContained(page, setup);
    for (const [i, m] of loose) fail(name, `cell ${i}`, m);
    const code = await page.evaluate(() => Jupyter.notebook.get_cells().filter((c) => c.cell_type === "code").length);
    console.log(`    ${code - (setup >= 0 ? 1 : 0) - loose.length} self-contained code cell(s), ${loose.length} not`);
    const i = await aloneCell(page, setup, run.done);
    if (i >= 0) await runAlone(page, name, setup, i);
  } finally {
    await page.close();
  }
}

async function main() {
  fs.mkdirSync(args.out, { recursive: true });
  const userDataDir = fs.mkdtempSync(path.join(process.env.TMPDIR || "/tmp", "vggnb-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: args.chromium,
    headless: true,
    userDataDir,
    // Root needs --no-sandbox; the rest keeps Chromium off a closed network.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  try {
    for (const nb of args.notebooks) {
      try {
        await testNotebook(browser, nb);
      } catch (e) {
        fail(nb, "test", e.message);
      }
    }
  } finally {
    await browser.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  fs.writeFileSync(path.join(args.out, "timings.json"), JSON.stringify(timings, null, 1));
  if (args.expect.length) {
    // The test's own check, on notebooks broken on purpose: each fault must be caught.
    const missed = args.expect.filter((re) => !failures.some((f) => re.test(f)));
    if (missed.length) {
      console.log(`\nthe browser test missed ${missed.length} fault(s) it must catch: ${missed.join(", ")}`);
      process.exit(1);
    }
    console.log(`\nok: all ${args.expect.length} faults put in on purpose were caught`);
    return;
  }
  if (failures.length) {
    console.log(`\n${failures.length} failure(s):\n${failures.join("\n")}`);
    process.exit(1);
  }
  console.log(`\nok: ${args.notebooks.length} notebook(s); screenshots in ${args.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
