// Checks a Grafana dashboard (deploy/grafana/dataloader.json) offline: its structure, and, given
// a scrape of the server's /metrics, that every query asks for metrics and labels the server
// exports.
//
//   node deploy/tools/check_dashboard.mjs DASHBOARD.json [SCRAPE.txt]
//
// deploy/check_dashboard.sh runs it on a scrape of a real dataloader_server that has streamed
// batches; deploy/validate_manifests.sh runs the structural part (no scrape).
//
// Structure: uid/title/schemaVersion, no fixed numeric id (import and provisioning would
// clash), template variables (a Prometheus datasource variable that every panel and query uses,
// so that the same file works imported and provisioned), panels with unique ids, a type, a
// title, a description, a grid position inside the 24 columns and not overlapping another, and
// Prometheus targets with unique refIds and a non-empty expr; every $variable a query names is
// defined (or one of Grafana's $__ built-ins).
//
// Queries: each expr (Grafana's variables substituted) is parsed with Prometheus' own PromQL
// grammar (npm @prometheus-io/lezer-promql, the grammar of Prometheus' web UI); a syntax error
// fails. From the syntax tree:
//   - functions are ones Prometheus 2.x has (the grammar also knows newer, experimental ones);
//   - with a scrape: every metric name is a sample name in it (histograms' _bucket, _sum and
//     _count are their own sample names; the bare name of a histogram family fails), every
//     label in a matcher, `by`/`without` and `on`/`ignoring` exists on the series it applies
//     to, or is one Prometheus adds when it scrapes (instance, job); literal values in `=` and
//     `!=` matchers occur in the scrape (a misspelt code="Ok" would match nothing, or
//     everything); rate/irate/increase take counters (or histogram components), counters
//     appear only under such a function, histogram_quantile gets _bucket series with `le`
//     kept; the labels a legend names ({{stage}}) are labels of the query's result.
// Also lists the exported metrics the dashboard does not show (a note, not an error).
//
// Prints one line per panel ("OK   panel N 'title'" or "FAIL ...: reason"), exits 1 if anything
// fails. Modules from K8S_MODELS_DIR (default /var/tmp/dataloader-npm/node_modules), where
// deploy/tools/npm_modules.sh installs them.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modulesDir = process.env.K8S_MODELS_DIR || "/var/tmp/dataloader-npm/node_modules";
let parser;
try {
  const entry = path.join(modulesDir, "@prometheus-io/lezer-promql/dist/index.es.js");
  ({ parser } = await import(pathToFileURL(entry).href));
} catch (error) {
  console.error(`check_dashboard: cannot load @prometheus-io/lezer-promql from ${modulesDir}: ` +
                `${error.message}`);
  console.error("install it with deploy/tools/npm_modules.sh (deploy/validate_manifests.sh does)");
  process.exit(2);
}

const [dashboardPath, scrapePath] = process.argv.slice(2);
if (!dashboardPath) {
  console.error("usage: check_dashboard.mjs DASHBOARD.json [SCRAPE.txt]");
  process.exit(2);
}

// Labels Prometheus attaches to every series of a target when it scrapes it; the server's
// exposition does not carry them.
const TARGET_LABELS = new Set(["instance", "job"]);
// Grafana's built-in variables, and what stands in for them when the expr is parsed.
const BUILTIN_VARIABLES = new Map([
  ["__rate_interval", "5m"], ["__interval", "1m"], ["__range", "1h"], ["__interval_ms", "60000"],
  ["__range_s", "3600"], ["__range_ms", "3600000"], ["__dashboard", "x"], ["__org", "1"],
  ["__user", "x"],
]);
// Functions of Prometheus 2.x (the grammar knows newer ones, which older servers reject).
const PORTABLE_FUNCTIONS = new Set(`abs absent absent_over_time avg_over_time ceil changes clamp
  clamp_max clamp_min count_over_time day_of_month day_of_week day_of_year days_in_month delta
  deriv exp floor histogram_quantile holt_winters hour idelta increase irate label_join
  label_replace last_over_time ln log10 log2 max_over_time min_over_time minute month
  predict_linear present_over_time quantile_over_time rate resets round scalar sgn sort
  sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time time timestamp vector year`
  .split(/\s+/));
