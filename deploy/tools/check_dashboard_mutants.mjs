// Proves that check_dashboard.mjs catches what it claims to: applies one known defect at a
// time to the dashboard (or to the scrape, as if the server renamed a metric) and requires the
// check to fail with the expected message. Run by deploy/check_dashboard.sh after the real
// dashboard passed against the same scrape.
//
//   node deploy/tools/check_dashboard_mutants.mjs DASHBOARD.json SCRAPE.txt
//
// Prints "OK   caught: <defect>" per mutant; exits 1 if a mutant passes or fails for another
// reason (then the check has lost that ability), or if the unmutated pair does not pass.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import os from "node:os";
import path from "node:path";

const [dashboardPath, scrapePath] = process.argv.slice(2);
if (!dashboardPath || !scrapePath) {
  console.error("usage: check_dashboard_mutants.mjs DASHBOARD.json SCRAPE.txt");
  process.exit(2);
}
const checker = path.join(path.dirname(fileURLToPath(import.meta.url)), "check_dashboard.mjs");
const original = readFileSync(dashboardPath, "utf8");
const originalScrape = readFileSync(scrapePath, "utf8");

const panelsOf = (d) => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const targetsOf = (d) => panelsOf(d).flatMap((p) => p.targets ?? []);
// Replaces `from` by `to` in the first expr containing it; throws if none does (the mutant
// would test nothing: the dashboard changed and this list must follow).
const editExpr = (d, from, to) => {
  const target = targetsOf(d).find((t) => t.expr.includes(from));
  if (!target) throw new Error(`no expr contains '${from}'`);
  target.expr = target.expr.replace(from, to);
};
const panelWith = (d, fragment) => {
  const panel = panelsOf(d).find((p) => (p.targets ?? []).some((t) => t.expr.includes(fragment)));
  if (!panel) throw new Error(`no panel queries '${fragment}'`);
  return panel;
};

const mutants = [
  ["a metric name misspelt", "is not in the scrape",
    (d) => editExpr(d, "dataloader_batches_sent_total", "dataloader_batch_sent_total")],
  ["the server renames a metric", "'dataloader_stage_queue_items' is not in the scrape",
    (d, s) => [d, s.replaceAll("dataloader_stage_queue_items", "dataloader_stage_queue_length")]],
  ["the server drops a label", "no series below has 'stage'",
    (d, s) => [d, s.replaceAll(/,stage="[^"]*"/g, "")]],
  ["a grouping label misspelt", "no series below has 'stages'",
    (d) => editExpr(d, "sum by (pipeline, stage) (rate(dataloader_stage_items_out_total",
                    "sum by (pipeline, stages) (rate(dataloader_stage_items_out_total")],
  ["a matcher label misspelt", "has no label 'pipelines'",
    (d) => editExpr(d, 'dataloader_streams_active{instance=~"$instance", pipeline=~',
                    'dataloader_streams_active{instance=~"$instance", pipelines=~')],
  ["a status code misspelt", "no series has that value",
    (d) => editExpr(d, 'code!="OK"', 'code!="Ok"')],
  ["rate() of a gauge", "not a counter",
    (d) => editExpr(d, "sum by (pipeline) (dataloader_streams_active{instance=~\"$instance\", " +
                       "pipeline=~\"$pipeline\"})",
                    "sum by (pipeline) (rate(dataloader_streams_active[5m]))")],
  ["a counter without rate()", "outside rate()",
    (d) => editExpr(d, "sum(rate(dataloader_batches_sent_total{instance=~\"$instance\", " +
                       "pipeline=~\"$pipeline\"}[$__rate_interval]))",
                    "sum(dataloader_batches_sent_total)")],
  ["histogram_quantile() losing 'le'", "drops 'le'",
    (d) => editExpr(d, "sum by (le, pipeline, stage)", "sum by (pipeline, stage)")],
  ["a histogram's bare name", "is a histogram",
    (d) => editExpr(d, "dataloader_stage_task_duration_seconds_sum",
                    "dataloader_stage_task_duration_seconds")],
  ["a legend naming a label the result lacks", "legend names {{stage}}",
    (d) => {
      panelWith(d, "sum by (pipeline) (rate(dataloader_batches_sent_total").targets[0]
        .legendFormat = "{{stage}}";
    }],
  ["a PromQL syntax error", "syntax error",
    (d) => editExpr(d, "[$__rate_interval]))", "[$__rate_interval])")],
  ["a function Prometheus 2 lacks", "is not in Prometheus 2.x",
    (d) => editExpr(d, "histogram_quantile(0.5,", "histogram_fraction(0, 0.5,")],
  ["an undefined variable", "unknown variable",
    (d) => editExpr(d, 'pipeline=~"$pipeline"', 'pipeline=~"$pipelines"')],
  ["two panels with one id", "id also used",
    (d) => { panelsOf(d)[3].id = panelsOf(d)[2].id; }],
  ["a panel without the datasource variable", "datasource must be",
    (d) => { panelsOf(d)[2].datasource = { type: "prometheus", uid: "prometheus" }; }],
  ["overlapping panels", "overlaps",
    (d) => { panelsOf(d)[3].gridPos = { ...panelsOf(d)[2].gridPos }; }],
  ["a panel without queries", "no targets", (d) => { panelsOf(d)[2].targets = []; }],
  ["a variable reading a label that does not exist", "no series below has 'replica'",
    (d) => {
      const variable = d.templating.list.find((v) => v.name === "instance");
      variable.query.query = "label_values(dataloader_streams_started_total, replica)";
    }],
];

const dir = mkdtempSync(path.join(os.tmpdir(), "dashboard-mutants-"));
const run = (dashboard, scrape) => {
  writeFileSync(path.join(dir, "d.json"), JSON.stringify(dashboard));
  writeFileSync(path.join(dir, "s.txt"), scrape);
  return spawnSync(process.execPath, [checker, path.join(dir, "d.json"), path.join(dir, "s.txt")],
                   { encoding: "utf8" });
};
let failures = 0;
try {
  const baseline = run(JSON.parse(original), originalScrape);
  if (baseline.status !== 0) {
    console.log(`FAIL the unmutated dashboard does not pass:\n${baseline.stdout}${baseline.stderr}`);
    process.exit(1);
  }
  for (const [defect, expected, mutate] of mutants) {
    let dashboard = JSON.parse(original);
    let scrape = originalScrape;
    try {
      const result = mutate(dashboard, scrape);
      if (Array.isArray(result)) [dashboard, scrape] = result;
    } catch (error) {
      console.log(`FAIL mutant '${defect}' does not apply: ${error.message}`);
      failures++;
      continue;
    }
    const { status, stdout, stderr } = run(dashboard, scrape);
    if (status === 1 && stdout.includes(expected)) {
      console.log(`OK   caught: ${defect}`);
    } else {
      console.log(`FAIL not caught: ${defect} (exit ${status}, expected '${expected}'):\n` +
                  stdout.split("\n").filter((l) => l.startsWith("FAIL")).join("\n") + stderr);
      failures++;
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failures) process.exit(1);
console.log(`check_dashboard_mutants: all ${mutants.length} defects caught`);
