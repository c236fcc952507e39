import { describe, expect, it } from "vitest";
import { parsePromptDirectives } from "@/sim/directives";
import { normalizeFaultRules, parseFaultHeader, parseFaultRules } from "@/sim/faultSyntax";
import { KieSimFaultSyntaxError, resolveFaults } from "@/sim/faults";

describe("fault header grammar", () => {
  it.each([
    [
      "http=429;retry-after=2",
      { outcome: { kind: "http", status: 429, retryAfterSeconds: 2 }, after: false, latencyMs: 0 },
    ],
    ["code=401", { outcome: { kind: "http", status: 401 }, after: false, latencyMs: 0 }],
    ["body-code=402", { outcome: { kind: "body-code", code: 402 }, after: false, latencyMs: 0 }],
    ["hang", { outcome: { kind: "hang" }, after: false, latencyMs: 0 }],
    ["reset;after", { outcome: { kind: "reset" }, after: true, latencyMs: 0 }],
    ["malformed", { outcome: { kind: "malformed", variant: "json" }, after: false, latencyMs: 0 }],
    ["malformed=html", { outcome: { kind: "malformed", variant: "html" }, after: false, latencyMs: 0 }],
    ["latency=250", { after: false, latencyMs: 250 }],
    [" slow=1000 ; latency=5 ", { after: false, latencyMs: 5, bytesPerSecond: 1000 }],
    ["HTTP=500", { outcome: { kind: "http", status: 500 }, after: false, latencyMs: 0 }],
  ])("parses %s", (text, spec) => {
    expect(parseFaultHeader(text)).toEqual(spec);
  });

  it.each([
    ["", "empty fault spec"],
    ["http=429;", "stray ';'"],
    ["http", "'http' needs an integer"],
    ["http=200", "out of range"],
    ["http=4e2", "needs an integer"],
    ["hang=1", "takes no value"],
    ["http=500;body-code=429", "conflicts"],
    ["latency=-1", "needs an integer"],
    ["latency=5;latency=6", "given twice"],
    ["retry-after=2;hang", "'retry-after' needs http"],
    ["after", "'after' needs an outcome"],
    ["malformed=xml", "malformed=html"],
    ["p=0.5;http=500", "only applies to global"],
    ["teapot", "unknown fault 'teapot'"],
  ])("refuses %j (%s)", (text, message) => {
    expect(() => parseFaultHeader(text)).toThrow(KieSimFaultSyntaxError);
    expect(() => parseFaultHeader(text)).toThrow(message);
  });
});

describe("global rules", () => {
  it("parses comma- and newline-separated rules with times and p", () => {
    const rules = parseFaultRules("createTask:http=429;times=2,\n upload:slow=500 \n*:latency=10;p=0.25");
    expect(rules.map((r) => [r.endpoint, r.remaining, r.probability, r.text])).toEqual([
      ["createTask", 2, 1, "createTask:http=429;times=2"],
      ["upload", undefined, 1, "upload:slow=500"],
      ["*", undefined, 0.25, "*:latency=10;p=0.25"],
    ]);
  });

  it("accepts endpoint names case-insensitively and normalizes them", () => {
    expect(parseFaultRules("RECORDINFO:http=500")[0]!.endpoint).toBe("recordInfo");
  });

  it.each([
    ["createTask", "expected <endpoint>:<fault>"],
    ["jobs:http=500", "unknown endpoint 'jobs'"],
    ["createTask:times=0;http=500", "out of range"],
    ["createTask:http=500;p=1.5", "probability"],
    ["createTask:http=500;p=abc", "probability"],
  ])("refuses %j, naming the rule", (text, message) => {
    expect(() => parseFaultRules(text, "KIE_SIM_FAULTS")).toThrow(message);
    expect(() => parseFaultRules(text, "KIE_SIM_FAULTS")).toThrow(/KIE_SIM_FAULTS rule 1/);
  });

  it("accepts rule objects and refuses unknown fields", () => {
    expect(
      normalizeFaultRules([{ endpoint: "credit", fault: "hang", times: 3, probability: 0.5 }])[0],
    ).toMatchObject({
      endpoint: "credit",
      remaining: 3,
      probability: 0.5,
      text: "credit:hang;times=3;p=0.5",
    });
    expect(() => normalizeFaultRules([{ endpoint: "credit", fault: "hang", count: 3 } as never])).toThrow(
      "count",
    );
    expect(() => normalizeFaultRules([{ endpoint: "credit", fault: "hang;times=1", times: 2 }])).toThrow(
      "twice",
    );
  });

  it("uses up a times=N rule and then stops applying it", () => {
    const rules = parseFaultRules("createTask:http=429;times=2");
    const outcomes = [1, 2, 3].map(
      () => resolveFaults("createTask", undefined, rules, () => 0).spec.outcome?.kind,
    );
    expect(outcomes).toEqual(["http", "http", undefined]);
  });

  it("fail-task=<msg>;times=1 fails the next created task only, beside any outcome", () => {
    const rules = parseFaultRules("createTask:fail-task=Blocked by the filter;times=1");
    const specs = [1, 2].map(() => resolveFaults("createTask", undefined, rules, () => 0).spec);
    expect(specs.map((spec) => spec.failTask)).toEqual([{ message: "Blocked by the filter" }, undefined]);
    expect(specs[0]?.outcome).toBeUndefined();
    expect(parseFaultHeader("fail-task").failTask).toEqual({ message: undefined });
    expect(() => parseFaultHeader("fail-task=")).toThrow("fail-task= needs a message");
  });

  it("adds latencies, keeps the slowest rate, and picks the first outcome that fires", () => {
    const rules = parseFaultRules(
      "*:latency=10;slow=500, credit:latency=5;slow=100, credit:body-code=455, credit:http=500",
    );
    const { spec, fired } = resolveFaults("credit", undefined, rules, () => 0);
    expect(spec).toMatchObject({
      latencyMs: 15,
      bytesPerSecond: 100,
      outcome: { kind: "body-code", code: 455 },
    });
    expect(fired.map((r) => r.text)).toEqual([
      "*:latency=10;slow=500",
      "credit:latency=5;slow=100",
      "credit:body-code=455",
    ]);
  });

  it("does not apply a rule to other endpoints", () => {
    const rules = parseFaultRules("createTask:http=429");
    expect(resolveFaults("recordInfo", undefined, rules, () => 0).spec.outcome).toBeUndefined();
    expect(
      resolveFaults("fileUrlUpload", undefined, parseFaultRules("upload:hang"), () => 0).spec.outcome,
    ).toEqual({
      kind: "hang",
    });
  });
});