// Functions whose argument is a counter's range: counters belong under them.
const COUNTER_FUNCTIONS = new Set(["rate", "irate", "increase", "resets"]);
const PANEL_TYPES = new Set(["row", "timeseries", "stat", "gauge", "bargauge", "table",
                             "heatmap", "text", "piechart", "state-timeline", "histogram"]);
const EXPR_NODES = new Set(["AggregateExpr", "BinaryExpr", "FunctionCall", "MatrixSelector",
                            "NumberDurationLiteral", "OffsetExpr", "ParenExpr", "StringLiteral",
                            "SubqueryExpr", "UnaryExpr", "VectorSelector", "StepInvariantExpr"]);

// ---------------------------------------------------------------------------------------------
// The scrape: sample name -> { family, type, labels: Map(label -> Set(values)) }.
function parseScrape(text) {
  const types = new Map();  // family -> type
  const samples = new Map();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1], type[2]);
      continue;
    }
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!head) throw new Error(`scrape line ${index + 1}: no metric name: ${line}`);
    const name = head[1];
    const labels = new Map();
    let rest = line.slice(name.length);
    if (rest.startsWith("{")) {
      let i = 1;
      while (rest[i] !== "}") {
        const label = /^\s*,?\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(rest.slice(i));
        if (!label) throw new Error(`scrape line ${index + 1}: bad labels: ${line}`);
        i += label[0].length;
        let value = "";
        for (; i < rest.length && rest[i] !== '"'; i++) {
          if (rest[i] === "\\") {
            i++;
            value += rest[i] === "n" ? "\n" : rest[i];
          } else {
            value += rest[i];
          }
        }
        if (i >= rest.length) throw new Error(`scrape line ${index + 1}: unterminated value`);
        labels.set(label[1], value);
        i++;
        while (rest[i] === "," || rest[i] === " ") i++;
        if (i >= rest.length) throw new Error(`scrape line ${index + 1}: unterminated labels`);
      }
      rest = rest.slice(i + 1);
    }
    if (!/^\s+\S+(\s+-?\d+)?$/.test(rest)) {
      throw new Error(`scrape line ${index + 1}: bad value: ${line}`);
    }
    let sample = samples.get(name);
    if (!sample) {
      sample = { labels: new Map() };
      samples.set(name, sample);
    }
    for (const [label, value] of labels) {
      if (!sample.labels.has(label)) sample.labels.set(label, new Set());
      sample.labels.get(label).add(value);
    }
  }
  // Each sample's family and type: the name itself, or a histogram/summary family it belongs to.
  for (const [name, sample] of samples) {
    sample.family = name;
    sample.type = types.get(name) ?? "untyped";
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      const family = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && ["histogram", "summary"].includes(types.get(family))) {
        sample.family = family;
        sample.type = `${types.get(family)}${suffix}`;
      }
    }
  }
  return { samples, types };
}

// ---------------------------------------------------------------------------------------------
// PromQL: parse and walk.
const children = (node) => {
  const out = [];
  for (let child = node.firstChild; child; child = child.nextSibling) out.push(child);
  return out;
};
const exprChildren = (node) => children(node).filter((child) => EXPR_NODES.has(child.name));
const stringValue = (text) => JSON.parse(text.startsWith("'") ?
  `"${text.slice(1, -1).replace(/"/g, '\\"')}"` : text.startsWith("`") ?
  JSON.stringify(text.slice(1, -1)) : text);

class QueryChecker {
  // scrape: parseScrape's result or null (then only syntax and functions are checked).
  constructor(scrape) {
    this.scrape = scrape;
    this.used = new Set();  // families the dashboard reads
  }

