// Validates Kubernetes manifests offline against the API's OpenAPI schemas, as compiled into
// npm's kubernetes-models (types, required fields, enums, formats such as quantities).
//
//   node deploy/tools/check_k8s_schema.mjs [FILE|-]...     (default: stdin, e.g. kustomize output)
//
// NODE_PATH is not honoured for ES modules, so the module directory comes from
// K8S_MODELS_DIR (the node_modules folder holding kubernetes-models and yaml; default
// /var/tmp/dataloader-npm/node_modules). deploy/validate_manifests.sh installs them there.
// Prints one line per document, "OK   Kind/name" or "FAIL Kind/name: errors", and exits 1 if
// any document fails (or is of a kind the models do not know), 0 otherwise.
//
// The upstream schemas do not forbid unknown fields, so on top of them this script rejects
// fields the API type does not have (like kubeconform -strict or the API server's strict field
// validation): a misspelled "readinesProbe" would otherwise pass, silently unprobed. The field
// lists come from the models' TypeScript declarations (the same OpenAPI source).
import { readFileSync, readdirSync, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modulesDir = process.env.K8S_MODELS_DIR || "/var/tmp/dataloader-npm/node_modules";
const load = (name) => import(pathToFileURL(path.join(modulesDir, name)).href);

let YAML;
try {
  YAML = await load("yaml/dist/index.js");
} catch (error) {
  console.error(`check_k8s_schema: cannot load 'yaml' from ${modulesDir}: ${error.message}`);
  console.error("install it: npm install --prefix /var/tmp/dataloader-npm kubernetes-models yaml");
  process.exit(2);
}

// apiVersion "apps/v1" -> kubernetes-models/apps/v1/<Kind>.js; the core group "v1" ->
// kubernetes-models/v1/<Kind>.js.
async function modelFor(apiVersion, kind) {
  if (!/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion ?? "") ||
      !/^[A-Z][A-Za-z0-9]*$/.test(kind ?? "")) {
    return null;
  }
  try {
    const module = await load(`kubernetes-models/${apiVersion}/${kind}.js`);
    return module[kind] ?? null;
  } catch {
    return null;
  }
}

// The fields of every interface in the models' .d.ts files: "FILE:IName" -> { field: type
// text }, plus the global names ("IIoK8sApiAppsV1StatefulSetSpec", from `export type { ... as
// ... }`) pointing at those keys.
function parseFields(body) {
  const fields = {};
  const re = /"([^"]+)"\??:\s*/g;
  let match;
  while ((match = re.exec(body)) !== null) {
    let depth = 0;
    let i = re.lastIndex;
    for (; i < body.length; i++) {
      const c = body[i];
      if (c === "{" || c === "<" || c === "(" || c === "[") depth++;
      else if (c === "}" || c === ">" || c === ")" || c === "]") depth--;
      else if (c === ";" && depth === 0) break;
    }
    fields[match[1]] = body.slice(re.lastIndex, i).replace(/\s+/g, " ").trim();
    re.lastIndex = i + 1;
  }
  return fields;
}

function loadFieldIndex() {
  const index = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const file = path.join(dir, entry);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      if (!entry.endsWith(".d.ts")) continue;
      const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
      for (const m of text.matchAll(/export interface (\w+)[^{]*\{([\s\S]*?)\n\}/g)) {
        index.set(`${file}:${m[1]}`, parseFields(m[2]));
      }
      for (const m of text.matchAll(/export type \{([^}]*)\}/g)) {
        for (const alias of m[1].matchAll(/(\w+) as (\w+)/g)) {
          if (index.has(`${file}:${alias[1]}`)) index.set(alias[2], `${file}:${alias[1]}`);
        }
      }
    }
  };
  walk(path.join(modulesDir, "kubernetes-models"));
  walk(path.join(modulesDir, "@kubernetes-models", "apimachinery"));
  return index;
}

function fieldsOf(index, name) {
  const entry = index.get(name);
  return typeof entry === "string" ? index.get(entry) : entry;
}

// Unknown fields of `value`, typed by the declaration text `type`, as "/path/field" strings.
function unknownFields(index, value, type, where, found) {
  if (value === null || typeof value !== "object") return found;
  const map = /^\{\s*\[key: string\]: (.*)\s*\}$/.exec(type.trim());
  if (map) {
    for (const [key, item] of Object.entries(value)) {
      unknownFields(index, item, map[1], `${where}/${key}`, found);
    }
    return found;
  }
  const array = /^Array<(.*)>$/.exec(type.trim());
  if (array) {
    if (Array.isArray(value)) {
      value.forEach((item, i) => unknownFields(index, item, array[1], `${where}/${i}`, found));
    }
    return found;
  }
  const names = [...type.matchAll(/\bI[A-Z]\w*/g)].map((m) => m[0]).filter((n) => index.has(n));
  if (names.length !== 1 || Array.isArray(value)) return found;  // primitive, union or unknown
  return unknownFieldsOf(index, value, fieldsOf(index, names[0]), where, found);
}

// Unknown fields of the object `value` whose type has `fields`.
function unknownFieldsOf(index, value, fields, where, found) {
  for (const [key, item] of Object.entries(value)) {
    if (!(key in fields)) {
      found.push(`${where}/${key}`);
    } else {
      unknownFields(index, item, fields[key], `${where}/${key}`, found);
    }
  }
  return found;
}

function describe(errors) {
  return (errors ?? [])
    .map((e) => `${e.instancePath || "/"} ${e.message ?? e.keyword}` +
      (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ""))
    .join("; ");
}

const fieldIndex = loadFieldIndex();
const inputs = process.argv.length > 2 ? process.argv.slice(2) : ["-"];
let failures = 0;
let count = 0;
for (const input of inputs) {
  const text = readFileSync(input === "-" ? 0 : input, "utf8");
  const where = input === "-" ? "stdin" : input;
  for (const document of YAML.parseAllDocuments(text)) {
    if (document.errors.length) {
      failures++;
      console.log(`FAIL ${where}: YAML: ${document.errors.map((e) => e.message.split("\n")[0]).join("; ")}`);
      continue;
    }
    const object = document.toJS();
    if (object === null || object === undefined) continue;  // empty document
    count++;
    const name = `${object.kind ?? "?"}/${object.metadata?.name ?? "?"}`;
    if (typeof object !== "object" || Array.isArray(object)) {
      failures++;
      console.log(`FAIL ${where}: not a mapping`);
      continue;
    }
    const Model = await modelFor(object.apiVersion, object.kind);
    if (!Model) {
      failures++;
      console.log(`FAIL ${name}: unknown apiVersion/kind '${object.apiVersion}' '${object.kind}'`);
      continue;
    }
    const top = path.join(modulesDir, "kubernetes-models", object.apiVersion, `${object.kind}.d.ts`);
    const topFields = fieldIndex.get(`${top}:I${object.kind}`);
    const unknown = topFields ? unknownFieldsOf(fieldIndex, object, topFields, "", []) : [];
    const problems = unknown.length ? [`unknown field(s) ${unknown.join(", ")}`] : [];
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(error.errors ? describe(error.errors) : error.message);
    }
    if (problems.length) {
      failures++;
      console.log(`FAIL ${name}: ${problems.join("; ")}`);
    } else {
      console.log(`OK   ${name} (${object.apiVersion})` +
        (topFields ? "" : " [field names not checked: no declaration found]"));
    }
  }
}
console.log(`check_k8s_schema: ${count} document(s), ${failures} failed`);
process.exit(failures ? 1 : 0);
