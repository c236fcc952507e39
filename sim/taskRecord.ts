/**
 * A simulated task as the lifecycle (tasks.ts), the result maker (results.ts) and the callback
 * sender (callbacks.ts) share it: recordInfo's `data` field for field as kie-api.md shows it, plus
 * what the simulator keeps beside it.
 */
import type { PromptDirectives } from "./directives";
import type { NormalizedTaskInput } from "./models";

export type KieTaskState = "waiting" | "queuing" | "generating" | "success" | "fail";

/** `data` of recordInfo, field for field as kie-api.md shows it. */
export interface KieRecordData {
  taskId: string;
  model: string;
  state: KieTaskState;
  /** The createTask body, JSON-encoded. */
  param: string;
  /** `{"resultUrls":[…]}` JSON-encoded on success; "" before and on failure. */
  resultJson: string;
  failCode: string;
  failMsg: string;
  costTime: number | null;
  completeTime: number | null;
  createTime: number;
  updateTime: number;
  creditsConsumed?: number;
}

export interface KieSimLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** How a task ends. */
export interface FinalOutcome {
  state: "success" | "fail";
  resultUrl?: string;
  failCode?: string;
  failMsg?: string;
}

export interface SimTask {
  record: KieRecordData;
  /** recordInfo answers "recordInfo is null" until this time (epoch ms). */
  visibleAt: number;
  callBackUrl?: string;
  directives: PromptDirectives;
  input: NormalizedTaskInput;
  resultUrl?: string;
  callbacksSent: number;
}

export const FAIL_DEFAULT_MESSAGE = "Simulated generation failure ([sim:fail])";