  // Returns a list of errors for `expr` (Grafana variables already substituted); `legend`: the
  // target's legendFormat, checked against the result's labels.
  // rawCounters: counters may appear without rate() (a variable's label_values reads labels).
  check(expr, legend, { rawCounters = false } = {}) {
    this.expr = expr;
    this.rawCounters = rawCounters;
    this.errors = [];
    const tree = parser.parse(expr);
    tree.iterate({
      enter: (node) => {
        if (node.type.isError) {
          this.errors.push(`syntax error at column ${node.from + 1}: ` +
                           `'${expr.slice(Math.max(0, node.from - 20), node.from + 20)}'`);
        }
      },
    });
    if (this.errors.length) return this.errors;
    const top = exprChildren(tree.topNode);
    if (top.length !== 1) return [`expected one expression, got ${top.length}`];
    const labels = this.walk(top[0], { underCounterFunction: false });
    if (legend && labels) {
      for (const [, name] of legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)) {
        if (!labels.has(name)) {
          this.errors.push(`legend names {{${name}}}, but the result has only ` +
                           `[${[...labels].sort().join(", ")}]`);
        }
      }
    }
    return this.errors;
  }

  text(node) {
    return this.expr.slice(node.from, node.to);
  }

  // Checks `node` and returns the labels of its result (a Set), or null when unknown (no scrape).
  walk(node, context) {
    switch (node.name) {
      case "NumberDurationLiteral":
      case "StringLiteral":
        return new Set();
      case "ParenExpr":
      case "UnaryExpr":
      case "OffsetExpr":
      case "StepInvariantExpr":
        return this.walk(exprChildren(node)[0], context);
      case "SubqueryExpr":
        return this.walk(exprChildren(node)[0], { underCounterFunction: false });
      case "MatrixSelector":
        return this.walk(node.getChild("VectorSelector"), context);
      case "VectorSelector":
        return this.selector(node, context);
      case "FunctionCall":
        return this.functionCall(node);
      case "AggregateExpr":
        return this.aggregate(node);
      case "BinaryExpr":
        return this.binary(node);
      default:
        this.errors.push(`unexpected ${node.name} '${this.text(node)}'`);
        return null;
    }
  }

  selector(node, context) {
    const matchers = [];
    for (const matcher of node.getChild("LabelMatchers")?.getChildren("UnquotedLabelMatcher") ??
         []) {
      const op = matcher.getChild("MatchOp");
      matchers.push({
        label: this.text(matcher.getChild("LabelName")),
        op: op ? this.text(op) : "",
        value: stringValue(this.text(matcher.getChild("StringLiteral"))),
      });
    }
    if (node.getChild("LabelMatchers")?.getChild("QuotedLabelMatcher")) {
      this.errors.push(`quoted label names (Prometheus 3 only): '${this.text(node)}'`);
    }
    let name = node.getChild("Identifier") ? this.text(node.getChild("Identifier")) : null;
    const nameMatcher = matchers.find((m) => m.label === "__name__");
    if (!name && nameMatcher?.op === "=") name = nameMatcher.value;
    if (!name) {
      this.errors.push(`selector without a metric name: '${this.text(node)}'`);
      return null;
    }
    if (!this.scrape) return null;
    const sample = this.scrape.samples.get(name);
    if (!sample) {
      const family = this.scrape.types.get(name);
      this.errors.push(family === "histogram" || family === "summary" ?
        `'${name}' is a ${family}: query its _bucket, _sum or _count series` :
        `metric '${name}' is not in the scrape`);
      return null;
    }
    this.used.add(sample.family);
    const counterLike = sample.type === "counter" || /_(bucket|sum|count)$/.test(sample.type);
    if (sample.type === "counter" && !context.underCounterFunction && !this.rawCounters) {
      this.errors.push(`counter '${name}' outside rate()/irate()/increase(): its raw value ` +
                       "resets with every server restart");
    }
    if (context.underCounterFunction && !counterLike) {
      this.errors.push(`'${name}' is a ${sample.type}, not a counter: rate()/increase() of it ` +
                       "is meaningless");
    }
    for (const { label, op, value } of matchers) {
      if (label === "__name__" || TARGET_LABELS.has(label)) continue;
      const values = sample.labels.get(label);
      if (!values) {
        this.errors.push(`'${name}' has no label '${label}' (it has: ` +
                         `${[...sample.labels.keys()].sort().join(", ") || "none"})`);
        continue;
      }
      if ((op === "=" || op === "!=") && !value.includes("$") && !values.has(value)) {
        this.errors.push(`'${name}{${label}${op}"${value}"}': no series has that value ` +
                         `(seen: ${[...values].sort().join(", ")})`);
      }
    }
    return new Set([...sample.labels.keys(), ...TARGET_LABELS]);
  }

  functionCall(node) {
    const identifier = node.getChild("FunctionIdentifier");
    const name = this.text(identifier);
    if (!PORTABLE_FUNCTIONS.has(name)) {
      this.errors.push(`function '${name}' is not in Prometheus 2.x`);
    }
    const args = exprChildren(node.getChild("FunctionCallBody"));
    if (COUNTER_FUNCTIONS.has(name)) {
      if (args.length !== 1 || args[0].name !== "MatrixSelector") {
        this.errors.push(`${name}() takes one range selector: '${this.text(node)}'`);
        return null;
      }
      return this.walk(args[0], { underCounterFunction: true });
    }
    const results = args.map((arg) => this.walk(arg, { underCounterFunction: false }));
    switch (name) {
      case "histogram_quantile": {
        if (args.length !== 2) {
          this.errors.push(`histogram_quantile() takes two arguments: '${this.text(node)}'`);
          return null;
        }
        if (this.scrape && !this.selectorsUnder(args[1]).every((n) => n.endsWith("_bucket"))) {
          this.errors.push("histogram_quantile() needs _bucket series: " +
                           `'${this.text(args[1])}'`);
        }
        if (results[1] && !results[1].has("le")) {
          this.errors.push("histogram_quantile(): the aggregation drops 'le' (add it to by)");
          return null;
        }
        return results[1] && new Set([...results[1]].filter((l) => l !== "le"));
      }
      case "vector":
      case "time":
      case "scalar":
        return new Set();
      case "label_replace":
      case "label_join": {
        const target = args[1] ? stringValue(this.text(args[1])) : null;
        return results[0] && new Set([...results[0], target]);
      }
      case "absent":
      case "absent_over_time":
        return null;
      default: {
        const vectorArg = results.find((_, i) => !["NumberDurationLiteral", "StringLiteral"]
          .includes(args[i].name));
        return vectorArg ?? new Set();
      }
    }
  }

  // The metric names of the selectors under `node`.
  selectorsUnder(node) {
    const names = [];
    const visit = (n) => {
      if (n.name === "VectorSelector") {
        const id = n.getChild("Identifier");
        if (id) names.push(this.text(id));
      }
      for (const child of children(n)) visit(child);
    };
    visit(node);
    return names;
  }

  groupingLabels(clause) {
    return (clause?.getChild("GroupingLabels")?.getChildren("LabelName") ?? [])
      .map((label) => this.text(label));
  }

  // Labels named in a grouping clause must exist on some series below, or the clause is
  // grouping by a label nothing has (everything falls into one group, silently).
  checkGrouping(labels, available, where) {
    if (!available) return;
    for (const label of labels) {
      if (!available.has(label)) {
        this.errors.push(`${where} (${labels.join(", ")}): no series below has '${label}'`);
      }
    }
  }

  aggregate(node) {
    const op = this.text(node.getChild("AggregateOp"));
    const modifier = node.getChild("AggregateModifier");
    const args = exprChildren(node.getChild("FunctionCallBody"));
    const vector = args[args.length - 1];
    if (!vector) {
      this.errors.push(`${op}() without an argument`);
      return null;
    }
    for (const param of args.slice(0, -1)) this.walk(param, { underCounterFunction: false });
    const input = this.walk(vector, { underCounterFunction: false });
    const grouping = this.groupingLabels(modifier);
    const without = modifier?.getChild("Without") != null;
    this.checkGrouping(grouping, input, `${op} ${without ? "without" : "by"}`);
    if (["topk", "bottomk", "limitk", "limit_ratio"].includes(op)) return input;
    if (!input) return null;
    if (without) return new Set([...input].filter((l) => !grouping.includes(l)));
    const out = new Set(grouping);
    if (op === "count_values" && args[0]) out.add(stringValue(this.text(args[0])));
    return out;
  }

  binary(node) {
    const [lhs, rhs] = exprChildren(node);
    const left = this.walk(lhs, { underCounterFunction: false });
    const right = this.walk(rhs, { underCounterFunction: false });
    const matching = node.getChild("MatchingModifierClause");
    if (matching) {
      const on = this.groupingLabels(matching);
      const both = left && right ? new Set([...left, ...right]) : null;
      this.checkGrouping(on, both, matching.getChild("On") ? "on" : "ignoring");
    }
    const scalar = (n) => n.name === "NumberDurationLiteral";
    if (scalar(lhs)) return right;
    if (scalar(rhs)) return left;
    const opNode = children(node).find((c) => !EXPR_NODES.has(c.name) &&
                                              c.name !== "MatchingModifierClause" &&
                                              c.name !== "BoolModifier");
    const op = opNode ? opNode.name : "";
    if (op === "Or") return left && right ? new Set([...left, ...right]) : null;
    if (matching?.getChild("GroupRight")) return right;
    return left;
  }
}