describe("prompt directives", () => {
  it("parses each directive and strips them from the prompt", () => {
    expect(parsePromptDirectives("a [sim:fail] cat")).toMatchObject({ fail: {}, cleanPrompt: "a cat" });
    expect(parsePromptDirectives("[sim:fail=NSFW content] cat").fail).toEqual({ message: "NSFW content" });
    expect(parsePromptDirectives("cat [sim:never]").never).toBe(true);
    expect(parsePromptDirectives("cat [sim:delay=5000]").delayMs).toBe(5000);
    expect(parsePromptDirectives("cat [sim:result=oversize=33554432]").result).toEqual({
      kind: "oversize",
      bytes: 32 * 1024 * 1024,
    });
    expect(parsePromptDirectives("cat [sim:callback=late=250]").callback).toEqual({ kind: "late", ms: 250 });
    expect(parsePromptDirectives("wide [sim:ratio=1:1] cat")).toMatchObject({
      ratio: "1:1",
      cleanPrompt: "wide cat",
    });
    expect(parsePromptDirectives("cat [sim:callback=reorder] [sim:delay=10]")).toMatchObject({
      callback: { kind: "reorder" },
      delayMs: 10,
      cleanPrompt: "cat",
    });
  });

  it("parses fail-once with its message", () => {
    expect(parsePromptDirectives("a pear [sim:fail-once=Blocked]").failOnce).toEqual({ message: "Blocked" });
    expect(() => parsePromptDirectives("a pear [sim:fail-once=]")).toThrow("fail-once= needs a message");
  });

  it("leaves a prompt without directives alone", () => {
    expect(parsePromptDirectives("a [bracketed] word, sim: not a directive")).toMatchObject({
      never: false,
      callback: { kind: "normal" },
      cleanPrompt: "a [bracketed] word, sim: not a directive",
    });
  });

  it.each([
    ["[sim:]", "unknown directive ''"],
    ["[sim:fail=]", "needs a message"],
    ["[sim:never=1]", "takes no value"],
    ["[sim:callback=late]", "callback=none"],
    ["[sim:ratio=square]", "use ratio=<w>:<h>"],
    ["[sim:ratio=0:1]", "use ratio=<w>:<h>"],
    ["[sim:callback=late=x]", "'late' needs an integer"],
    // A prompt must not make the simulator hold hundreds of MB per task (issue 24).
    ["[sim:result=oversize=200000000]", "oversize"],
    [`[sim:result=oversize=${32 * 1024 * 1024 + 1}]`, "oversize"],
  ])("refuses %j", (prompt, message) => {
    expect(() => parsePromptDirectives(prompt)).toThrow(message);
  });
});
