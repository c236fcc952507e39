/**
 * Import-direction check (docs/ARCHITECTURE.md), run by `npm run lint`: fails on an import that
 * goes against the layers, and on any import cycle between files. Type-only imports count too: a
 * layer that names another's types depends on it.
 *
 *   tsx scripts/check-imports.ts          exit 1 and a list when something is wrong
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

/** Folder (or file) prefix → prefixes it must never import. Checked in order; all that match apply. */
export const FORBIDDEN: [from: string, to: string[]][] = [
  ["sim/", ["lib/", "app/", "config.ts"]],
  ["lib/", ["app/"]],
  [
    "lib/db/",
    ["lib/credits/", "lib/generation/", "lib/http/", "lib/kie/", "lib/auth/", "lib/app.ts", "lib/compose.ts"],
  ],
  [
    "lib/kie/",
    ["lib/generation/", "lib/credits/", "lib/http/", "lib/db/", "lib/auth/", "lib/app.ts", "lib/compose.ts"],
  ],
  ["lib/credits/", ["lib/generation/", "lib/http/", "lib/kie/", "lib/app.ts", "lib/compose.ts"]],
  // lib/generation reaches KIE only through its provider port; the adapter is wired in lib/app.ts.
  ["lib/generation/", ["lib/http/", "lib/app.ts", "lib/compose.ts", "lib/auth/", "lib/kie/"]],
  ["lib/http/", ["lib/app.ts", "lib/compose.ts"]],
  // MCP tools reach jobs and credits only through the API's own handlers (an ApiPort): no second path to the money.
  [
    "lib/mcp/",
    ["lib/generation/", "lib/credits/", "lib/db/", "lib/kie/", "lib/http/", "lib/app.ts", "lib/compose.ts"],
  ],
  // The catalogue is read by every layer, so it reads none of them.
  ["lib/catalog/", ["lib/", "config.ts"]],
];

/**
 * Known violations, each to be removed by the redesign (issue "One home per concept"). A new
 * violation fails; an entry here that no longer occurs fails too, so the list only shrinks.
 */
export const KNOWN: string[] = [];

const SOURCE = /\.(ts|tsx|mts)$/;
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function listSources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(path.join(root, dir))) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) listSources(rel, out);
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

function resolveImport(from: string, spec: string): string | undefined {
  let target: string;
  if (spec.startsWith("@/")) target = spec.slice(2);
  else if (spec.startsWith("."))
    target = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  else return undefined; // a package
  for (const candidate of [target, `${target}.ts`, `${target}.tsx`, `${target}/index.ts`]) {
    try {
      if (statSync(path.join(root, candidate)).isFile()) return candidate;
    } catch {}
  }
  return target.replace(/\.js$/, ".ts");
}

export function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(path.join(root, file), "utf8");
    const targets = new Set<string>();
    for (const match of text.matchAll(IMPORT)) {
      const target = resolveImport(file, match[1] ?? match[2] ?? "");
      if (target) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

export function directionProblems(graph: Map<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      for (const [from, forbidden] of FORBIDDEN) {
        if (!file.startsWith(from) && file !== from) continue;
        const hit = forbidden.find((prefix) => target === prefix || target.startsWith(prefix));
        if (hit && !target.startsWith(from)) problems.push(`${file} → ${target}`);
      }
    }
  }
  return [...new Set(problems)];
}

/** Every cycle found by a depth-first walk, each reported once by its smallest rotation. */
export function cycles(graph: Map<string, string[]>): string[] {
  const found = new Set<string>();
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "active");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "active") {
        const cycle = stack.slice(stack.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0] as string);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        found.add(`cycle: ${[...rotated, rotated[0]].join(" → ")}`);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return [...found];
}

/** The same graph between modules: `lib/<name>` folders (and lib/*.ts files), app, sim, config. */
export function moduleGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const moduleOf = (file: string) => {
    const parts = file.split("/");
    return parts[0] === "lib" && parts.length > 2
      ? `lib/${parts[1]}/`
      : parts.length > 1 && parts[0] !== "lib"
        ? `${parts[0]}/`
        : file;
  };
  const modules = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = moduleOf(file);
    const set = modules.get(from) ?? new Set<string>();
    for (const target of targets)
      if (graph.has(target) && moduleOf(target) !== from) set.add(moduleOf(target));
    modules.set(from, set);
  }
  return new Map([...modules].map(([name, set]) => [name, [...set]]));
}

function main(): void {
  const files = ["lib", "sim", "app"].flatMap((dir) => listSources(dir)).concat(["config.ts"]);
  const graph = importGraph(files);
  const problems = [...directionProblems(graph), ...cycles(graph), ...cycles(moduleGraph(graph))];
  const unexpected = problems.filter((p) => !KNOWN.includes(p));
  const stale = KNOWN.filter((k) => !problems.includes(k));
  for (const p of unexpected) console.error(`import against the layers: ${p}`);
  for (const k of stale) console.error(`listed as known but no longer found (remove it from KNOWN): ${k}`);
  if (unexpected.length + stale.length > 0) {
    console.error("\nSee docs/ARCHITECTURE.md for the allowed directions.");
    process.exit(1);
  }
  console.log(`imports: ${graph.size} files follow the layers (${KNOWN.length} known exceptions)`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