// ---------------------------------------------------------------------------------------------
// The dashboard.
let failures = 0;
const fail = (what, reason) => {
  failures++;
  console.log(`FAIL ${what}: ${reason}`);
};

let dashboard;
try {
  dashboard = JSON.parse(readFileSync(dashboardPath, "utf8"));
} catch (error) {
  console.log(`FAIL ${dashboardPath}: ${error.message}`);
  process.exit(1);
}
let scrape = null;
if (scrapePath) {
  try {
    scrape = parseScrape(readFileSync(scrapePath, "utf8"));
  } catch (error) {
    console.log(`FAIL ${scrapePath}: ${error.message}`);
    process.exit(1);
  }
  if (scrape.samples.size === 0) {
    console.log(`FAIL ${scrapePath}: no samples (did the server stream anything?)`);
    process.exit(1);
  }
}
const checker = new QueryChecker(scrape);

if (typeof dashboard.title !== "string" || dashboard.title === "") fail("dashboard", "no title");
if (typeof dashboard.uid !== "string" || !/^[A-Za-z0-9_-]{1,40}$/.test(dashboard.uid)) {
  fail("dashboard", `uid must be 1-40 of [A-Za-z0-9_-], got ${JSON.stringify(dashboard.uid)}`);
}
if (!Number.isInteger(dashboard.schemaVersion)) fail("dashboard", "no schemaVersion");
if (dashboard.id != null) {
  fail("dashboard", `id ${dashboard.id}: leave it null, Grafana assigns it on import`);
}
if ("__inputs" in dashboard) {
  fail("dashboard", "__inputs (import-time datasource): provisioning does not substitute it; " +
                    "use the datasource variable");
}

