/**
 * The control API under `/__sim/` (sim/README.md "Control API"): a route table of path → method →
 * handler. Every request needs the simulator's own control key (`Authorization: Bearer <key>`,
 * compared in constant time; 401 otherwise): the API lists callback URLs with their tokens and
 * steers what KIE answers, so on a shared loopback it is nobody else's. Never faulted. A path in the table asked with a method it lacks answers 405
 * where the path has more than one method (faults, credits), else 404 like an unknown path.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { KieSimFaultRuleInput } from "./faults";
import { JSON_BODY_LIMIT, jsonReply, type Reply } from "./http";
import { readBody } from "./net";
import type { SimState } from "./state";

interface ControlContext {
  req: IncomingMessage;
  sim: SimState;
  /** The path's captured parameters (a task id). */
  params: string[];
}

type ControlHandler = (ctx: ControlContext) => Reply | Promise<Reply>;
type Method = "GET" | "PUT" | "POST" | "DELETE";

interface ControlRoute {
  path: string | RegExp;
  methods: Partial<Record<Method, ControlHandler>>;
}

const fail = (status: number, message: string) => jsonReply(status, { error: message });

async function readText(req: IncomingMessage): Promise<string> {
  return (await readBody(req, { maxBytes: JSON_BODY_LIMIT })).toString("utf8");
}

async function putFaults({ req, sim }: ControlContext): Promise<Reply> {
  const text = await readText(req);
  let rules: string | (string | KieSimFaultRuleInput)[] = text;
  if (/json/i.test(req.headers["content-type"] ?? "")) {
    try {
      rules = (JSON.parse(text) as { rules?: unknown }).rules as typeof rules;
    } catch {
      return fail(400, 'body must be JSON {"rules": …} or text/plain rules');
    }
  }
  try {
    sim.setFaults(rules ?? "", "PUT /__sim/faults");
  } catch (error) {
    return fail(400, error instanceof Error ? error.message : String(error));
  }
  return jsonReply(200, { rules: sim.faultSnapshot() });
}

async function putCredits({ req, sim }: ControlContext): Promise<Reply> {
  let credits: unknown;
  try {
    credits = (JSON.parse(await readText(req)) as { credits?: unknown }).credits;
  } catch {
    return fail(400, 'body must be JSON {"credits": <number>}');
  }
  if (typeof credits !== "number" || !Number.isFinite(credits) || credits < 0) {
    return fail(400, "credits must be a number >= 0");
  }
  sim.credits = credits;
  return jsonReply(200, { credits });
}

const CONTROL_ROUTES: ControlRoute[] = [
  {
    path: "/__sim/health",
    methods: { GET: ({ sim }) => jsonReply(200, { ok: true, url: sim.base, tasks: sim.tasks.size }) },
  },
  { path: "/__sim/stats", methods: { GET: ({ sim }) => jsonReply(200, sim.getStats()) } },
  { path: "/__sim/limits", methods: { GET: ({ sim }) => jsonReply(200, sim.limitSnapshot()) } },
  {
    path: "/__sim/reset",
    methods: {
      POST: ({ req, sim }) => {
        req.resume();
        sim.resetStats();
        return jsonReply(200, sim.getStats());
      },
    },
  },
  {
    path: "/__sim/faults",
    methods: {
      GET: ({ sim }) => jsonReply(200, { rules: sim.faultSnapshot() }),
      PUT: putFaults,
      DELETE: ({ sim }) => {
        sim.rules = [];
        return jsonReply(200, { rules: [] });
      },
    },
  },
  { path: "/__sim/tasks", methods: { GET: ({ sim }) => jsonReply(200, { tasks: sim.allTasks() }) } },
  {
    path: /^\/__sim\/tasks\/([^/]+)$/,
    methods: {
      GET: ({ sim, params }) => {
        const task = sim.findTask(decodeURIComponent(params[0]!));
        return task ? jsonReply(200, task) : fail(404, "unknown task");
      },
    },
  },
  {
    path: "/__sim/credits",
    methods: { GET: ({ sim }) => jsonReply(200, { credits: sim.credits }), PUT: putCredits },
  },
];

function match(route: ControlRoute, path: string): string[] | undefined {
  if (typeof route.path === "string") return route.path === path ? [] : undefined;
  return route.path.exec(path)?.slice(1);
}

/** "GET or PUT", "GET, PUT or DELETE". */
function methodList(methods: string[]): string {
  return methods.length === 1 ? methods[0]! : `${methods.slice(0, -1).join(", ")} or ${methods.at(-1)}`;
}

/** The request carries the control key (hashes compared, so the key's length does not leak). */
function hasControlKey(req: IncomingMessage, expected: Buffer | undefined): boolean {
  const key = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? "")?.[1];
  if (!expected || key === undefined) return false;
  return timingSafeEqual(createHash("sha256").update(key).digest(), expected);
}

/** Answers one `/__sim/…` request. */
export async function handleControl(options: {
  req: IncomingMessage;
  url: URL;
  sim: SimState;
}): Promise<Reply> {
  const { req, sim } = options;
  const path = options.url.pathname.replace(/\/+$/, "");
  const method = req.method ?? "GET";
  if (!hasControlKey(req, sim.settings.controlKeyHash)) {
    req.resume();
    return fail(401, "the control API needs the simulator's control key (Authorization: Bearer <key>)");
  }
  for (const route of CONTROL_ROUTES) {
    const params = match(route, path);
    if (!params) continue;
    const handler = route.methods[method as Method];
    if (handler) return handler({ req, sim, params });
    const allowed = Object.keys(route.methods);
    if (allowed.length > 1) return fail(405, `use ${methodList(allowed)}`);
    break;
  }
  req.resume();
  return fail(404, `unknown control route ${method} ${path}`);
}
