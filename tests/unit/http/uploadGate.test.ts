/**
 * The upload gate's counting (DESIGN.md §3 "Requests"): the count is taken before any await, so
 * uploads that arrive together cannot all pass a check that has not counted them yet; every slot
 * comes back exactly once, whatever the read does; small bodies take none.
 */
import { describe, expect, it } from "vitest";
import { ApiError } from "@/lib/http/errors";
import { createUploadGate } from "@/lib/http/uploadGate";

const limits = { maxInFlight: 3, maxPerUser: 2, minFreeDiskBytes: 1024 };

function upload(size?: number, type = "multipart/form-data; boundary=x"): Request {
  const headers: Record<string, string> = { "content-type": type };
  if (size !== undefined) headers["content-length"] = String(size);
  return new Request("http://localhost/api/generate", { method: "POST", headers, body: "x" });
}

const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === "rejected" ? (result.reason as ApiError).code : "read";

describe("upload gate", () => {
  it("counts uploads that arrive together while the disk check is still out", async () => {
    let checks = 0;
    const slowDisk = async () => {
      checks++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return 10 * 1024 * 1024;
    };
    const gate = createUploadGate(limits, "/nowhere", slowDisk);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const results = Promise.allSettled(
      ["a", "a", "a", "b", "c"].map((user) => gate.admit(user, upload(), () => held)),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gate.inFlight()).toEqual({ total: 3, users: 2 });
    release();
    const codes = (await results).map(codeOf);
    expect(codes.filter((code) => code === "read")).toHaveLength(3);
    expect(codes).toEqual(["read", "read", "rate_limited", "read", "service_unavailable"]);
    expect(checks).toBe(3); // a refused upload reads nothing and checks nothing
    expect(gate.inFlight()).toEqual({ total: 0, users: 0 });
  });

  it("gives every slot back once, whether the read succeeds, throws or is refused by the disk", async () => {
    let free = 10 * 1024 * 1024;
    const gate = createUploadGate(limits, "/nowhere", async () => free);
    await gate.admit("u", upload(), async () => "done");
    await expect(gate.admit("u", upload(), () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    free = 10;
    const low = await gate.admit("u", upload(), async () => "never").catch((error: ApiError) => error);
    expect(low).toBeInstanceOf(ApiError);
    expect((low as ApiError).code).toBe("service_unavailable");
    expect((low as ApiError).retryAfterSeconds).toBeGreaterThan(0);
    expect(gate.inFlight()).toEqual({ total: 0, users: 0 });
    // Still exactly the caps afterwards: nothing went below zero, nothing leaked.
    free = 10 * 1024 * 1024;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const three = ["x", "y", "z", "w"].map((user) => gate.admit(user, upload(), () => held));
    const refused = await three[3]!.catch((error: ApiError) => error.code);
    expect(refused).toBe("service_unavailable");
    release();
    await Promise.all(three.slice(0, 3));
    expect(gate.inFlight()).toEqual({ total: 0, users: 0 });
  });

  it("counts a body that declares at most 64 KiB in a pool of its own, with the same per-user cap", async () => {
    const gate = createUploadGate({ ...limits, maxInFlight: 1 }, "/nowhere", async () => 1e12);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const big = gate.admit("u", upload(), () => held); // no Content-Length: the large pool
    expect(gate.inFlight().total).toBe(1);
    await expect(
      gate.admit("v", upload(64 * 1024 + 1, "application/json"), async () => "big"),
    ).rejects.toThrow(ApiError);
    // The small pool holds 8 × UPLOADS_IN_FLIGHT_MAX, each user at most UPLOADS_PER_USER_MAX.
    const smalls = ["a", "a", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"].map((user) =>
      gate.admit(user, upload(1024, "application/json"), () => held),
    );
    const codes = (
      await Promise.allSettled(smalls.map((p) => Promise.race([p, Promise.resolve("held")])))
    ).map((result) => (result.status === "rejected" ? (result.reason as ApiError).code : result.value));
    expect(codes).toEqual([
      "held",
      "held",
      "rate_limited",
      "held",
      "held",
      "held",
      "held",
      "held",
      "held",
      "service_unavailable",
      "service_unavailable",
      "service_unavailable",
    ]);
    release();
    await Promise.allSettled([big, ...smalls]);
    expect(gate.inFlight()).toEqual({ total: 0, users: 0 });
  });

  it("refuses a small multipart body too while the disk is below the floor (it would be spooled)", async () => {
    const gate = createUploadGate(limits, "/nowhere", async () => 0);
    await expect(gate.admit("u", upload(100), async () => "read")).rejects.toMatchObject({
      code: "service_unavailable",
    });
    await expect(gate.admit("u", upload(100, "application/json"), async () => "read")).resolves.toBe("read");
  });
});