// Template variables.
const variables = new Map();
for (const variable of dashboard.templating?.list ?? []) {
  const what = `variable '${variable.name}'`;
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(variable.name ?? "")) fail(what, "bad name");
  if (variables.has(variable.name)) fail(what, "defined twice");
  variables.set(variable.name, variable);
}
const datasourceVariables = [...variables.values()].filter((v) => v.type === "datasource");
if (datasourceVariables.length !== 1 || datasourceVariables[0].query !== "prometheus") {
  fail("templating", "needs exactly one datasource variable of type prometheus");
}
const datasourceRef = datasourceVariables[0] ? `\${${datasourceVariables[0].name}}` : null;
const checkDatasource = (what, datasource) => {
  if (datasource?.type !== "prometheus" || datasource?.uid !== datasourceRef) {
    fail(what, `datasource must be {type: prometheus, uid: ${datasourceRef}}, got ` +
               JSON.stringify(datasource));
    return false;
  }
  return true;
};

// Grafana variables in an expr: each must be defined; returns the expr with stand-ins.
const substitute = (what, expr) => {
  let ok = true;
  const out = expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]/g,
    (match, braced, bare, old, offset) => {
      const name = braced ?? bare ?? old;
      if (BUILTIN_VARIABLES.has(name)) return BUILTIN_VARIABLES.get(name);
      if (!variables.has(name)) {
        fail(what, `unknown variable '${match}'`);
        ok = false;
      }
      // Inside a string it stays (a regex matcher's value); elsewhere it would be a syntax the
      // parser cannot judge.
      const quotes = (expr.slice(0, offset).match(/(?<!\\)"/g) ?? []).length;
      if (quotes % 2 === 0) {
        fail(what, `variable '${match}' outside a string literal`);
        ok = false;
      }
      return match;
    });
  return ok ? out : null;
};

