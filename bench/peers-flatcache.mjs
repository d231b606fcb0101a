// The peer workloads in Node: flat-cache (one JSON file, rewritten by save()).
//
//   node peers-flatcache.mjs N DATA.jsonl DIR       all workloads
//   node peers-flatcache.mjs procs DATA.jsonl DIR   4 processes x 250 adds
//
// Prints impl<TAB>op<TAB>N<TAB>value<TAB>unit lines, medians of PEER_REPS
// runs (default 3). flat-cache is resolved from PEER_NODE_MODULES.
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, rmSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.PEER_NODE_MODULES, "x.js"));
const { create } = require("flat-cache");

const IMPL = "flat-cache";
const REPS = Math.max(1, parseInt(process.env.PEER_REPS || "3", 10));
const GETS = parseInt(process.env.PEER_GETS || "200000", 10);
const self = new URL(import.meta.url).pathname;

const report = (op, n, value, unit) =>
  process.stdout.write(`${IMPL}\t${op}\t${n}\t${value.toFixed(6)}\t${unit}\n`);
const now = () => Number(process.hrtime.bigint()) / 1e9;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const timed = (fn) => {
  const t = now();
  fn();
  return now() - t;
};
const readData = (p) =>
  readFileSync(p, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const open = (dir) => create({ cacheId: "model", cacheDir: dir });
const fresh = (dir) => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
};

function run(n, dataPath, dir) {
  fresh(dir);
  const data = readData(dataPath);
  const base = data.slice(0, n);
  const extra = data.slice(n);

  let cache = open(dir);
  const lists = [];
  for (let r = 0; r < REPS; r++) {
    lists.push(
      timed(() => {
        cache.clear();
        for (const a of base) cache.setKey(a.id, a);
        cache.save(true);
      }),
    );
  }
  report("add_list", n, median(lists), "s");

  const opens = [];
  for (let r = 0; r < REPS; r++) {
    let c;
    opens.push(timed(() => (c = open(dir))));
    if (c.keys().length !== n) throw new Error(`open found ${c.keys().length} of ${n}`);
  }
  report("open", n, median(opens), "s");

  cache = open(dir);
  const adds = [];
  for (let r = 0; r < REPS; r++) {
    const a = extra[r];
    adds.push(
      timed(() => {
        cache.setKey(a.id, a);
        cache.save(true);
      }),
    );
  }
  report("add one", n, median(adds), "s");

  let x = 1;
  const keys = Array.from({ length: GETS }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return base[x % n].id;
  });
  const rates = [];
  for (let r = 0; r < REPS; r++) {
    rates.push(GETS / timed(() => keys.forEach((k) => cache.getKey(k))));
  }
  report("get, 1 thread", n, median(rates), "ops/s");

  const alls = [];
  for (let r = 0; r < REPS; r++) alls.push(timed(() => Object.values(cache.all())));
  report("get_all", n, median(alls), "s");

  const peaks = [];
  for (let r = 0; r < REPS; r++) {
    const out = execFileSync(process.execPath, [self, "rss", dir], { encoding: "utf8" });
    peaks.push(parseInt(out, 10));
  }
  const size = statSync(path.join(dir, "model")).size;
  report("peak RSS", n, median(peaks), "bytes");
  report("peak RSS / file size", n, median(peaks) / size, "x");
}

function childRss(dir) {
  open(dir);
  process.stdout.write(`${process.resourceUsage().maxRSS * 1024}\n`);
}

function childAdder(dataPath, dir, first, count) {
  const data = readData(dataPath).slice(first, first + count);
  const cache = open(dir);
  for (const a of data) {
    cache.setKey(a.id, a);
    cache.save(true);
  }
}

async function procs(dataPath, dir) {
  const walls = [];
  const kept = [];
  for (let r = 0; r < REPS; r++) {
    fresh(dir);
    const t = now();
    await Promise.all(
      [0, 1, 2, 3].map(
        (p) =>
          new Promise((resolve, reject) => {
            const c = spawn(process.execPath, [self, "adder", dataPath, dir, `${p * 250}`, "250"], {
              stdio: "inherit",
            });
            c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`adder ${code}`))));
          }),
      ),
    );
    walls.push(now() - t);
    kept.push(open(dir).keys().length);
  }
  report("4 procs x 250 adds", 1000, median(walls), "s");
  report("4 procs x 250 adds: kept (min)", 1000, Math.min(...kept), "assets");
}

const [what, ...rest] = process.argv.slice(2);
if (what === "rss") childRss(rest[0]);
else if (what === "adder") childAdder(rest[0], rest[1], +rest[2], +rest[3]);
else if (what === "procs") await procs(rest[0], rest[1]);
else run(parseInt(what, 10), rest[0], rest[1]);