const checkExpr = (what, expr, legend, options) => {
  const substituted = substitute(what, expr);
  if (substituted == null) return;
  for (const error of checker.check(substituted, legend, options)) fail(what, error);
};

for (const variable of variables.values()) {
  if (variable.type !== "query") continue;
  const what = `variable '${variable.name}'`;
  checkDatasource(what, variable.datasource);
  const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
  const labelValues = /^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/
    .exec(query ?? "");
  if (!labelValues) {
    fail(what, `only label_values(selector, label) queries are supported, got '${query}'`);
    continue;
  }
  // The label's values come from the selector's series: check it as a query whose result must
  // have the label.
  checkExpr(what, `group by (${labelValues[2]}) (${labelValues[1]})`, `{{${labelValues[2]}}}`,
            { rawCounters: true });
}

// Panels, rows' nested panels included.
const panels = [];
for (const panel of dashboard.panels ?? []) {
  panels.push(panel);
  for (const nested of panel.panels ?? []) panels.push(nested);
}
if (panels.length === 0) fail("dashboard", "no panels");
const ids = new Map();
const placed = [];
for (const panel of panels) {
  const what = `panel ${panel.id} '${panel.title}'`;
  const before = failures;
  if (!Number.isInteger(panel.id) || panel.id < 1) fail(what, "id must be a positive integer");
  if (ids.has(panel.id)) fail(what, `id also used by '${ids.get(panel.id)}'`);
  ids.set(panel.id, panel.title);
  if (!PANEL_TYPES.has(panel.type)) fail(what, `unknown type '${panel.type}'`);
  if (typeof panel.title !== "string" || panel.title === "") fail(what, "no title");
  const grid = panel.gridPos ?? {};
  if (!["x", "y", "w", "h"].every((k) => Number.isInteger(grid[k]) && grid[k] >= 0) ||
      grid.w < 1 || grid.h < 1 || grid.x + grid.w > 24) {
    fail(what, `gridPos must be whole x, y, w, h within 24 columns, got ${JSON.stringify(grid)}`);
  } else {
    for (const other of placed) {
      const g = other.gridPos;
      if (grid.x < g.x + g.w && g.x < grid.x + grid.w && grid.y < g.y + g.h && g.y < grid.y + grid.h) {
        fail(what, `overlaps panel ${other.id} '${other.title}'`);
      }
    }
    placed.push(panel);
  }
  if (panel.type === "row") {
    if (failures === before) console.log(`OK   ${what} (row)`);
    continue;
  }
  if (typeof panel.description !== "string" || panel.description.trim() === "") {
    fail(what, "no description (what it shows and how to read it)");
  }
  checkDatasource(what, panel.datasource);
  const targets = panel.targets ?? [];
  if (!Array.isArray(targets) || targets.length === 0) fail(what, "no targets");
  const refIds = new Set();
  for (const target of targets) {
    const where = `${what} target ${target.refId}`;
    if (typeof target.refId !== "string" || target.refId === "") fail(where, "no refId");
    if (refIds.has(target.refId)) fail(where, "refId used twice");
    refIds.add(target.refId);
    if (target.datasource !== undefined) checkDatasource(where, target.datasource);
    if (typeof target.expr !== "string" || target.expr.trim() === "") {
      fail(where, "no expr");
      continue;
    }
    checkExpr(where, target.expr, target.legendFormat);
  }
  if (failures === before) {
    console.log(`OK   ${what}: ${targets.length} quer${targets.length === 1 ? "y" : "ies"}`);
  }
}

if (scrape) {
  const exported = [...new Set([...scrape.samples.values()].map((s) => s.family))]
    .filter((family) => family.startsWith("dataloader_"));
  const unused = exported.filter((family) => !checker.used.has(family)).sort();
  console.log(`${checker.used.size} of the ${exported.length} dataloader_ metric families ` +
              "exported are on the dashboard" +
              (unused.length ? `; not shown: ${unused.join(", ")}` : ""));
}
if (failures) {
  console.log(`check_dashboard: ${failures} problem(s) in ${dashboardPath}`);
  process.exit(1);
}
console.log(`check_dashboard: ${dashboardPath} OK (${panels.length} panels` +
            `${scrape ? `, checked against ${scrapePath}` : ", structure and syntax only"})`);
